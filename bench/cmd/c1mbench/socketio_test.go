package main

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// TestSocketIOEvents: a room event's payload is found as a string
// argument (the peers, c1m's "message" event, with or without the
// recovery offset c1m appends), in an object's data or data_b64, or in a
// binary attachment; an event without one is counted undecoded, and an
// ack is not a publication.
func TestSocketIOEvents(t *testing.T) {
	t.Parallel()
	p := make([]byte, 40)
	encodeText(p, 7, kindSingle)
	b64 := base64.StdEncoding.EncodeToString(p)
	h := dialectHandler(dialectSocketIO)
	c := &loadgen.Conn{}
	for _, pk := range []loadgen.Packet{
		{Type: loadgen.SIOEvent, Data: []byte(`["message","` + string(p) + `"]`)},
		{Type: loadgen.SIOEvent, Data: []byte(`["message","` + string(p) + `","t~E~12"]`)},
		{Type: loadgen.SIOEvent, Data: []byte(`["message","not ours","` + string(p) + `"]`)},
		{Type: loadgen.SIOEvent, Data: []byte(`["message",{"topic":"t","data":"` + string(p) + `"}]`)},
		{Type: loadgen.SIOEvent, Data: []byte(`["message",{"data_b64":"` + b64 + `"}]`)},
		{Type: loadgen.SIOBinaryEvent, Data: []byte(`["message",{"_placeholder":true,"num":0}]`), Attachments: 1, Binary: [][]byte{p}},
		{Type: loadgen.SIOEvent, Data: []byte(`["message","hello",3,{"x":1}]`)},                                        // undecoded
		{Type: loadgen.SIOBinaryEvent, Data: []byte(`["message",{"_placeholder":true,"num":1}]`), Binary: [][]byte{p}}, // no attachment 1
		{Type: loadgen.SIOAck, ID: 5, Data: []byte(`["` + string(p) + `"]`)},
	} {
		h.Packet(c, &pk)
	}
	if h.received != 6 || h.undecoded != 2 {
		t.Fatalf("received %d undecoded %d, want 6 2", h.received, h.undecoded)
	}
}

// TestSocketIONodePeer runs sio-hold and sio-fanout through the driver
// and its worker processes against the official Node socket.io peer as
// the bench starts it: every client joins, every publication reaches
// every client once, as a room event; a join whose ack is not the one
// expected fails.
func TestSocketIONodePeer(t *testing.T) {
	t.Parallel()
	s := socketioNode()
	if err := s.build(""); err != nil {
		t.Fatal(err)
	}
	p, err := start(s, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	tg := target{name: s.name, ws: p.ws, api: p.api, endpoints: s.endpoints, topic: s.topic, publish: s.publish, stats: s.stats, pid: p.cmd.Process.Pid}
	const n, pubs, bursts, burst = 100, 3, 1, 5
	r := testRun(t, func(o *options) {
		o.workers, o.perWorker = 2, n/2
		o.pubs, o.bursts, o.burst = pubs, bursts, burst
		o.deliverTimeout = 10 * time.Second // a hang guard
	})
	hold, err := r.measure(tg, "sio-hold", n)
	if err != nil {
		t.Fatal(err)
	}
	if hold.Conns != n || hold.Errors != 0 || hold.RSSPerConn <= 0 || hold.HeapPerConn <= 0 {
		t.Fatalf("sio-hold: conns %d errors %d rss/conn %.0f heap/conn %.0f", hold.Conns, hold.Errors, hold.RSSPerConn, hold.HeapPerConn)
	}
	row, err := r.measure(tg, "sio-fanout", n)
	if err != nil {
		t.Fatal(err)
	}
	const total = pubs + bursts*burst
	if row.Conns != n || row.Expected != n*total || row.Received != n*total || row.LossyClients != 0 || row.Undecoded != 0 || row.DeliveryTimeouts != 0 {
		t.Fatalf("sio-fanout: conns %d received %d/%d lossy %d undecoded %d timeouts %d",
			row.Conns, row.Received, row.Expected, row.LossyClients, row.Undecoded, row.DeliveryTimeouts)
	}
	if row.DeliveriesPerSec <= 0 || row.P99 <= 0 {
		t.Fatalf("sio-fanout: %v deliveries/s, p99 %v ms", row.DeliveriesPerSec, row.P99)
	}

	// A join acked with other arguments (c1m's refusal reason) fails the
	// client.
	tg.endpoints = map[string]endpoint{"sio": {path: sioPath, dialect: dialectSocketIO, join: `["join","t"]`, joinAck: `[null]`}}
	refused, err := r.measure(tg, "sio-hold", 10)
	if err == nil || refused.Conns != 0 || refused.Errors != 10 {
		t.Fatalf("joins acked with another answer: conns %d errors %d, err %v; want 0 conns, 10 errors", refused.Conns, refused.Errors, err)
	}
}

// TestSocketIOTargets: the socket.io block's ratios and issue 9's targets
// come from the sio rows of c1m and the Node server, and say met or not.
func TestSocketIOTargets(t *testing.T) {
	t.Parallel()
	rows := func(c1mRSS, c1mRate float64) []Row {
		return []Row{
			{Server: "c1m", Scenario: "hold", Transport: "ws", Conns: 19000, RSSPerConn: 800},
			{Server: "c1m", Scenario: "sio-hold", Transport: "sio", Conns: 19000, RSSPerConn: c1mRSS},
			{Server: "c1m", Scenario: "sio-fanout", Transport: "sio", Conns: 19000, DeliveriesPerSec: c1mRate, Received: 2_000_000, ServerCPU: 5},
			{Server: "socketio-node", Scenario: "sio-hold", Transport: "sio", Conns: 19000, RSSPerConn: 15000},
			{Server: "socketio-node", Scenario: "sio-fanout", Transport: "sio", Conns: 19000, DeliveriesPerSec: 20000, Received: 1_000_000, ServerCPU: 30},
			{Server: "socketio-go", Scenario: "sio-hold", Transport: "sio", Conns: 19000, RSSPerConn: 45000},
		}
	}
	r := &benchRun{rows: rows(1400, 110000)}
	ss := r.socketio()
	if len(ss) != 3 || ss[0].Server != "c1m" || ss[1].RSSOverC1m != 15000.0/1400 || ss[1].C1mOverFanout != 5.5 || ss[0].CPUPerDelivery != 2.5 || ss[1].CPUPerDelivery != 30 {
		t.Fatalf("summary %+v", ss)
	}
	if len(r.transports()) != 0 {
		t.Fatalf("sio rows in the transports block: %+v", r.transports())
	}
	tg := r.socketioTargets()
	if len(tg) != 2 || !tg[0].Met || tg[0].Value != 1400.0/15000 || !tg[1].Met || tg[1].Value != 5.5 {
		t.Fatalf("targets %+v", tg)
	}
	tg = (&benchRun{rows: rows(2052, 41890)}).targets()
	if len(tg) != 2 || tg[0].Met || tg[1].Met {
		t.Fatalf("targets %+v, want two not met", tg)
	}
	if tg := (&benchRun{rows: rows(2052, 41890)[:3]}).targets(); len(tg) != 0 {
		t.Fatalf("targets without the Node server: %+v", tg)
	}
}
