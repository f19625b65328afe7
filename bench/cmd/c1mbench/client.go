package main

// What a worker's clients speak: a transport (package loadgen) and a
// dialect, how the server wraps publications on it. Each handler call
// turns what arrived into publication calls; the per-client accounting
// (worker.go) is the same for every server and transport.

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// Dialects.
const (
	// dialectRaw: a WebSocket message is the published bytes (c1m's
	// default form, every peer); subscribed by the URL at the upgrade.
	dialectRaw = "raw"
	// dialectC1m: c1m's HTTP transports (PROTOCOL.md, "Without
	// WebSocket"): SSE events and poll replies carry JSON envelopes
	// {"topic","offset","epoch","data"} and {"op":...} objects; the
	// stream's open object, or the first poll reply, says the client is
	// subscribed and where it starts.
	dialectC1m = "c1m"
	// dialectCentrifugo: Centrifugo's JSON protocol. On WebSocket the
	// client sends connect, then subscribe, and answers the server's {}
	// pings; publications come as {"push":{"channel","pub":{"data"}}}.
	// On uni_sse the connect request is in the URL (cf_connect, with the
	// channel in subs), the first event is {"connect":...}, publications
	// are {"channel","pub":{...}}.
	dialectCentrifugo = "centrifugo"
)

// centrifugoChannel is the channel the Centrifugo clients subscribe to
// and the fanout publishes to: in the namespace that lets anonymous
// clients subscribe (centrifugo.go's config).
const centrifugoChannel = "bench:t"

// Centrifugo's WebSocket commands, newline-free JSON text frames.
var (
	centrifugoConnect   = []byte(`{"id":1,"connect":{}}`)
	centrifugoSubscribe = []byte(`{"id":2,"subscribe":{"channel":"` + centrifugoChannel + `"}}`)
	centrifugoPong      = []byte(`{}`)
)

// configure sets the loop's transport, and when a connection counts as
// ready, from the worker's flags.
func (h *workerHandler) configure(cfg *loadgen.Config, transport string) error {
	switch transport {
	case "ws":
		cfg.Transport = loadgen.WebSocket
	case "sse":
		cfg.Transport = loadgen.EventStream
	case "sio":
		cfg.Transport = loadgen.SocketIO
		if h.dialect != dialectSocketIO {
			return fmt.Errorf("sio: only the socketio dialect, not %q", h.dialect)
		}
	case "poll":
		cfg.Transport = loadgen.Poll
		if h.dialect != dialectC1m {
			return fmt.Errorf("poll: only the c1m dialect, not %q", h.dialect)
		}
		// The first poll answers at once with the position; the next
		// ones are held.
		base, query, _ := strings.Cut(cfg.Path, "?")
		h.pollBase = base
		cfg.Path = base + "?" + query + "&wait=0"
	default:
		return fmt.Errorf("unknown transport %q", transport)
	}
	switch h.dialect {
	case dialectRaw:
		if cfg.Transport != loadgen.WebSocket {
			return fmt.Errorf("the raw dialect is WebSocket only")
		}
	case dialectC1m, dialectCentrifugo:
		cfg.WaitReady = true // ready when the server says subscribed
	case dialectSocketIO:
		if cfg.Transport != loadgen.SocketIO {
			return fmt.Errorf("the socketio dialect is the sio transport only")
		}
		cfg.WaitReady = true // ready when the join is acked
	default:
		return fmt.Errorf("unknown dialect %q", h.dialect)
	}
	h.transport = cfg.Transport
	return nil
}

func (h *workerHandler) Opened(c *loadgen.Conn) {
	switch {
	case h.scenario == "churn" && h.started:
		if !h.stopped {
			h.ops++
		}
		h.loop.Close(c)
	case h.transport == loadgen.WebSocket && h.dialect == dialectCentrifugo:
		h.loop.Send(c, true, centrifugoConnect)
	case h.transport == loadgen.SocketIO:
		h.sioOpened(c)
	}
}

func (h *workerHandler) Message(c *loadgen.Conn, p []byte) {
	if h.dialect != dialectCentrifugo {
		h.publication(c, p, 0)
		return
	}
	// Centrifugo batches replies and pushes in one frame, one per line.
	for len(p) > 0 && c.IsOpen() {
		var line []byte
		line, p, _ = bytes.Cut(p, []byte("\n"))
		h.centrifugoReply(c, line)
	}
}

// centrifugoReply handles one JSON reply or push on WebSocket.
func (h *workerHandler) centrifugoReply(c *loadgen.Conn, m []byte) {
	m = bytes.TrimSpace(m)
	switch {
	case len(m) == 0:
	case string(m) == "{}": // a ping
		h.loop.Send(c, true, centrifugoPong)
	default:
		if push, ok := jsonField(m, "push"); ok {
			h.centrifugoPush(c, push)
			return
		}
		if _, ok := jsonField(m, "error"); ok {
			h.loop.Abort(c, fmt.Errorf("centrifugo: %.120s", m))
			return
		}
		switch id, _ := jsonField(m, "id"); string(id) {
		case "1": // connected
			h.loop.Send(c, true, centrifugoSubscribe)
		case "2": // subscribed
			h.loop.Ready(c)
		}
	}
}

// centrifugoPush handles a push object: a publication when it has pub.
func (h *workerHandler) centrifugoPush(c *loadgen.Conn, push []byte) {
	pub, ok := jsonField(push, "pub")
	if !ok {
		return // join, leave, message, disconnect...
	}
	var data []byte
	if v, ok := jsonField(pub, "data"); ok {
		data, _ = jsonString(v)
	}
	var offset uint64
	if v, ok := jsonField(pub, "offset"); ok {
		offset, _ = jsonUint(v)
	}
	h.publication(c, data, offset)
}

func (h *workerHandler) Event(c *loadgen.Conn, ev *loadgen.Event) {
	switch h.dialect {
	case dialectC1m:
		h.c1mObject(c, ev.Data)
	case dialectCentrifugo:
		switch {
		case string(ev.Data) == "{}": // a ping; nothing to answer on a uni stream
		default:
			if _, ok := jsonField(ev.Data, "connect"); ok {
				h.loop.Ready(c) // the subscriptions came with the connect
				return
			}
			h.centrifugoPush(c, ev.Data)
		}
	}
}

// c1mObject handles one object of c1m's HTTP transports: an envelope, or
// an {"op":...}. The event name of SSE is not needed: the op says it.
func (h *workerHandler) c1mObject(c *loadgen.Conn, obj []byte) {
	if op, ok := jsonField(obj, "op"); ok {
		switch string(op) {
		case `"open"`:
			topics, _ := jsonField(obj, "topics")
			jsonEach(topics, func(t []byte) bool {
				if v, ok := jsonField(t, "offset"); ok {
					if off, ok := jsonUint(v); ok {
						h.position(c, off, false)
					}
				}
				return false // one topic per client
			})
			h.loop.Ready(c)
		case `"subscribed"`, `"reset"`:
			if string(op) == `"reset"` {
				h.resets++
			}
			if v, ok := jsonField(obj, "offset"); ok {
				if off, ok := jsonUint(v); ok {
					h.position(c, off, false)
				}
			}
		}
		return // ping, message (to the session alone)
	}
	var offset uint64
	if v, ok := jsonField(obj, "offset"); ok {
		offset, _ = jsonUint(v)
	}
	if v, ok := jsonField(obj, "data"); ok {
		data, _ := jsonString(v)
		h.publication(c, data, offset)
	} else if v, ok := jsonField(obj, "data_b64"); ok {
		data, _ := jsonBase64(v)
		h.publication(c, data, offset)
	} else {
		h.undecoded++
	}
}

// Response handles a c1m poll reply: its messages, then the next poll
// with its cursor, on the same connection.
func (h *workerHandler) Response(c *loadgen.Conn, status int, body []byte) {
	if status != 200 {
		h.loop.Abort(c, fmt.Errorf("poll: HTTP %d: %.80q", status, body))
		return
	}
	v, ok := jsonField(body, "cursor")
	cursor, ok2 := jsonString(v)
	if !ok || !ok2 {
		h.loop.Abort(c, fmt.Errorf("poll: a reply without a cursor: %.80q", body))
		return
	}
	msgs, _ := jsonField(body, "messages")
	jsonEach(msgs, func(m []byte) bool {
		h.c1mObject(c, m)
		return c.IsOpen()
	})
	if !c.IsOpen() {
		return
	}
	h.loop.Ready(c)
	h.loop.Get(c, h.pollBase+"?cursor="+url.QueryEscape(string(cursor))+"&wait="+h.pollWait)
}
