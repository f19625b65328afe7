package interop

import (
	"encoding/json"
	"os"
	"testing"
)

// A second Socket.IO client, independent of the npm one: Debian's
// python3-socketio (socketio.Client), python/sio_client.py, against the
// suite's server and in a room, over each transport.

// pythonBatch is how many room publications the test makes before it
// waits for the Python client to have them: python-engineio 4.3.4 drops a
// polling connection whose response carries more than 16 packets
// (Payload.max_decode_packets), as the reference server's do when
// publications come faster than the client polls.
const pythonBatch = 10

// debianPython is Debian's interpreter, which sees Debian's modules (a
// pyenv python3 first on PATH does not).
const debianPython = "/usr/bin/python3"

// talkPython starts python/sio_client.py with args as a conversation
// (the same line protocol as the Node scripts, node/harness.mjs).
func talkPython(t *testing.T, args ...string) *conversation {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s missing: `make test-deps` (scripts/test-deps.sh) installs python3-socketio", debianPython)
	}
	return converse(t, debianPython, append([]string{"python/sio_client.py"}, args...)...)
}

// TestPythonSocketIO: python3-socketio against the suite's server (auth
// payload, events, binary, ack) and in a room of a server with rooms
// (token accepted, the 200 publications from the backend API, each once;
// in order is the npm client's test: python-engineio hands each message
// to its handler on a thread of its own).
func TestPythonSocketIO(t *testing.T) {
	t.Parallel()
	t.Run("suite", func(t *testing.T) {
		t.Parallel()
		cases := []string{"auth", "event", "binary", "ack", "client-disconnect"}
		forEachTarget(t, sioTargets{
			"reference": func(t *testing.T) sioServer {
				return startReference(t, append([]string{sioSuite}, clientHeartbeat...)...)
			},
			"c1m": func(t *testing.T) sioServer {
				return startExample(t, append([]string{sioSuite}, clientHeartbeat...)...)
			},
		}, func(t *testing.T, srv sioServer, transport string, used []any) {
			checkReport(t, finished(talkPython(t, "suite", srv.base, transport)), cases, used)
		})
	})
	t.Run("rooms", func(t *testing.T) {
		t.Parallel()
		forEachTarget(t, sioTargets{
			"reference": func(t *testing.T) sioServer { return startReference(t, sioRooms, "-token", sioToken) },
			"c1m":       startC1mRooms,
		}, func(t *testing.T, srv sioServer, transport string, used []any) {
			room := "py-" + transport
			token := sioToken
			if srv.name == "c1m" {
				token = c1mToken(t, "bob")
			}
			plan, err := json.Marshal(map[string]any{"token": token, "subscribe": []any{"subscribe", room}, "n": httpPublications, "batch": pythonBatch})
			if err != nil {
				t.Fatal(err)
			}
			c := talkPython(t, "rooms", srv.base, transport, string(plan))
			c.expect("subscribed")
			for i := 1; i <= httpPublications; i += pythonBatch {
				if i > 1 {
					c.expect("batch")
				}
				publishRoom(t, srv, room, i, min(i+pythonBatch-1, httpPublications))
			}
			r := finished(c)
			checkReport(t, r, []string{"auth-accepted", "room/200", "client-disconnect"}, used)
			t.Logf("python-engineio's handler threads saw %v of the %d in a different order", r["handlerInversions"], httpPublications)
		})
	})
}
