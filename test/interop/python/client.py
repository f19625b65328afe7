"""Python websockets against c1m's echo server.

Runs under Debian's interpreter (/usr/bin/python3) with Debian's
python3-websockets: 10.4 on Debian 12, whose websockets.connect is the
legacy client; from 14 on it is the new asyncio client. Only calls common
to both are used, and the two spots that differ are marked.

The Go test (clients_test.go) owns the plan and passes it as JSON: message
sizes around the framing boundaries, how many messages to pipeline, the
close code. The plan runs once without and once with permessage-deflate;
every echo is checked byte for byte, and the JSON report names each case
verified, which the Go test compares with the plan. Exits non-zero on any
mismatch.

    /usr/bin/python3 client.py ws://127.0.0.1:PORT/ '{"sizes":[0],"pipelined":16,"closeCode":4001}'
"""
import asyncio
import json
import random
import sys

try:
    import websockets
except ImportError as e:
    print(json.dumps({"ok": False, "error": f"{e}: scripts/test-deps.sh installs python3-websockets"}))
    sys.exit(1)

VERSION = tuple(int(x) for x in websockets.__version__.split(".")[:2])
# Bounds the whole run below the Go test's own deadline.
DEADLINE_S = 60
# Varied payloads: a constant fill would hide reordered or duplicated
# chunks. Text mixes 1- to 4-byte UTF-8 sequences; sizes are in bytes.
ALPHABET = ["a", "b", "z", " ", "é", "ж", "€", "✓", "😀"]
rng = random.Random(6455)


def text_of(size):
    out, left = [], size
    while left > 0:
        c = rng.choice(ALPHABET)
        if len(c.encode()) > left:
            c = "x"
        out.append(c)
        left -= len(c.encode())
    return "".join(out)


def bytes_of(size):
    return rng.randbytes(size)


class Mismatch(Exception):
    pass


def check(ok, what):
    if not ok:
        raise Mismatch(what)


async def expect_echo(ws, sent, name):
    got = await ws.recv()
    check(type(got) is type(sent), f"{name}: echo is {type(got).__name__}, sent {type(sent).__name__}")
    check(got == sent, f"{name}: echo differs (len {len(got)}, sent len {len(sent)})")


def extensions(ws):
    # Legacy client (<14): response_headers; new client: response.headers.
    headers = getattr(ws, "response_headers", None) or ws.response.headers
    return headers.get("Sec-WebSocket-Extensions", "")


async def run(url, plan, deflate, texts, blobs):
    kwargs = {}
    if VERSION >= (15, 0):
        kwargs["proxy"] = None  # 15+ would honour *_proxy even for loopback
    async with websockets.connect(
        url, compression="deflate" if deflate else None, max_size=32 << 20, open_timeout=10, **kwargs
    ) as ws:
        cases = []
        for size in plan["sizes"]:
            await ws.send(texts[size])
            await expect_echo(ws, texts[size], f"text/{size}")
            cases.append(f"text/{size}")
            await ws.send(blobs[size])
            await expect_echo(ws, blobs[size], f"binary/{size}")
            cases.append(f"binary/{size}")

        # Many messages in flight at once: the echoes come back in order.
        name = f"pipelined/{plan['pipelined']}"
        burst = [bytes_of(i * 100) if i % 2 else text_of(i * 100) for i in range(plan["pipelined"])]
        for m in burst:
            await ws.send(m)
        for m in burst:
            await expect_echo(ws, m, name)
        cases.append(name)

        # An iterable is sent as one message in several frames.
        parts = [text_of(10), text_of(200), text_of(70_000)]
        await ws.send(parts)
        await expect_echo(ws, "".join(parts), "fragmented/text")
        cases.append("fragmented/text")
        chunks = [bytes_of(70_000), bytes_of(1), bytes_of(70_000)]
        await ws.send(chunks)
        await expect_echo(ws, b"".join(chunks), "fragmented/binary")
        cases.append("fragmented/binary")

        # The waiter resolves only on a pong with this exact payload.
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        cases.append("ping")

        negotiated = extensions(ws)
        await ws.close(code=plan["closeCode"], reason="bye")
        # close_code is the code of the close frame received from the server.
        check(ws.close_code == plan["closeCode"], f"close code {ws.close_code}")
        cases.append(f"close/{plan['closeCode']}")
        return {"deflate": deflate, "extensions": negotiated, "cases": cases, "closeCode": ws.close_code}


async def main(url, plan):
    texts = {n: text_of(n) for n in plan["sizes"]}
    blobs = {n: bytes_of(n) for n in plan["sizes"]}
    return [await run(url, plan, False, texts, blobs), await run(url, plan, True, texts, blobs)]


if __name__ == "__main__":
    client = f"python {sys.version.split()[0]} websockets {websockets.__version__}"
    try:
        url, plan = sys.argv[1], json.loads(sys.argv[2])
        runs = asyncio.run(asyncio.wait_for(main(url, plan), DEADLINE_S))
    except Exception as e:  # report, then fail
        print(json.dumps({"ok": False, "client": client, "error": repr(e)}))
        sys.exit(1)
    print(json.dumps({"ok": True, "client": client, "runs": runs}))
