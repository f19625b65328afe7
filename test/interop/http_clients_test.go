package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/c1mhq/c1m/server"
)

// Independent clients of the HTTP transports (PROTOCOL.md, "Without
// WebSocket"): the npm eventsource client on /sse, Node's fetch on /stream
// and /poll. Each script talks with its test line by line (node/harness.mjs):
// it says when it is subscribed, the test publishes through the Hub, and
// the script checks every publication (node/publications.mjs).

// httpPublications is how many publications each client must receive in
// order: enough to span many reads, chunks and polls.
const httpPublications = 200

// conversation is a running Node script that talks with its test: lines
// of JSON each way.
type conversation struct {
	t      *testing.T
	stdin  io.WriteCloser
	lines  chan []byte // the script's stdout, line by line; closed at EOF
	stderr *bytes.Buffer
	exited chan struct{}
	ctx    context.Context
}

// talk starts node on script with args, bounded by clientTimeout; cleanup
// kills it if it is still running.
func talk(t *testing.T, script string, args ...string) *conversation {
	t.Helper()
	return converse(t, need(t, "node"), append([]string{script}, args...)...)
}

// converse starts program with args and talks to it line by line over its
// stdin and stdout (the line protocol of node/harness.mjs); the test's
// end kills it if it is still running.
func converse(t *testing.T, program string, args ...string) *conversation {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.WaitDelay = time.Second
	c := &conversation{t: t, lines: make(chan []byte, 16), stderr: new(bytes.Buffer), exited: make(chan struct{}), ctx: ctx}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c.lines <- bytes.Clone(sc.Bytes())
		}
		close(c.lines)
	}()
	go func() { _ = cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		cancel()
		<-c.exited
	})
	return c
}

// event is one line of a script: ev, and whatever else it says.
type event map[string]any

// next reads the script's next line; the end of the output or the
// deadline fail the test (with waiting, what the test waited for).
func (c *conversation) next(waiting string) event {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			<-c.exited // stderr is complete
			c.t.Fatalf("the script ended while the test waited for %s; stderr:\n%.3000s", waiting, c.stderr.String())
		}
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			c.t.Fatalf("the script said %.500q: %v", line, err)
		}
		return e
	case <-c.ctx.Done():
		c.t.Fatalf("no word from the script within %v while the test waited for %s", clientTimeout, waiting)
	}
	return nil
}

// unexpected fails the test with what the script said instead of what
// the test waited for, and the script's stderr.
func (c *conversation) unexpected(e event, waiting string) {
	c.t.Helper()
	<-c.exited // a script that said something unexpected has failed: stderr is complete
	c.t.Fatalf("the script said %.2000v\nwhile the test waited for %s; stderr:\n%.3000s", map[string]any(e), waiting, c.stderr.String())
}

// expect reads the script's next line and checks that it is event ev.
func (c *conversation) expect(ev string) event {
	c.t.Helper()
	e := c.next(strconv.Quote(ev))
	if e["ev"] != ev {
		c.unexpected(e, strconv.Quote(ev))
	}
	return e
}

// tell sends event ev to the script.
func (c *conversation) tell(ev string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, `{"ev":"`+ev+`"}`+"\n"); err != nil {
		c.t.Fatalf("telling the script %s: %v", ev, err)
	}
}

// done reads the script's report, which must say ok, and returns it.
func (c *conversation) done() event {
	c.t.Helper()
	r := c.expect("done")
	if r["ok"] != true {
		c.t.Fatalf("the script failed: %v", r["error"])
	}
	return r
}

// TestNodeEventSource: the npm eventsource client gets 200 publications on
// /sse, is dropped by the server, reconnects by itself with Last-Event-ID
// and gets, from history, the 100 published while it had no stream: no
// loss, no duplicate, no reset (node/eventsource.mjs checks each one).
func TestNodeEventSource(t *testing.T) {
	t.Parallel()
	const topic, missed = "sse-node", 100
	if _, err := os.Stat("node/node_modules/eventsource/package.json"); err != nil {
		t.Fatal("node/node_modules/eventsource missing: `make test-deps` (scripts/test-deps.sh) runs npm ci")
	}
	srv, base := startPush(t, server.Config{})
	c := talk(t, "node/eventsource.mjs", base, topic, strconv.Itoa(httpPublications), strconv.Itoa(missed))
	c.expect("subscribed")
	publish(t, srv, topic, 1, httpPublications)
	received := c.expect("received")
	if n := dropSessions(t, srv); n != 1 {
		t.Fatalf("dropped %d sessions, want the client's one", n)
	}
	// The client's reconnecting request is held until the test says go.
	re := c.expect("reconnecting")
	if re["lastEventId"] != received["lastEventId"] || re["lastEventId"] == "" {
		t.Fatalf("reconnected with Last-Event-ID %q, want the id of publication %d, %q", re["lastEventId"], httpPublications, received["lastEventId"])
	}
	publish(t, srv, topic, httpPublications+1, httpPublications+missed)
	c.tell("go")
	r := c.done()
	sids, _ := r["sids"].([]any)
	if len(sids) != 2 || sids[0] == sids[1] {
		t.Errorf("session ids %v, want one per stream, two different", sids)
	}
	t.Logf("%v %v: %v publications in order over 2 streams; requests %v; subscribed %v",
		r["client"], r["library"], r["got"], r["requests"], r["starts"])
}

// TestNodeFetchStream: Node's fetch reads 200 publications from the NDJSON
// stream with a stream reader.
func TestNodeFetchStream(t *testing.T) {
	t.Parallel()
	const topic = "stream-node"
	srv, base := startPush(t, server.Config{})
	c := talk(t, "node/fetch.mjs", "stream", base, topic, "1", strconv.Itoa(httpPublications))
	c.expect("subscribed")
	publish(t, srv, topic, 1, httpPublications)
	r := c.done()
	t.Logf("%v: %v publications in order in %v reads", r["client"], r["got"], r["reads"])
}

// pollBatch is how many publications each step of the poll test makes:
// 200 in batches of 10 take 20 steps, half of them between two polls.
const pollBatch = 10

// TestNodeFetchPoll: Node's fetch long-polls /poll with the cursor of each
// reply and gets 200 publications in order across many polls, half of
// them published while no poll was held. The topic has a publication
// before the client comes, which the client must not get.
func TestNodeFetchPoll(t *testing.T) {
	t.Parallel()
	nodeFetchPoll(t, "poll-node", 1)
}

// TestNodeFetchPollEmptyTopic is TestNodeFetchPoll on a topic with no
// publication yet: the first poll's cursor must hold between polls too.
func TestNodeFetchPollEmptyTopic(t *testing.T) {
	t.Parallel()
	// A topic with history keeps its epoch between polls even before its
	// first publication (it failed before: each poll got a new epoch).
	nodeFetchPoll(t, "poll-node-empty", 0)
}

// nodeFetchPoll runs node/fetch.mjs's poll mode on topic, which has had
// before publications when the client comes.
func nodeFetchPoll(t *testing.T, topic string, before int) {
	srv, base := startPush(t, server.Config{})
	publish(t, srv, topic, 1, before)
	first := before + 1
	c := talk(t, "node/fetch.mjs", "poll", base, topic, strconv.Itoa(first), strconv.Itoa(httpPublications), strconv.Itoa(pollBatch))
	c.expect("subscribed")
	next := first
	for next < first+httpPublications {
		last := min(next+pollBatch-1, first+httpPublications-1)
		waiting := "the step of publication " + strconv.Itoa(next)
		switch e := c.next(waiting); e["ev"] {
		case "between":
			publish(t, srv, topic, next, last)
			c.tell("published")
		case "polling":
			publish(t, srv, topic, next, last)
		default:
			c.unexpected(e, waiting)
		}
		next = last + 1
	}
	r := c.done()
	t.Logf("%v: %v publications in order in %v polls (%v steps between polls, %v during one)",
		r["client"], r["got"], r["polls"], r["between"], r["held"])
}
