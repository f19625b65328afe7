package broker_test

import (
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/internal/natstest"
)

// TestPublishAnyNode: a publication made on one node reaches a subscriber
// on another with the offset the publisher was given, and a client that
// moves from that node to a third resumes there from its position exactly.
func TestPublishAnyNode(t *testing.T) {
	ns := natstest.Start(t)
	a := startNode(t, ns.URL(), "a", nil)
	b := startNode(t, ns.URL(), "b", nil)
	c := startNode(t, ns.URL(), "c", nil)

	ws := dialWS(t, a.addr, q("topic", "news"))
	if e := readEnvelope(t, ws); e.Op != "subscribed" || e.Epoch != a.broker.Epoch() {
		t.Fatalf("first object %+v, want subscribed in epoch %s", e, a.broker.Epoch())
	}
	var offs []uint64
	for i := range 3 {
		off, err := b.srv.Hub().Publish("news", fmt.Appendf(nil, "m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	var last envelope
	for i, off := range offs {
		e := nextPublication(t, ws)
		if e.Offset != off || e.Data != fmt.Sprintf("m%d", i) || e.Epoch != b.broker.Epoch() {
			t.Fatalf("publication %d: %+v, want offset %d", i, e, off)
		}
		last = e
	}
	ws.Close()
	// Two more while the client is away, then it resumes on c from the
	// position it had on a.
	for i := 3; i < 5; i++ {
		if _, err := a.srv.Hub().Publish("news", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	ws2 := dialWS(t, c.addr, q("topic", "news", "since", fmt.Sprint(last.Offset), "epoch", last.Epoch))
	if e := readEnvelope(t, ws2); e.Op != "subscribed" {
		t.Fatalf("resume: %+v", e)
	}
	for i := 3; i < 5; i++ {
		if e := nextPublication(t, ws2); e.Data != fmt.Sprintf("m%d", i) {
			t.Fatalf("resume: publication %+v, want m%d", e, i)
		}
	}
	// A client's publish command, made on b's event loop, reaches the
	// subscriber on c through the bus.
	pub := dialWS(t, b.addr, "")
	if err := pub.WriteMessage(websocket.TextMessage, []byte(`{"op":"publish","topic":"news","data":"by command","id":1}`)); err != nil {
		t.Fatal(err)
	}
	if e := readEnvelope(t, pub); e.Op != "ok" {
		t.Fatalf("publish command answered %+v", e)
	}
	if e := nextPublication(t, ws2); e.Data != "by command" || e.Offset <= last.Offset {
		t.Fatalf("publication by command %+v", e)
	}
}
