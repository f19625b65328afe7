"""Python websockets (Debian's python3-websockets) against c1m's echo server.

Sizes around the framing boundaries, text and binary, with and without
permessage-deflate, a fragmented message, ping/pong and the close
handshake. Prints a JSON summary; exits non-zero on any mismatch.
"""
import asyncio
import json
import sys

import websockets


async def run(url, compression):
    async with websockets.connect(url, compression=compression, max_size=32 << 20) as ws:
        checks = 0
        for size in (0, 125, 126, 65535, 65536, 1 << 20):
            text = "é" * (size // 2) + "x" * (size % 2)
            await ws.send(text)
            got = await ws.recv()
            assert isinstance(got, str) and got == text, f"text {size} mismatch"
            data = bytes([0xAB]) * size
            await ws.send(data)
            got = await ws.recv()
            assert isinstance(got, bytes) and got == data, f"binary {size} mismatch"
            checks += 2
        # An iterable is sent as one message in several frames.
        await ws.send(["frag-", "ment-", "ed"])
        got = await ws.recv()
        assert got == "frag-ment-ed", f"fragmented mismatch: {got!r}"
        checks += 1
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        checks += 1
        negotiated = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        await ws.close(code=4001, reason="bye")
        assert ws.close_code == 4001, f"close code {ws.close_code}"
        checks += 1
        return {"compression": compression, "negotiated": negotiated, "checks": checks}


async def main(url):
    results = [await run(url, None), await run(url, "deflate")]
    assert "permessage-deflate" in results[1]["negotiated"], "deflate not negotiated"
    return results


if __name__ == "__main__":
    try:
        results = asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))
    except Exception as e:  # report, then fail
        print(json.dumps({"ok": False, "error": repr(e)}))
        sys.exit(1)
    print(json.dumps({"ok": True, "websockets": websockets.__version__, "results": results}))
