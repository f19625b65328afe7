package interop

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// The Socket.IO rows of TestSocketIOConformance, on the suite's server:
// "/" and "/custom" emit auth with the CONNECT payload; on "/", message is
// answered by message-back and message-with-ack acks with its arguments.

var socketIOConnectCases = []wireCase{
	{name: "connect/main", from: sioSuiteName, run: func(w *wire) {
		sioConnect(w, true, "40")
	}},
	{name: "connect/main/payload", from: sioSuiteName, run: func(w *wire) {
		sioConnect(w, true, `40{"token":"123"}`)
	}},
	{name: "connect/custom", from: sioSuiteName, run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.send("40/custom,")
		sioConnected(w, ws, "/custom", "")
	}},
	{name: "connect/custom/payload", from: sioSuiteName, run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.send(`40/custom,{"token":"abc"}`)
		sioConnected(w, ws, "/custom", `{"token":"abc"}`)
	}},
	{name: "connect/custom/no-comma", from: sioDoc + " (a namespace may end the packet)", run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.send("40/custom")
		sioConnected(w, ws, "/custom", "")
	}},
	{name: "connect/unknown-namespace", from: sioSuiteName, run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.send("40/random")
		ws.expect(`44/random,{"message":"Invalid namespace"}`)
		// The session stays: the main namespace still connects.
		ws.send("40")
		sioConnected(w, ws, "", "")
	}},
	{name: "connect/invalid-handshake", from: sioSuiteName, run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.send("4abc")
		ws.expectClosed()
	}},
	{name: "connect/timeout", from: sioSuiteName + " (connectTimeout 1 s)", run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.expectClosed()
	}},
	{name: "connect/payload-not-object", from: sioParser + " (CONNECT carries an object)", run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.send(`40"token"`)
		ws.expectClosed()
	}},
	{name: "connect/payload-array", from: sioParser, run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.send(`40["token"]`)
		ws.expectClosed()
	}},
	{name: "connect/payload-bad-json", from: sioParser, run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.send(`40{"token":`)
		ws.expectClosed()
	}},
	{name: "connect/twice", from: sioDoc, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send("40")
		ws.expectClosed()
	}},
	{name: "disconnect/main", from: sioSuiteName, run: func(w *wire) {
		ws := sioConnect(w, false, "40")
		ws.send("41")
		// The Engine.IO session stays: the next packet is a ping.
		ws.expect("2")
	}},
	{name: "disconnect/custom", from: sioSuiteName, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send("40/custom")
		sioConnected(w, ws, "/custom", "")
		ws.send("41/custom", `42["message","message to main namespace"]`)
		ws.expect(`42["message-back","message to main namespace"]`)
	}},
	{name: "disconnect/with-payload", from: sioParser + " (DISCONNECT carries nothing)", run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send("41{}")
		ws.expectClosed()
	}},
}

var socketIOMessageCases = []wireCase{
	{name: "message/plain", from: sioSuiteName, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`42["message",1,"2",{"3":[true]}]`)
		ws.expect(`42["message-back",1,"2",{"3":[true]}]`)
	}},
	{name: "message/binary", from: sioSuiteName, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		ws.sendBinary(1, 2, 3)
		ws.sendBinary(4, 5, 6)
		ws.expect(`452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, []byte{1, 2, 3}, []byte{4, 5, 6})
	}},
	{name: "message/ack", from: sioSuiteName, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`42456["message-with-ack",1,"2",{"3":[false]}]`)
		ws.expect(`43456[1,"2",{"3":[false]}]`)
	}},
	{name: "message/binary-ack", from: sioSuiteName, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		ws.sendBinary(1, 2, 3)
		ws.sendBinary(4, 5, 6)
		ws.expect(`462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, []byte{1, 2, 3}, []byte{4, 5, 6})
	}},
	{name: "message/utf8", from: sioDoc, note: "the reference sends U+2028 raw, c1m (Go's encoding/json) as \\u2028: the same JSON string, so the arguments are compared as JSON values", run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`42["message","héllo €亜Б 😀","\u2028"]`)
		f := ws.next("message-back")
		var got []any
		if body, ok := strings.CutPrefix(f.data, "42"); !ok || f.binary || json.Unmarshal([]byte(body), &got) != nil ||
			!reflect.DeepEqual(got, []any{"message-back", "héllo €亜Б 😀", "\u2028"}) {
			w.t.Fatalf("%s: got %s, want 42[\"message-back\",\"héllo €亜Б 😀\",\"\\u2028\"]", w.srv.name, f)
		}
	}},
	{name: "message/numeric-event-name", from: sioParser + " (an event name may be a number)", run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`42[1,"x"]`, `42["message","after"]`)
		ws.expect(`42["message-back","after"]`)
	}},
	{name: "message/namespace-not-connected", from: sioDoc, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`42/custom,["message","x"]`)
		ws.expectClosed()
	}},
	{name: "message/unknown-ack-id", from: sioDoc, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`43999["x"]`, `42["message","after"]`)
		ws.expect(`42["message-back","after"]`)
	}},
	{name: "message/connect-error-from-client", from: sioDoc + " (CONNECT_ERROR goes server to client)", run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`44{"message":"x"}`)
		ws.expectClosed()
	}},
}

var socketIOMalformedCases = []wireCase{
	{name: "malformed/unknown-packet-type", from: sioSuiteName, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send("4abc")
		ws.expectClosed()
	}},
	{name: "malformed/packet-type-7", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`47["x"]`)
		ws.expectClosed()
	}},
	{name: "malformed/event-payload-object", from: sioSuiteName, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send("42{}")
		ws.expectClosed()
	}},
	{name: "malformed/event-bad-ack-id", from: sioSuiteName, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`42abc["message-with-ack",1,"2",{"3":[false]}]`)
		ws.expectClosed()
	}},
	{name: "malformed/event-empty-array", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send("42[]")
		ws.expectClosed()
	}},
	{name: "malformed/event-no-payload", from: sioParser, note: "the reference's parser checks a payload only when there is one: an EVENT without one is an event with no name, which no handler gets", run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send("42", `42["message","after"]`)
		ws.expect(`42["message-back","after"]`)
	}},
	{name: "malformed/event-reserved-name", from: sioParser + " (reserved event names)", run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`42["disconnect"]`)
		ws.expectClosed()
	}},
	{name: "malformed/event-name-not-string", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`42[{"a":1}]`)
		ws.expectClosed()
	}},
	{name: "malformed/event-bad-json", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`42["message",`)
		ws.expectClosed()
	}},
	{name: "malformed/ack-payload-object", from: sioParser + " (ACK carries an array)", run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`431{}`)
		ws.expectClosed()
	}},
	{name: "malformed/binary-without-count", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`45-["message",{"_placeholder":true,"num":0}]`)
		ws.expectClosed()
	}},
	{name: "malformed/binary-zero-attachments", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`450-["message"]`)
		ws.expectClosed()
	}},
	{name: "malformed/binary-no-dash", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`451["message",{"_placeholder":true,"num":0}]`)
		ws.expectClosed()
	}},
	{name: "malformed/binary-too-many-attachments", from: sioParser + " (maxAttachments 10)", run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`4511-["message",{"_placeholder":true,"num":0}]`)
		ws.expectClosed()
	}},
	{name: "malformed/binary-ten-attachments", from: sioParser + " (maxAttachments 10)", run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		var ph []string
		for i := range 10 {
			ph = append(ph, fmt.Sprintf(`{"_placeholder":true,"num":%d}`, i))
		}
		ws.send(`4510-["message",` + strings.Join(ph, ",") + `]`)
		want := []any{`4510-["message-back",` + strings.Join(ph, ",") + `]`}
		for i := range 10 {
			ws.sendBinary(byte(i))
			want = append(want, []byte{byte(i)})
		}
		ws.expect(want...)
	}},
	{name: "malformed/text-instead-of-attachment", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`451-["message",{"_placeholder":true,"num":0}]`, `42["message","x"]`)
		ws.expectClosed()
	}},
	{name: "malformed/attachment-without-packet", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.sendBinary(1, 2, 3)
		ws.expectClosed()
	}},
	{name: "malformed/placeholder-out-of-range", from: sioParser, run: func(w *wire) {
		ws := sioConnect(w, true, "40")
		ws.send(`451-["message",{"_placeholder":true,"num":5}]`)
		ws.sendBinary(1)
		ws.expectClosed()
	}},
	{name: "malformed/event-before-connect", from: sioDoc, run: func(w *wire) {
		ws := w.ws("EIO=4&transport=websocket", true)
		ws.next("the open packet")
		ws.send(`42["message","x"]`)
		ws.expectClosed()
	}},
}
