package poller

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
)

func TestRoute(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]Kind{
		"/sse": KindSSE, "/stream": KindNDJSON, "/iframe": KindIframe, "/poll": KindPoll, "/send": KindSend,
		"/ws": KindNone, "/": KindNone, "/sse/": KindNone, "/SSE": KindNone,
	} {
		if got := Route([]byte(path)); got != want {
			t.Errorf("Route(%q) = %d, want %d", path, got, want)
		}
	}
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	cur := string(codec.AppendCursor(nil, []codec.Position{
		{Topic: "news", Epoch: "e1", Offset: 7}, {Topic: "sport", Epoch: "e2", Offset: 9}, {Topic: "old", Epoch: "e3", Offset: 1},
	}))
	cases := []struct {
		name, query, lastEventID string
		kind                     Kind
		err                      error
		check                    func(p Params) string
	}{
		{name: "topics", query: "topic=a&topic=b", kind: KindSSE, check: func(p Params) string {
			return fmt.Sprint(p.Topics, len(p.Since), p.Wait)
		}},
		{name: "since paired by order", query: "topic=a&since=3&epoch=x&topic=b&since=4&epoch=y", kind: KindPoll, check: func(p Params) string {
			return fmt.Sprint(*p.Position("a"), *p.Position("b"))
		}},
		{name: "since without its topic", query: "topic=a&topic=b&since=3&epoch=x", kind: KindPoll, err: ErrBadParams},
		{name: "since without epoch", query: "topic=a&since=3", kind: KindPoll, err: ErrBadParams},
		{name: "bad offset", query: "topic=a&since=-1&epoch=x", kind: KindPoll, err: ErrBadParams},
		{name: "bad epoch", query: "topic=a&since=1&epoch=x-y", kind: KindPoll, err: ErrBadParams},
		{name: "bad topic", query: "topic=%24user", kind: KindSSE, err: ErrBadParams},
		{name: "cursor topics resumed", query: "topic=news&cursor=" + cur + "&unsubscribe=old", kind: KindPoll, check: func(p Params) string {
			return fmt.Sprint(p.Topics, p.Resumed, p.Position("news").Offset, p.Position("sport").Offset, p.Position("old") == nil)
		}},
		{name: "since wins over cursor", query: "topic=news&since=2&epoch=e9&cursor=" + cur, kind: KindPoll, check: func(p Params) string {
			return fmt.Sprint(*p.Position("news"))
		}},
		{name: "Last-Event-ID", lastEventID: cur, kind: KindSSE, check: func(p Params) string {
			return fmt.Sprint(p.Resumed)
		}},
		{name: "Last-Event-ID only for SSE", lastEventID: cur, kind: KindPoll, check: func(p Params) string {
			return fmt.Sprint(len(p.Resumed))
		}},
		{name: "lastEventId param", query: "lastEventId=" + cur, kind: KindSSE, check: func(p Params) string {
			return fmt.Sprint(len(p.Resumed))
		}},
		{name: "forged cursor", query: "cursor=AQRuZXdz", kind: KindPoll, err: ErrBadParams},
		{name: "multipart", query: "format=multipart", kind: KindNDJSON, check: func(p Params) string {
			return fmt.Sprint(p.Kind == KindMultipart)
		}},
		{name: "unknown format", query: "format=xml", kind: KindNDJSON, err: ErrBadParams},
		{name: "iframe callback", query: "callback=parent.c1m.on", kind: KindIframe, check: func(p Params) string { return p.Callback }},
		{name: "iframe without callback", kind: KindIframe, err: ErrBadCallback},
		{name: "hostile callback", query: "callback=alert(1)%3Bx", kind: KindPoll, err: ErrBadCallback},
		{name: "wait", query: "wait=0", kind: KindPoll, check: func(p Params) string { return fmt.Sprint(p.Wait) }},
		{name: "wait fraction", query: "wait=1.5", kind: KindPoll, check: func(p Params) string { return fmt.Sprint(p.Wait) }},
		{name: "wait too long", query: "wait=99999", kind: KindPoll, err: ErrBadParams},
		{name: "sid", query: "sid=abc.def", kind: KindSend, check: func(p Params) string { return p.SID }},
		{name: "too many topics", query: strings.Repeat("topic=a&", 5), kind: KindSSE, err: ErrBadParams},
		{name: "bad escape", query: "topic=%zz", kind: KindSSE, err: ErrBadParams},
	}
	want := map[string]string{
		"topics":                     "[a b] 0 -1ns",
		"since paired by order":      "{a x 3} {b y 4}",
		"cursor topics resumed":      "[news] [sport] 7 9 true",
		"since wins over cursor":     "{news e9 2}",
		"Last-Event-ID":              "[news sport old]",
		"Last-Event-ID only for SSE": "0",
		"lastEventId param":          "3",
		"multipart":                  "true",
		"iframe callback":            "parent.c1m.on",
		"wait":                       "0s",
		"wait fraction":              (1500 * time.Millisecond).String(),
		"sid":                        "abc.def",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := ParseParams(tc.kind, []byte(tc.query), []byte(tc.lastEventID), 4)
			if err != tc.err {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.check != nil {
				if got := tc.check(p); got != want[tc.name] {
					t.Fatalf("got %s, want %s", got, want[tc.name])
				}
			}
		})
	}
}

// FuzzParseParams: any query parses or is refused with one of the
// package's errors; what parses names only valid topics and epochs, pairs
// every position with a topic the request subscribes, resumes no topic it
// unsubscribes, and a callback only when it is a valid name.
func FuzzParseParams(f *testing.F) {
	cur := string(codec.AppendCursor(nil, []codec.Position{{Topic: "news", Epoch: "e1", Offset: 7}}))
	f.Add(uint8(KindPoll), "topic=a&since=3&epoch=x&cursor="+cur+"&wait=2&callback=cb", "")
	f.Add(uint8(KindSSE), "topic=a&topic=b", cur)
	f.Add(uint8(KindNDJSON), "format=multipart&topic=%20", "")
	f.Add(uint8(KindIframe), "callback=a.b&unsubscribe=news&cursor="+cur, "")
	f.Fuzz(func(t *testing.T, k uint8, query, lastEventID string) {
		kind := Kind(k % uint8(KindSend+1))
		p, err := ParseParams(kind, []byte(query), []byte(lastEventID), 64)
		if err != nil {
			if err != ErrBadParams && err != ErrBadCallback {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		for _, topic := range append(slices.Clone(p.Topics), p.Resumed...) {
			if !codec.ValidTopic(topic) {
				t.Fatalf("invalid topic %q accepted", topic)
			}
		}
		for _, pos := range p.Since {
			if !codec.ValidEpoch(pos.Epoch) || (!slices.Contains(p.Topics, pos.Topic) && !slices.Contains(p.Resumed, pos.Topic)) {
				t.Fatalf("position %+v for no topic of %v %v", pos, p.Topics, p.Resumed)
			}
		}
		for _, topic := range p.Resumed {
			if slices.Contains(p.Unsubscribe, topic) || slices.Contains(p.Topics, topic) {
				t.Fatalf("resumed %q, which the request names or unsubscribes", topic)
			}
		}
		if p.Callback != "" && !codec.ValidCallback([]byte(p.Callback)) {
			t.Fatalf("callback %q accepted", p.Callback)
		}
		if len(p.Topics)+len(p.Resumed) > 64 {
			t.Fatalf("%d topics over the limit", len(p.Topics)+len(p.Resumed))
		}
	})
}
