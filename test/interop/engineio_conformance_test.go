package interop

import (
	"net/http"
	"strings"
	"testing"
)

// TestEngineIOConformance replays, byte for byte, every case of the
// official engine.io-protocol v4 test suite and every malformed request
// or packet that the protocol document names, against the reference
// engine.io server and against examples/socketio -engineio-echo: both
// must give the reference's answer, and a well-behaved session open
// beside each case must still work after it.
func TestEngineIOConformance(t *testing.T) {
	t.Parallel()
	runWireTable(t, "/engine.io/", engineIOCases, map[string]func(*testing.T, ...string) sioServer{
		"reference": func(t *testing.T, flags ...string) sioServer { return startReference(t, append(flags, sioEngine)...) },
		"c1m":       func(t *testing.T, flags ...string) sioServer { return startExample(t, append(flags, sioEngine)...) },
	})
}

// Where the cases come from.
const (
	eioSuite = "engine.io-protocol v4 test suite"
	eioDoc   = "engine.io-protocol v4 document"
)

// The reference's error answers (engine.io's Server.errorMessages).
const (
	eioUnknownTransport = `{"code":0,"message":"Transport unknown"}`
	eioUnknownSID       = `{"code":1,"message":"Session ID unknown"}`
	eioBadMethod        = `{"code":2,"message":"Bad handshake method"}`
	eioBadRequest       = `{"code":3,"message":"Bad request"}`
	eioBadVersion       = `{"code":5,"message":"Unsupported protocol version"}`
)

// engineIOCases run on an Engine.IO echo server.
var engineIOCases = append(engineIOHandshakeCases, engineIOSessionCases...)

var engineIOHandshakeCases = []wireCase{
	{name: "handshake/polling", timed: true, from: eioSuite, run: func(w *wire) {
		a := w.get("EIO=4&transport=polling")
		w.is(a, http.StatusOK, anyBody)
		w.checkOpen(a.body, []string{"websocket"})
		if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			w.t.Errorf("%s: handshake Content-Type %q, want text/plain", w.srv.name, ct)
		}
	}},
	{name: "handshake/polling/no-EIO", from: eioSuite, run: func(w *wire) {
		w.is(w.get("transport=polling"), http.StatusBadRequest, eioBadVersion)
	}},
	{name: "handshake/polling/EIO=abc", from: eioSuite, run: func(w *wire) {
		w.is(w.get("EIO=abc&transport=polling"), http.StatusBadRequest, eioBadVersion)
	}},
	{name: "handshake/polling/EIO=3", from: eioDoc + " (v3 clients are refused)", run: func(w *wire) {
		w.is(w.get("EIO=3&transport=polling"), http.StatusBadRequest, eioBadVersion)
	}},
	{name: "handshake/polling/EIO=5", from: eioDoc, run: func(w *wire) {
		w.is(w.get("EIO=5&transport=polling"), http.StatusBadRequest, eioBadVersion)
	}},
	{name: "handshake/polling/no-transport", from: eioSuite, run: func(w *wire) {
		w.is(w.get("EIO=4"), http.StatusBadRequest, eioUnknownTransport)
	}},
	{name: "handshake/polling/transport=abc", from: eioSuite, run: func(w *wire) {
		w.is(w.get("EIO=4&transport=abc"), http.StatusBadRequest, eioUnknownTransport)
	}},
	{name: "handshake/polling/POST", from: eioSuite, run: func(w *wire) {
		w.is(w.do(http.MethodPost, "EIO=4&transport=polling", "4hello"), http.StatusBadRequest, eioBadMethod)
	}},
	{name: "handshake/polling/PUT", from: eioSuite, run: func(w *wire) {
		w.is(w.do(http.MethodPut, "EIO=4&transport=polling", ""), http.StatusBadRequest, eioBadMethod)
	}},
	{name: "handshake/websocket", timed: true, from: eioSuite, run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		w.checkOpen(ws.next("the open packet").data, []string{})
	}},
	{name: "handshake/websocket/no-EIO", from: eioSuite, run: func(w *wire) {
		wsEnded(w, "transport=websocket", "Unsupported protocol version")
	}},
	{name: "handshake/websocket/EIO=abc", from: eioSuite, run: func(w *wire) {
		wsEnded(w, "EIO=abc&transport=websocket", "Unsupported protocol version")
	}},
	{name: "handshake/websocket/EIO=3", from: eioDoc, run: func(w *wire) {
		wsEnded(w, "EIO=3&transport=websocket", "Unsupported protocol version")
	}},
	{name: "handshake/websocket/no-transport", from: eioSuite, run: func(w *wire) {
		wsRefused(w, "EIO=4", "Transport unknown")
	}},
	{name: "handshake/websocket/transport=abc", from: eioSuite, run: func(w *wire) {
		wsRefused(w, "EIO=4&transport=abc", "Transport unknown")
	}},
	{name: "unknown-sid/GET", from: eioDoc, run: func(w *wire) {
		w.is(w.poll("nosuchsession"), http.StatusBadRequest, eioUnknownSID)
	}},
	{name: "unknown-sid/POST", from: eioDoc, run: func(w *wire) {
		w.is(w.push("nosuchsession", "4hello"), http.StatusBadRequest, eioUnknownSID)
	}},
	{name: "unknown-sid/websocket", from: eioDoc, run: func(w *wire) {
		wsRefused(w, "EIO=4&transport=websocket&sid=nosuchsession", "Session ID unknown")
	}},
}

// wsRefused checks that a WebSocket handshake with query is refused with
// 400 and body.
func wsRefused(w *wire, query, body string) {
	w.t.Helper()
	ws, a, err := w.dial(query, false)
	if err == nil {
		ws.c.Close()
		w.t.Fatalf("%s: WebSocket ?%s was accepted, want 400 %s", w.srv.name, query, body)
	}
	w.is(a, http.StatusBadRequest, body)
}

// wsEnded checks that a WebSocket with query gets no Engine.IO session:
// refused with 400 and a body that says msg, or closed before any packet.
// The reference does the latter for a bad EIO: it completes the handshake
// (101), then writes its HTTP 400 answer ("Unsupported protocol version")
// into the WebSocket stream and closes, which no client can read as a
// frame. The protocol document asks only that the server close the
// WebSocket; a plain 400 says the same, readably.
func wsEnded(w *wire, query, msg string) {
	w.t.Helper()
	ws, a, err := w.dial(query, false)
	if err != nil {
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, msg) {
			w.t.Fatalf("%s: %s, want 400 saying %q, or the WebSocket closed", w.srv.name, a, msg)
		}
		return
	}
	err = ws.expectClosed()
	w.t.Logf("%s: WebSocket ?%s accepted, then closed before any packet: %v", w.srv.name, query, err)
}
