package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/internal/nodetest"
)

// TestClusterSocketIORecoveryMoves: the npm socket.io-client, in rooms r1
// and r2 on node a, moves to node b with connection state recovery
// (sio-move.mjs). kill: node a is killed with SIGKILL; term: node a is
// stopped with SIGTERM (it drains); drop: the client's connection drops
// while node a lives on. Publications made meanwhile,
// through node b and (drop) node a, are replayed on node b; the client
// comes back recovered, with the same id and its rooms (later publications
// reach it), and has every publication once, in order. After a drop,
// node a cannot also recover the socket: a client there with the same pid
// and offset gets a new socket. On WebSocket and on polling.
func TestClusterSocketIORecoveryMoves(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ mode, transport string }{
		{"kill", "websocket"}, {"drop", "websocket"}, {"term", "websocket"},
		{"kill", "polling"}, {"drop", "polling"},
	} {
		mode := tc.mode
		t.Run(mode+"-"+tc.transport, func(t *testing.T) {
			ns := natstest.Start(t)
			a := startC1M(t, "-nats", ns.URL(), "-node-id", "a", "-drain-spread", "100ms")
			b := startC1M(t, "-nats", ns.URL(), "-node-id", "b")
			conv := nodetest.Converse(t, "../..", "sio-move.mjs", a.clientURL(), b.clientURL(), mode, tc.transport)
			ready := conv.Until(t, "ready")
			pid, _ := ready["pid"].(string)
			// Node a files the socket's record as the client joins; a
			// killed node writes nothing more, so it must be there now.
			waitRecord(t, ns.URL(), pid, `"rooms":["r1","r2"]`)
			var want []string
			pub := func(in *instance, topic, body string) {
				in.post(t, "/api/publish?topic="+topic, body)
				want = append(want, body)
			}
			pub(b, "r1", "a1")
			pub(a, "r2", "a2")
			conv.Say(t, map[string]any{"ev": "published"})
			conv.Until(t, "received")
			switch mode {
			case "kill":
				if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			case "term":
				if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			conv.Until(t, "dropped")
			pub(b, "r2", "b1")
			b.post(t, "/api/publish?topic=elsewhere", "not a room of it")
			if mode == "drop" {
				pub(a, "r1", "b2")
			}
			pub(b, "r1", "b3")
			conv.Say(t, map[string]any{"ev": "published"})
			rec := conv.Until(t, "recovered")
			if mode == "drop" {
				auth, _ := json.Marshal(map[string]any{"pid": rec["pid"], "offset": rec["offset"]})
				c := a.sioDial(t, "/socket.io/", string(auth))
				answer := sioRead(t, c)
				if !strings.HasPrefix(answer, `40{"sid":"`) || strings.Contains(answer, rec["id"].(string)) || strings.Contains(answer, pid) {
					t.Fatalf("node a answers %q to the same pid: want a new socket (the record was taken by b)", answer)
				}
			}
			pub(b, "r2", "c1")
			pub(b, "r1", "c2")
			conv.Say(t, map[string]any{"ev": "published", "expect": want})
			t.Logf("%v", conv.Until(t, "done"))
		})
	}
}

// waitRecord waits until the cluster's Socket.IO recovery bucket holds a
// record for pid that contains has.
func waitRecord(t *testing.T, url, pid, has string) {
	t.Helper()
	js := recoveryJS(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a hang guard
	defer cancel()
	var got []byte
	for ctx.Err() == nil {
		if got = readRecord(ctx, js, pid); bytes.Contains(got, []byte(has)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("record of %s: %q, want one with %s", pid, got, has)
}

// recoveryJS connects to the NATS server at url for the test's own reads
// of the recovery bucket, until the test ends.
func recoveryJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Connect(t, url)
	return js
}

// readRecord returns the record filed under pid in the cluster's Socket.IO
// recovery bucket, as filed (flag, node, record); nil when there is none
// or no bucket yet.
func readRecord(ctx context.Context, js jetstream.JetStream, pid string) []byte {
	kv, err := js.KeyValue(ctx, "C1M_SIO")
	if err != nil {
		return nil
	}
	e, err := kv.Get(ctx, pid)
	if err != nil {
		return nil
	}
	return e.Value()
}
