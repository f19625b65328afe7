"""Debian's python3-socketio (socketio.Client), a second Socket.IO client
independent of the npm one, against c1m and the reference servers.

Runs under Debian's interpreter (/usr/bin/python3), which sees Debian's
python3-socketio 5.x (python3-engineio 4.x, with python3-requests for
polling and python3-websocket for WebSocket). Talks with the Go test
(socketio_python_test.go) one JSON object per line each way, as the Node
scripts do (node/harness.mjs); the last line is the report.

    /usr/bin/python3 sio_client.py suite URL TRANSPORT
        connect with an auth payload and get it back in the auth event;
        emit message (message-back) and message-with-ack (the ack), with
        binary too, over TRANSPORT: polling, websocket or upgrade.
    /usr/bin/python3 sio_client.py rooms URL TRANSPORT PLAN_JSON
        PLAN_JSON is {"token", "subscribe": [EVENT, ARGS...], "n", "batch"}:
        connect with {"token": ...}, emit the subscribe event and wait for
        its ack, say "subscribed"; the test publishes 1..n to the room, a
        batch at a time (the script says "batch" when it has one), which
        must arrive as "message" events, each once.

python-engineio 4.3.4 drops the connection ("Unexpected packet from
server, aborting") when a polling response carries more than 16 packets
(engineio.payload.Payload.max_decode_packets), which the reference server
sends when publications come faster than the client polls: hence the
batches, of 10.
"""
import json
import sys
import threading

try:
    import socketio
except ImportError as e:
    print(json.dumps({"ev": "done", "ok": False, "error": f"{e}: scripts/test-deps.sh installs python3-socketio"}))
    sys.exit(1)

# Bounds each wait below the Go test's own deadline.
WAIT_S = 60
# SIO_CLIENT_LOG=1 logs the client's traffic to stderr.
LOG = bool(__import__("os").environ.get("SIO_CLIENT_LOG"))
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": ["polling", "websocket"]}


def say(ev, **fields):
    print(json.dumps({"ev": ev, **fields}), flush=True)


def publication(i):
    """Publication i of a room: kept in step with sioPublication in
    socketio_clients_test.go and node/sio-publications.mjs."""
    return f'pub #{i} héllo ✓ 😀 "q" \\ </script> & \u2028'


class Waiter:
    """Values handed over from the client's threads, one at a time."""

    def __init__(self):
        self.cond = threading.Condition()
        self.items = []

    def put(self, v):
        with self.cond:
            self.items.append(v)
            self.cond.notify_all()

    def get(self, what):
        with self.cond:
            if not self.cond.wait_for(lambda: self.items, timeout=WAIT_S):
                raise RuntimeError(f"nothing within {WAIT_S} s while waiting for {what}")
            return self.items.pop(0)


def client():
    sio = socketio.Client(reconnection=False, logger=LOG, engineio_logger=LOG)
    opened = []
    # The transport the Engine.IO session opened with, seen by a wrapper
    # of socketio.Client's own handler of it; an upgrade may follow.
    handler = sio.eio.handlers["connect"]

    def on_open():
        opened.append(sio.eio.transport())
        return handler()

    sio.eio.on("connect", on_open)
    return sio, opened


def settle(sio, opened, transport):
    want = "websocket" if transport == "websocket" else "polling"
    if not opened or opened[0] != want:
        raise RuntimeError(f"opened over {opened}, want {want}")
    if transport == "upgrade":
        for _ in range(WAIT_S * 10):
            if sio.transport() == "websocket":
                break
            sio.sleep(0.1)
    return [opened[0], sio.transport()]


def same(what, got, want):
    if got != want:
        raise RuntimeError(f"{what}: got {got!r}, want {want!r}")


def run_suite(url, transport):
    cases = []
    auth = {"token": "py", "list": [1, "2", True, None]}
    sio, opened = client()
    events = Waiter()
    sio.on("auth", lambda *a: events.put(("auth", list(a))))
    sio.on("message-back", lambda *a: events.put(("message-back", list(a))))
    sio.connect(url, transports=TRANSPORTS[transport], auth=auth, wait_timeout=WAIT_S)
    same("auth event", events.get("auth"), ("auth", [auth]))
    cases.append("auth")
    used = settle(sio, opened, transport)
    args = [1, "2", {"3": [True]}, "héllo €亜Б 😀"]
    sio.emit("message", tuple(args))
    same("message-back", events.get("message-back"), ("message-back", args))
    cases.append("event")
    binary = [b"\x01\x02\x03", {"nested": b"\x04\x05"}]
    sio.emit("message", tuple(binary))
    same("binary message-back", events.get("message-back"), ("message-back", binary))
    cases.append("binary")
    got = sio.call("message-with-ack", tuple(args), timeout=WAIT_S)
    # call returns the ack's single argument, or a tuple of several.
    same("ack", list(got) if isinstance(got, tuple) else [got], args)
    cases.append("ack")
    sio.disconnect()
    cases.append("client-disconnect")
    return {"ok": True, "cases": cases, "transports": used}


def run_rooms(url, transport, plan):
    cases = []
    auth = {"token": plan["token"]} if plan.get("token") else None
    sio, opened = client()
    got = Waiter()
    sio.on("message", lambda text, *rest: got.put(text))
    sio.on("disconnect", lambda *a: got.put(("disconnected", a)))
    sio.connect(url, transports=TRANSPORTS[transport], auth=auth, wait_timeout=WAIT_S)
    if auth:
        cases.append("auth-accepted")
    used = settle(sio, opened, transport)
    event, *args = plan["subscribe"]
    ack = sio.call(event, tuple(args) if len(args) != 1 else args[0], timeout=WAIT_S)
    say("subscribed", ack=ack)
    # python-engineio runs each message handler in a thread of its own
    # (engineio/client.py: _trigger_event('message', ..., run_async=True)),
    # so the handlers may see the room's events out of the order they came
    # in: the check is that each publication comes once, none missing,
    # none extra; the npm client's test checks the order.
    n, batch = plan["n"], plan["batch"]
    want = {publication(i): i for i in range(1, n + 1)}
    seen = []
    for k in range(n):
        if k > 0 and k % batch == 0:
            say("batch", got=k)
        text = got.get(f"publication {k + 1} of {n}")
        if isinstance(text, tuple):
            raise RuntimeError(f"{text[0]} {text[1]} after {k} publications")
        if text not in want:
            raise RuntimeError(f"unexpected message {text!r}")
        if want[text] in seen:
            raise RuntimeError(f"publication {want[text]} twice")
        seen.append(want[text])
    cases.append(f"room/{n}")
    inversions = sum(1 for a, b in zip(seen, seen[1:]) if a > b)
    sio.disconnect()
    cases.append("client-disconnect")
    return {"ok": True, "cases": cases, "transports": used, "got": n, "handlerInversions": inversions}


def main():
    mode, url, transport = sys.argv[1:4]
    from importlib.metadata import version

    client = f"python {sys.version.split()[0]} python-socketio {version('python-socketio')} python-engineio {version('python-engineio')}"
    try:
        if transport not in TRANSPORTS:
            raise RuntimeError(f"transport {transport}: want polling, websocket or upgrade")
        if mode == "suite":
            report = run_suite(url, transport)
        elif mode == "rooms":
            report = run_rooms(url, transport, json.loads(sys.argv[4]))
        else:
            raise RuntimeError(f"unknown mode {mode}")
    except Exception as e:  # the report says what failed
        report = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    say("done", client=client, **report)
    sys.stdout.flush()
    # socketio.Client's threads may linger; the report is out.
    import os
    os._exit(0 if report.get("ok") else 1)


if __name__ == "__main__":
    main()
