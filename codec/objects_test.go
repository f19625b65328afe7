package codec

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsSafe fails the test when obj, a JSON object for the HTTP transports,
// is not one line of UTF-8 that is also safe in HTML and as JavaScript
// source (no <, >, &, no raw U+2028 or U+2029).
func jsSafe(t *testing.T, obj []byte) {
	t.Helper()
	if !utf8.Valid(obj) || bytes.ContainsAny(obj, "<>&\r\n") || bytes.Contains(obj, []byte("\u2028")) || bytes.Contains(obj, []byte("\u2029")) {
		t.Fatalf("%q is not safe in HTML, JavaScript and an SSE data line", obj)
	}
}

// awkward are strings that need escaping in JSON, HTML or JavaScript.
var awkward = []string{
	"news",
	`quote" backslash\ slash/`,
	"</script><!-- & -->",
	"line\u2028separator\u2029",
	"\u2028",
	"end\u2029",
	"neighbours \u2027\u202a not escaped",
	"tab\tcontrol\x01\x1f del\x7f",
	"héllo, 世界 🙂",
}

func TestAppendStart(t *testing.T) {
	t.Parallel()
	// The fixtures of PROTOCOL.md.
	if got := string(AppendStart(nil, ObjSubscribed, "news", "k3v9q0", 42)); got != `{"op":"subscribed","topic":"news","epoch":"k3v9q0","offset":42}` {
		t.Fatalf("AppendStart = %s", got)
	}
	if got := string(AppendStart(nil, ObjReset, "news", "p2mm7a", 3)); got != `{"op":"reset","topic":"news","epoch":"p2mm7a","offset":3}` {
		t.Fatalf("AppendStart = %s", got)
	}
	for _, op := range []string{ObjSubscribed, ObjReset} {
		for _, topic := range awkward {
			for _, offset := range []uint64{0, 1, 1<<64 - 1} {
				obj := AppendStart([]byte("prefix"), op, topic, "k3v9q0", offset)
				if !bytes.HasPrefix(obj, []byte("prefix")) {
					t.Fatalf("dst not kept: %q", obj)
				}
				obj = obj[len("prefix"):]
				var got struct {
					Op     string
					Topic  string
					Epoch  string
					Offset *uint64
				}
				if err := strictJSON(obj, &got); err != nil || got.Op != op || got.Topic != topic || got.Epoch != "k3v9q0" || got.Offset == nil || *got.Offset != offset {
					t.Fatalf("%s parses as %+v (%v)", obj, got, err)
				}
				jsSafe(t, obj)
			}
		}
	}
}

func TestAppendOpen(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sid  string
		want string
	}{
		{"plain", "s1", `{"op":"open","sid":"s1"}`},
		{"base36 with dot", "2rrvthnxty.1vt956hs9iw9p", `{"op":"open","sid":"2rrvthnxty.1vt956hs9iw9p"}`},
		{"awkward sid", awkward[2], ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj := AppendOpen(nil, tc.sid)
			if tc.want != "" && string(obj) != tc.want {
				t.Fatalf("AppendOpen = %s, want %s", obj, tc.want)
			}
			var got struct {
				Op  string
				Sid string
			}
			if err := strictJSON(obj, &got); err != nil || got.Op != ObjOpen || got.Sid != tc.sid {
				t.Fatalf("%s parses as %+v (%v)", obj, got, err)
			}
			jsSafe(t, obj)
		})
	}
}

func TestAppendMessageObject(t *testing.T) {
	t.Parallel()
	if got := string(AppendMessageObject(nil, []byte("hi"))); got != `{"op":"message","data":"hi"}` {
		t.Fatalf("AppendMessageObject = %s", got)
	}
	if got := string(AppendMessageObject(nil, []byte{0xff, 0x00, 0x01})); got != `{"op":"message","data_b64":"/wAB"}` {
		t.Fatalf("AppendMessageObject = %s", got)
	}
	payloads := [][]byte{nil, []byte(`{"op":"ok","id":1}`), {0xff}, []byte("\xe2\x80"), []byte("cut \xe2\x80")}
	for _, s := range awkward {
		payloads = append(payloads, []byte(s))
	}
	for _, p := range payloads {
		obj := AppendMessageObject(nil, p)
		var got struct {
			Op      string
			Data    *string
			DataB64 *[]byte `json:"data_b64"`
		}
		if err := strictJSON(obj, &got); err != nil || got.Op != ObjMessage {
			t.Fatalf("%s parses as %+v (%v)", obj, got, err)
		}
		if utf8.Valid(p) {
			if got.Data == nil || got.DataB64 != nil || *got.Data != string(p) {
				t.Fatalf("%q: %s", p, obj)
			}
		} else if got.Data != nil || got.DataB64 == nil || !bytes.Equal(*got.DataB64, p) {
			t.Fatalf("%q: %s", p, obj)
		}
		jsSafe(t, obj)
	}
}

func TestPingObject(t *testing.T) {
	t.Parallel()
	var got struct{ Op string }
	if err := strictJSON([]byte(PingObject), &got); err != nil || got.Op != ObjPing {
		t.Fatalf("%s parses as %+v (%v)", PingObject, got, err)
	}
}

func TestAppendPollReply(t *testing.T) {
	t.Parallel()
	cursor := AppendCursor(nil, []Position{{"news", "k3v9q0", 8}})
	env := AppendEnvelope(nil, "news", "k3v9q0", 8, []byte("hello"))
	reset := AppendStart(nil, ObjReset, "sport", "p2mm7a", 3)
	items := slices.Concat(env, []byte(","), reset)
	cases := []struct {
		name  string
		items []byte
		more  bool
		want  []string // the messages
	}{
		{"no message", nil, false, nil},
		{"two messages", items, false, []string{string(env), string(reset)}},
		{"more to come", env, true, []string{string(env)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj := AppendPollReply(nil, cursor, tc.items, tc.more)
			if tc.name == "more to come" {
				if want := `{"cursor":"` + string(cursor) + `","messages":[` + string(env) + `],"more":true}`; string(obj) != want {
					t.Fatalf("AppendPollReply = %s, want %s", obj, want)
				}
			}
			var got struct {
				Cursor   string
				Messages []json.RawMessage
				More     *bool
			}
			if err := strictJSON(obj, &got); err != nil || got.Cursor != string(cursor) || got.Messages == nil || len(got.Messages) != len(tc.want) {
				t.Fatalf("%s parses as %+v (%v)", obj, got, err)
			}
			for i, m := range got.Messages {
				if string(m) != tc.want[i] {
					t.Fatalf("message %d: %s, want %s", i, m, tc.want[i])
				}
			}
			if tc.more != (got.More != nil) || got.More != nil && !*got.More {
				t.Fatalf(`"more" with more %v: %s`, tc.more, obj)
			}
			if ps, err := ParseCursor(nil, []byte(got.Cursor)); err != nil || len(ps) != 1 {
				t.Fatalf("cursor %q: %v %v", got.Cursor, ps, err)
			}
			jsSafe(t, obj)
		})
	}
}

// sseEvent is an event as a browser's EventSource dispatches it.
type sseEvent struct {
	Type, Data, LastEventID string
}

// parseSSE interprets an event stream as WHATWG HTML section 9.2.6
// ("Interpreting an event stream") says, over bytes (the stream's UTF-8
// decoding is left out): lines end in CRLF, LF or CR; a line starting
// with a colon is a comment; a field's value loses one leading space;
// "data" lines are joined with LF; an id holding NUL is ignored; a blank
// line dispatches the event, unless no data came; an event not ended by
// a blank line is discarded at the end of the stream.
func parseSSE(stream []byte) (events []sseEvent, retry string) {
	var data, typ, lastID []byte
	dataSeen := false // whether the data buffer is not empty
	for len(stream) > 0 {
		i := bytes.IndexAny(stream, "\r\n")
		if i < 0 {
			break // no line end: an incomplete line, discarded
		}
		line := stream[:i]
		if stream[i] == '\r' && i+1 < len(stream) && stream[i+1] == '\n' {
			i++
		}
		stream = stream[i+1:]
		if len(line) == 0 {
			if dataSeen {
				events = append(events, sseEvent{
					Type:        cmp.Or(string(typ), "message"),
					Data:        strings.TrimSuffix(string(data), "\n"),
					LastEventID: string(lastID),
				})
			}
			data, typ, dataSeen = nil, nil, false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			typ = value
		case "data":
			data = append(append(data, value...), '\n')
			dataSeen = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				lastID = value
			}
		case "retry":
			retry = string(value)
		}
	}
	return events, retry
}

// sseLines is data with every line break (CRLF, LF or CR) made an LF.
func sseLines(data string) string {
	return strings.ReplaceAll(strings.ReplaceAll(data, "\r\n", "\n"), "\r", "\n")
}

func TestAppendSSE(t *testing.T) {
	t.Parallel()
	fixtures := []struct {
		name  string
		event string
		data  string
		id    string
		want  string
	}{
		{"data", "", "hello", "", "data: hello\n\n"},
		{"data and id", "", "hello", "AQRu", "data: hello\nid: AQRu\n\n"},
		{"event", "open", `{"op":"open"}`, "", "event: open\ndata: {\"op\":\"open\"}\n\n"},
		{"empty data", "", "", "", "data: \n\n"},
		{"LF, CR and CRLF", "reset", "a\nb\rc\r\nd", "c1", "event: reset\ndata: a\ndata: b\ndata: c\ndata: d\nid: c1\n\n"},
		{"CR LF is one break, LF CR two", "", "a\r\nb\n\rc", "", "data: a\ndata: b\ndata: \ndata: c\n\n"},
		{"break at the end", "", "a\r\n", "", "data: a\ndata: \n\n"},
	}
	for _, tc := range fixtures {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := AppendSSE([]byte("x"), tc.event, []byte(tc.data), []byte(tc.id))
			if string(got) != "x"+tc.want {
				t.Fatalf("AppendSSE = %q, want %q", got[1:], tc.want)
			}
			parts := AppendSSETail(AppendSSEData(AppendSSEHead([]byte("x"), tc.event), []byte(tc.data)), []byte(tc.id))
			if !bytes.Equal(parts, got) {
				t.Fatalf("head, data and tail: %q; AppendSSE: %q", parts, got)
			}
		})
	}

	datas := []string{
		"", "x", " leading space", "  two spaces", "data: lookalike", ":colon first", "id: 7",
		"a\nb", "a\rb", "a\r\nb", "a\n\nb", "a\r\rb", "a\n\rb", "a\r\n\r\nb",
		"\n", "\r", "\r\n", "\n\n", "\r\r\n", "trailing\n", "trailing\r", "trailing\r\n", "\nleading",
		"nul\x00byte", "\xff\xfe not UTF-8", `{"op":"message","data":"x"}`,
	}
	for _, data := range datas {
		for _, event := range []string{"", "reset"} {
			for _, id := range []string{"", "AQRuZXdz"} {
				stream := AppendSSE(nil, event, []byte(data), []byte(id))
				events, _ := parseSSE(stream)
				want := sseEvent{cmp.Or(event, "message"), sseLines(data), id}
				if len(events) != 1 || events[0] != want {
					t.Fatalf("%q reads as %+v, want %+v", stream, events, want)
				}
			}
		}
	}
}

// TestSSEStream: a stream as the SSE transport writes it (a retry line, a
// heartbeat between events, named and unnamed events, ids on some) reads
// back event by event, the last id carried over to events without one.
func TestSSEStream(t *testing.T) {
	t.Parallel()
	stream := []byte("retry: 2000\n\n")
	stream = AppendSSE(stream, ObjOpen, AppendOpen(nil, "s1"), nil)
	stream = append(stream, SSEHeartbeat...)
	stream = AppendSSE(stream, "", []byte("one\ntwo"), []byte("c1"))
	stream = append(stream, SSEHeartbeat...)
	stream = AppendSSE(stream, ObjReset, []byte("r"), nil)
	stream = AppendSSE(stream, "", []byte("three"), []byte("c2"))
	stream = AppendSSEData(AppendSSEHead(stream, "cut"), []byte("no blank line"))
	events, retry := parseSSE(stream)
	want := []sseEvent{
		{ObjOpen, `{"op":"open","sid":"s1"}`, ""},
		{"message", "one\ntwo", "c1"},
		{ObjReset, "r", "c1"},
		{"message", "three", "c2"},
	}
	if retry != "2000" || !slices.Equal(events, want) {
		t.Fatalf("retry %q, events\n%+v\nwant\n%+v", retry, events, want)
	}
	if h, _ := parseSSE([]byte(SSEHeartbeat)); len(h) != 0 {
		t.Fatalf("the heartbeat reads as %+v", h)
	}
}

// callbackRE is what ValidCallback accepts, besides the length bound.
var callbackRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)

func TestValidCallback(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		want bool
	}{
		{"a", true},
		{"$", true},
		{"_", true},
		{"_x", true},
		{"a.b.c", true},
		{"jQuery123_456", true},
		{"$.fn._cb1", true},
		{"A9", true},
		{strings.Repeat("a", MaxCallbackLen), true},
		{strings.Repeat("a.", MaxCallbackLen/2-1) + "bc", true},
		{"", false},
		{"1a", false},
		{"a.1b", false},
		{"a..b", false},
		{"a.", false},
		{".a", false},
		{".", false},
		{"a-b", false},
		{"a(b", false},
		{"a(b)", false},
		{"a;b", false},
		{"a b", false},
		{"a\tb", false},
		{"a\nb", false},
		{"a\x00", false},
		{"a[0]", false},
		{"a/b", false},
		{"a=b", false},
		{"a'b", false},
		{"a\"b", false},
		{"a<b", false},
		{"ünïcode", false},
		{"a\u2028", false},
		{"alert(1)//", false},
		{strings.Repeat("a", MaxCallbackLen+1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidCallback([]byte(tc.name)); got != tc.want {
				t.Fatalf("ValidCallback(%q) = %v, want %v", tc.name, got, tc.want)
			}
			if re := callbackRE.MatchString(tc.name) && len(tc.name) <= MaxCallbackLen; re != tc.want {
				t.Fatalf("the fixture disagrees with the regular expression: %q", tc.name)
			}
		})
	}
}

func TestIsPolicyRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		in          string
		match, more bool
	}{
		{"nothing yet", "", false, true},
		{"first byte", "<", false, true},
		{"all but the NUL", "<policy-file-request/>", false, true},
		{"the request", "<policy-file-request/>\x00", true, false},
		{"the request and more bytes", "<policy-file-request/>\x00GET", true, false},
		{"another byte for the NUL", "<policy-file-request/>\x01", false, false},
		{"upper case", "<POLICY-file-request/>\x00", false, false},
		{"an HTTP request", "GET / HTTP/1.1\r\n", false, false},
		{"another tag", "<policy-file-reply/>\x00", false, false},
		{"a WebSocket frame", "\x81\x85", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if match, more := IsPolicyRequest([]byte(tc.in)); match != tc.match || more != tc.more {
				t.Fatalf("IsPolicyRequest(%q) = %v, %v; want %v, %v", tc.in, match, more, tc.match, tc.more)
			}
			// Byte by byte: a prefix of the request asks for more, anything
			// else fails at once, and only the whole request matches.
			for i := range len(tc.in) + 1 {
				p := tc.in[:i]
				wantMatch := strings.HasPrefix(p, PolicyRequest)
				wantMore := len(p) < len(PolicyRequest) && strings.HasPrefix(PolicyRequest, p)
				if match, more := IsPolicyRequest([]byte(p)); match != wantMatch || more != wantMore {
					t.Fatalf("prefix %q: %v, %v; want %v, %v", p, match, more, wantMatch, wantMore)
				}
			}
		})
	}
}

// crossDomainPolicy is the document Flash reads.
type crossDomainPolicy struct {
	XMLName xml.Name `xml:"cross-domain-policy"`
	Allow   []struct {
		Domain  string `xml:"domain,attr"`
		ToPorts string `xml:"to-ports,attr"`
	} `xml:"allow-access-from"`
}

func TestAppendPolicy(t *testing.T) {
	t.Parallel()
	const want = `<?xml version="1.0"?><!DOCTYPE cross-domain-policy SYSTEM "/xml/dtds/cross-domain-policy.dtd">` +
		`<cross-domain-policy><allow-access-from domain="*" to-ports="8080"/></cross-domain-policy>` + "\x00"
	if got := string(AppendPolicy(nil, []string{"*"}, "8080")); got != want {
		t.Fatalf("AppendPolicy = %q, want %q", got, want)
	}
	cases := []struct {
		name    string
		domains []string
		ports   string
	}{
		{"any", []string{"*"}, "*"},
		{"none", nil, "80"},
		{"several", []string{"*.example.com", "example.org", "10.0.0.1"}, "80,443,8000-8100"},
		{"to be escaped", []string{`a"b`, "c<d", "e&f", "g>h", "i'j", "&amp;"}, `"&<>'`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := AppendPolicy([]byte("x"), tc.domains, tc.ports)[1:]
			if bytes.IndexByte(doc, 0) != len(doc)-1 {
				t.Fatalf("%q: one NUL, at the end, ends the policy", doc)
			}
			var p crossDomainPolicy
			if err := xml.Unmarshal(doc[:len(doc)-1], &p); err != nil {
				t.Fatalf("%q: %v", doc, err)
			}
			if len(p.Allow) != len(tc.domains) {
				t.Fatalf("%q: %d allow-access-from, want %d", doc, len(p.Allow), len(tc.domains))
			}
			for i, a := range p.Allow {
				if a.Domain != tc.domains[i] || a.ToPorts != tc.ports {
					t.Fatalf("%q: rule %d reads %q to %q", doc, i, a.Domain, a.ToPorts)
				}
			}
		})
	}
}
