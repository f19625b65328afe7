package poller_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/poller"
)

// TestParamsPositions: which position a request resumes each topic from,
// when since=, cursor= and an SSE Last-Event-ID say different things.
func TestParamsPositions(t *testing.T) {
	t.Parallel()
	cur := func(ps ...codec.Position) string { return string(codec.AppendCursor(nil, ps)) }
	a5 := codec.Position{Topic: "a", Epoch: "e1", Offset: 5}
	a9 := codec.Position{Topic: "a", Epoch: "e1", Offset: 9}
	b3 := codec.Position{Topic: "b", Epoch: "e2", Offset: 3}
	cases := []struct {
		name        string
		kind        poller.Kind
		query       string
		lastEventID string
		since       []codec.Position
		resumed     []string
	}{
		{"since pairs with topic", poller.KindPoll, "topic=a&since=5&epoch=e1", "", []codec.Position{a5}, nil},
		{"cursor names a topic not in the URL", poller.KindPoll, "cursor=" + cur(a5, b3), "", []codec.Position{a5, b3}, []string{"a", "b"}},
		{"since wins over cursor=", poller.KindPoll, "topic=a&since=5&epoch=e1&cursor=" + cur(a9), "", []codec.Position{a5}, nil},
		{"unsubscribe drops a cursor topic", poller.KindPoll, "unsubscribe=b&cursor=" + cur(a5, b3), "", []codec.Position{a5}, []string{"a"}},
		{"Last-Event-ID resumes", poller.KindSSE, "topic=a", cur(a9), []codec.Position{a9}, nil},
		// An EventSource reconnects to its URL and adds the newer id.
		{"Last-Event-ID wins over since", poller.KindSSE, "topic=a&since=5&epoch=e1", cur(a9), []codec.Position{a9}, nil},
		{"Last-Event-ID wins over cursor=", poller.KindSSE, "cursor=" + cur(a5), cur(a9, b3), []codec.Position{a9, b3}, []string{"a", "b"}},
		{"lastEventId= stands for the header", poller.KindSSE, "topic=a&since=5&epoch=e1&lastEventId=" + cur(a9), "", []codec.Position{a9}, nil},
		{"Last-Event-ID means nothing to a poll", poller.KindPoll, "topic=a", cur(a9), nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := poller.ParseParams(tc.kind, []byte(tc.query), []byte(tc.lastEventID), codec.MaxCursorTopics)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Since, tc.since) || !slices.Equal(p.Resumed, tc.resumed) {
				t.Fatalf("since %v resumed %v, want %v %v", p.Since, p.Resumed, tc.since, tc.resumed)
			}
		})
	}
}

// TestParamsBad: what a transport request is refused for.
func TestParamsBad(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		kind  poller.Kind
		query string
		want  error
	}{
		{"since without a topic", poller.KindPoll, "since=1&epoch=e", poller.ErrBadParams},
		{"since without epoch", poller.KindPoll, "topic=a&since=1", poller.ErrBadParams},
		{"bad epoch", poller.KindPoll, "topic=a&since=1&epoch=e-1", poller.ErrBadParams},
		{"bad topic", poller.KindSSE, "topic=a%20b", poller.ErrBadParams},
		{"bad cursor", poller.KindPoll, "cursor=!!!", poller.ErrBadParams},
		{"forged cursor version", poller.KindPoll, "cursor=Ag", poller.ErrBadParams},
		{"negative wait", poller.KindPoll, "wait=-1", poller.ErrBadParams},
		{"unknown format", poller.KindNDJSON, "format=xml", poller.ErrBadParams},
		{"JSONP statement", poller.KindPoll, "callback=alert(1)%3Bx", poller.ErrBadCallback},
		{"JSONP empty segment", poller.KindPoll, "callback=a..b", poller.ErrBadCallback},
		{"iframe without callback", poller.KindIframe, "", poller.ErrBadCallback},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := poller.ParseParams(tc.kind, []byte(tc.query), nil, codec.MaxCursorTopics); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}
