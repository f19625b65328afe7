package poller

import (
	"math"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Poll is one long-poll (or plain poll, or JSONP poll) request: it gathers
// what the session is given until there is something to say and the
// connection flushes, then answers with one reply and a cursor that says
// where the next poll continues. It also serves a one-off /send from a
// client without a stream (KindSend): the reply is what the handler sent.
//
// A held poll is an idle connection like any other, so it keeps only what
// its reply needs: the few fields of the response head, not a whole
// codec.ResponseHead.
type Poll struct {
	callback string           // JSONP
	origin   string           // the CORS origin to echo, if any
	items    []byte           // JSON objects joined by commas (KindSend: lines)
	pos      []codec.Position // per topic: the last offset the reply holds
	maxBytes int32
	status   int16
	kind     Kind
	minor    uint8 // the request's HTTP/1.x minor version
	close    bool  // the request asked to close after the response
	more     bool  // a publication did not fit: the next poll answers at once
	ready    bool  // there is something to say
	replied  bool
}

// NewPoll returns the transport of a poll (or /send) request with params
// p, answering with head (its status, version and CORS origin), holding at
// most maxBytes of messages in its reply. Safe for concurrent use.
func NewPoll(p *Params, head codec.ResponseHead, maxBytes int) *Poll {
	return &Poll{
		callback: p.Callback, origin: string(head.Origin), maxBytes: int32(min(maxBytes, math.MaxInt32)),
		status: int16(head.Status), kind: p.Kind, minor: uint8(head.Minor), close: head.Close,
	}
}

// Ready makes the poll answer at the next flush even with nothing to say:
// plain polling (wait=0), or a held poll whose time is up. Loop-only.
func (p *Poll) Ready() { p.ready = true }

// Replied reports whether the reply has been queued. Loop-only.
func (p *Poll) Replied() bool { return p.replied }

// add appends one JSON object to the reply, unless the reply is full (it
// always takes one, however large, so that a poll always makes progress),
// and makes the poll answer.
func (p *Poll) add(obj []byte) bool {
	if len(p.items) > 0 && len(p.items)+len(obj) > int(p.maxBytes) {
		p.more, p.ready = true, true
		return false
	}
	p.put(obj)
	p.ready = true
	return true
}

// put appends one JSON object to the reply, full or not.
func (p *Poll) put(obj []byte) {
	if len(p.items) > 0 {
		if p.kind == KindSend {
			p.items = append(p.items, '\n')
		} else {
			p.items = append(p.items, ',')
		}
	}
	p.items = append(p.items, obj...)
}

// position returns the poll's position entry for topic, or nil.
func (p *Poll) position(topic string) *codec.Position {
	for i := range p.pos {
		if p.pos[i].Topic == topic {
			return &p.pos[i]
		}
	}
	return nil
}

// Subscribed implements Transport: the topic enters the cursor at the
// position the replay (if any) starts from; a reset is said in the reply.
// Loop-only.
//
// The reset goes in even when the reply is full: the cursor moves to the
// new epoch, so the next poll could not say it any more. It does not make
// the poll answer at once: a topic with neither subscribers nor history is
// forgotten between two polls and numbered in a new epoch by the next, so
// a poll on a quiet topic comes back to a reset every time, and answering
// each at once would make its client poll in a busy loop. The reset goes
// with the reply when there is data, or at the hold's end.
func (p *Poll) Subscribed(_ Output, topic string, st session.Start) {
	p.pos = append(p.pos, codec.Position{Topic: topic, Epoch: st.Epoch, Offset: st.From})
	if st.Reset && !p.replied {
		p.put(codec.AppendStart(nil, codec.ObjReset, topic, st.Epoch, st.Offset))
	}
}

// WritePublication implements Transport: the envelope goes in the reply,
// and the cursor moves past it, unless the reply is full (then the
// publication comes with the next poll, from history). Loop-only.
func (p *Poll) WritePublication(_ Output, pub *session.Publication, envelope []byte) error {
	pos := p.position(pub.Topic)
	if pub.Topic != "" && (p.replied || p.more) {
		return nil // the next poll gets it from history
	}
	if p.add(envelope) && pos != nil {
		pos.Offset = pub.Offset
	}
	return nil
}

// WriteMessage implements Transport: a message object in a poll's reply,
// the message itself in a /send answer. Loop-only.
func (p *Poll) WriteMessage(_ Output, _ codec.OpCode, payload []byte) error {
	if p.replied {
		return nil
	}
	if p.kind == KindSend {
		p.add(payload)
	} else {
		p.add(codec.AppendMessageObject(nil, payload))
	}
	return nil
}

// Ping implements Transport: a held poll needs no heartbeat; its hold
// deadline answers it. Loop-only.
func (p *Poll) Ping(Output) {}

// Close implements Transport: the poll answers now with what it has.
// Loop-only.
func (p *Poll) Close(out Output) {
	p.ready = true
	p.Flush(out)
}

// Flush implements Transport: once there is something to say, the reply
// is queued and the response ends. Loop-only.
func (p *Poll) Flush(out Output) {
	if !p.ready || p.replied {
		return
	}
	p.replied = true
	head := codec.ResponseHead{Status: int(p.status), Minor: int(p.minor), Close: p.close, Origin: []byte(p.origin)}
	var body []byte
	switch {
	case p.kind == KindSend:
		head.ContentType = "application/json"
		body = p.items
	default:
		var buf []byte
		if p.callback != "" {
			head.ContentType = "application/javascript; charset=utf-8"
			head.Extra = "X-Content-Type-Options: nosniff\r\n"
			buf = append(append(buf, p.callback...), '(')
		} else {
			head.ContentType = "application/json"
		}
		buf = codec.AppendPollReply(buf, codec.AppendCursor(nil, p.pos), p.items, p.more)
		if p.callback != "" {
			buf = append(buf, ");\n"...)
		}
		body = buf
	}
	head.Length = len(body)
	b := out.Own()
	*b = head.AppendHead(*b)
	*b = append(*b, body...)
	p.items = nil
	out.End(!p.close)
}
