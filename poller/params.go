package poller

import (
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/c1mhq/c1m/codec"
)

// Kind is an HTTP transport, chosen by the request path.
type Kind uint8

// The transports.
const (
	KindNone      Kind = iota
	KindSSE            // GET /sse
	KindNDJSON         // GET /stream
	KindMultipart      // GET /stream?format=multipart
	KindIframe         // GET /iframe?callback=NAME
	KindPoll           // GET /poll
	KindSend           // POST /send
)

// Paths of the transports; fixed, so that any client can rely on them.
const (
	PathSSE    = "/sse"
	PathStream = "/stream"
	PathIframe = "/iframe"
	PathPoll   = "/poll"
	PathSend   = "/send"
	PathClient = "/c1m.js"
)

// Route returns the transport of a request path, or KindNone. /stream is
// KindNDJSON until its parameters say multipart (ParseParams). Safe for
// concurrent use.
func Route(path []byte) Kind {
	switch string(path) {
	case PathSSE:
		return KindSSE
	case PathStream:
		return KindNDJSON
	case PathIframe:
		return KindIframe
	case PathPoll:
		return KindPoll
	case PathSend:
		return KindSend
	}
	return KindNone
}

// Stream reports whether the transport answers with an endless response.
// Safe for concurrent use.
func (k Kind) Stream() bool { return k >= KindSSE && k <= KindIframe }

// Params are what a transport request asks for in its query string (and,
// for SSE, its Last-Event-ID header).
type Params struct {
	Kind Kind
	// Topics are the topic= parameters, in order.
	Topics []string
	// Resumed are the topics that a cursor (cursor=, Last-Event-ID or
	// lastEventId=) names and Topics does not, less Unsubscribe: the
	// client had them and wants them back.
	Resumed []string
	// Since holds the positions to resume from: since=/epoch= paired with
	// Topics by order, and the cursor's.
	Since []codec.Position
	// Unsubscribe lists the topics a poll client drops from its cursor.
	Unsubscribe []string
	// Callback is the iframe or JSONP function, validated.
	Callback string
	// Wait is how long a poll may be held: 0 answers at once; negative
	// means the server's default.
	Wait time.Duration
	// SID is the /send target session ("" for a poll client).
	SID string
}

// Position returns the position the request gives for topic, or nil.
// Safe for concurrent use.
func (p *Params) Position(topic string) *codec.Position {
	for i := range p.Since {
		if p.Since[i].Topic == topic {
			return &p.Since[i]
		}
	}
	return nil
}

// ParseParams parses the query of a request for transport k. lastEventID
// is the Last-Event-ID header (SSE). A bad topic, since without a topic to
// pair with, a bad cursor or too many topics (more than maxTopics) is
// ErrBadParams; a bad callback is ErrBadCallback. Safe for concurrent use.
func ParseParams(k Kind, rawQuery, lastEventID []byte, maxTopics int) (Params, error) {
	p := Params{Kind: k, Wait: -1}
	q, err := url.ParseQuery(string(rawQuery))
	if err != nil {
		return p, ErrBadParams
	}
	p.Topics = q["topic"]
	p.Unsubscribe = q["unsubscribe"]
	for _, t := range append(slices.Clip(p.Topics), p.Unsubscribe...) {
		if !codec.ValidTopic(t) {
			return p, ErrBadParams
		}
	}
	if err := p.pairSince(q["since"], q["epoch"]); err != nil {
		return p, err
	}
	cursor, newer := q.Get("cursor"), false
	if k == KindSSE {
		id := string(lastEventID)
		if id == "" {
			id = q.Get("lastEventId")
		}
		if id != "" {
			// An EventSource reconnects to the URL it was opened with,
			// cursor= or since= included, and adds the id of the last
			// event it got: the id is the newer position.
			cursor, newer = id, true
		}
	}
	if cursor != "" {
		if err := p.addCursor(cursor, newer); err != nil {
			return p, err
		}
	}
	if len(p.Topics)+len(p.Resumed) > maxTopics {
		return p, ErrBadParams
	}
	switch k {
	case KindNDJSON:
		switch q.Get("format") {
		case "", "ndjson":
		case "multipart":
			p.Kind = KindMultipart
		default:
			return p, ErrBadParams
		}
	case KindIframe:
		if p.Callback = q.Get("callback"); !codec.ValidCallback([]byte(p.Callback)) {
			return p, ErrBadCallback
		}
	case KindPoll:
		if cb, ok := q["callback"]; ok {
			if p.Callback = cb[0]; !codec.ValidCallback([]byte(p.Callback)) {
				return p, ErrBadCallback
			}
		}
		if w, ok := q["wait"]; ok {
			secs, err := strconv.ParseFloat(w[0], 64)
			if err != nil || secs < 0 || secs > maxWaitSeconds {
				return p, ErrBadParams
			}
			p.Wait = time.Duration(secs * float64(time.Second))
		}
	case KindSend:
		p.SID = q.Get("sid")
	}
	return p, nil
}

// maxWaitSeconds bounds a poll's wait= (an hour): longer holds gain
// nothing over a heartbeat and keep proxies' timeouts in play.
const maxWaitSeconds = 3600

// pairSince pairs since= and epoch= values with the topics by order: one
// per topic, or a single one for a single topic.
func (p *Params) pairSince(since, epochs []string) error {
	if len(since) == 0 && len(epochs) == 0 {
		return nil
	}
	if len(since) != len(p.Topics) || len(epochs) != len(since) {
		return ErrBadParams
	}
	for i, s := range since {
		off, err := strconv.ParseUint(s, 10, 64)
		if err != nil || !codec.ValidEpoch(epochs[i]) {
			return ErrBadParams
		}
		p.Since = append(p.Since, codec.Position{Topic: p.Topics[i], Epoch: epochs[i], Offset: off})
	}
	return nil
}

// addCursor adds a cursor's positions: those of topics already named keep
// the since= given with them, unless the cursor is newer (an SSE
// Last-Event-ID); the others become Resumed, unless the client
// unsubscribes them.
func (p *Params) addCursor(cursor string, newer bool) error {
	ps, err := codec.ParseCursor(nil, []byte(cursor))
	if err != nil {
		return ErrBadParams
	}
	for _, pos := range ps {
		if slices.Contains(p.Unsubscribe, pos.Topic) {
			continue
		}
		if given := p.Position(pos.Topic); given != nil {
			if newer {
				*given = pos
			}
			continue
		}
		if !slices.Contains(p.Topics, pos.Topic) {
			p.Resumed = append(p.Resumed, pos.Topic)
		}
		p.Since = append(p.Since, pos)
	}
	return nil
}
