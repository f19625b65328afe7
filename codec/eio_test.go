package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestDecodeEIOText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want EIOPacket
		err  bool
	}{
		{in: "4hello", want: EIOPacket{Type: EIOMessage, Data: []byte("hello")}},
		{in: "4", want: EIOPacket{Type: EIOMessage, Data: []byte{}}},
		{in: "2probe", want: EIOPacket{Type: EIOPing, Data: []byte("probe")}},
		{in: "3", want: EIOPacket{Type: EIOPong, Data: []byte{}}},
		{in: "6", want: EIOPacket{Type: EIONoop, Data: []byte{}}},
		{in: "0{}", want: EIOPacket{Type: EIOOpen, Data: []byte("{}")}},
		{in: "bAQIDBA==", want: EIOPacket{Type: EIOMessage, Binary: true, Data: []byte{1, 2, 3, 4}}},
		{in: "bAQIDBA", want: EIOPacket{Type: EIOMessage, Binary: true, Data: []byte{1, 2, 3, 4}}}, // unpadded
		{in: "b", want: EIOPacket{Type: EIOMessage, Binary: true, Data: []byte{}}},
		{in: "", err: true},
		{in: "7", err: true},
		{in: "abc", err: true},
		{in: "/x", err: true},
		{in: "b!!!!", err: true},
		{in: "bAQI=DBA", err: true},
	}
	for _, tc := range cases {
		got, _, err := DecodeEIOText([]byte(tc.in), nil)
		if tc.err {
			if err != ErrEIOPacket {
				t.Errorf("%q: %+v %v, want ErrEIOPacket", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.Type != tc.want.Type || got.Binary != tc.want.Binary || !bytes.Equal(got.Data, tc.want.Data) {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestSplitEIOPayload(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"4a":                         {"4a"},
		"4a\x1e4b\x1ebAQ==":          {"4a", "4b", "bAQ=="},
		"4a\x1e":                     {"4a", ""},
		"":                           {""},
		"\x1e\x1e":                   {"", "", ""},
		"4test1\x1e4test2\x1e4test3": {"4test1", "4test2", "4test3"},
	} {
		var got []string
		for rest, more := []byte(in), true; more; {
			var p []byte
			p, rest, more = SplitEIOPayload(rest)
			got = append(got, string(p))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestEIORecords: what an outbox holds leaves as a polling payload (bounded
// by max, at least one packet) and as WebSocket frames.
func TestEIORecords(t *testing.T) {
	t.Parallel()
	var out []byte
	out = AppendEIORecord(out, EIOMessage, []byte("hello"), false)
	out = AppendEIORecord(out, EIOMessage, []byte{1, 2, 3, 4}, true)
	out = AppendEIORecord(out, EIOPing, nil, false)
	out, at := StartEIOMessage(out)
	out = append(out, "pub"...)
	out = EndEIOMessage(out, at, false)
	out, at = StartEIOMessage(out)
	out = append(out, 0xff)
	out = EndEIOMessage(out, at, true)

	all, n := AppendEIOPolling(nil, out, 1<<20)
	if string(all) != "4hello\x1ebAQIDBA==\x1e2\x1e4pub\x1eb/w==" || n != len(out) {
		t.Fatalf("polling: %q (%d of %d)", all, n, len(out))
	}
	// "4hello" and the separator and "bAQIDBA==" are 16 bytes.
	first, n := AppendEIOPolling(nil, out, 16)
	if string(first) != "4hello\x1ebAQIDBA==" {
		t.Fatalf("bounded to 16: %q", first)
	}
	rest, m := AppendEIOPolling(nil, out[n:], 1)
	if string(rest) != "2" || m != EIORecordSize(0) {
		t.Fatalf("bounded to 1 (one packet at least): %q %d", rest, m)
	}

	frames := AppendEIOFrames(nil, out)
	want := AppendFrame(nil, OpText, []byte("4hello"))
	want = AppendFrame(want, OpBinary, []byte{1, 2, 3, 4})
	want = AppendFrame(want, OpText, []byte("2"))
	want = AppendFrame(want, OpText, []byte("4pub"))
	want = AppendFrame(want, OpBinary, []byte{0xff})
	if !bytes.Equal(frames, want) {
		t.Fatalf("frames:\n%q\nwant\n%q", frames, want)
	}
}

func TestAppendEIOOpenAndError(t *testing.T) {
	t.Parallel()
	open := AppendEIOOpen(nil, "a.b", true, 25000, 20000, 1000000)
	var v map[string]any
	if err := json.Unmarshal(open, &v); err != nil {
		t.Fatal(err)
	}
	if string(open) != `{"sid":"a.b","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}` {
		t.Fatalf("%s", open)
	}
	if got := string(AppendEIOOpen(nil, "x", false, 1, 2, 3)); !strings.Contains(got, `"upgrades":[]`) {
		t.Fatalf("%s", got)
	}
	if got := string(AppendEIOError(nil, EIOUnknownSID, "")); got != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("%s", got)
	}
	if got := string(AppendEIOError(nil, EIOForbidden, `no "entry"`)); got != `{"code":4,"message":"no \"entry\""}` {
		t.Fatalf("%s", got)
	}
	// c1m's own codes, and one past each range.
	for code, want := range map[EIOError]string{
		EIOTooManyConnections: `{"code":100,"message":"too many connections from your address"}`,
		EIOHandshakeRate:      `{"code":101,"message":"too many requests from your address"}`,
		EIOTooManyPolls:       `{"code":102,"message":"too many polls from your address"}`,
		EIOAtCapacity:         `{"code":103,"message":"server at capacity"}`,
		EIOShuttingDown:       `{"code":104,"message":"server shutting down"}`,
		6:                     `{"code":6,"message":"Bad request"}`,
		105:                   `{"code":105,"message":"Bad request"}`,
	} {
		if got := string(AppendEIOError(nil, code, "")); got != want {
			t.Errorf("code %d: %s, want %s", code, got, want)
		}
	}
}

func TestParseEIOQuery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want EIOQuery
		err  bool
	}{
		{in: "EIO=4&transport=polling&t=abc", want: EIOQuery{EIO: "4", Transport: "polling"}},
		{in: "EIO=4&transport=websocket&sid=a.b", want: EIOQuery{EIO: "4", Transport: "websocket", SID: "a.b"}},
		{in: "sid=a%2Eb&sid=c.d&EIO=3", want: EIOQuery{EIO: "3", SID: "c.d"}},
		{in: "transport=poll+ing", want: EIOQuery{Transport: "poll ing"}},
		{in: "EIO", want: EIOQuery{}},
		{in: "", want: EIOQuery{}},
		{in: "a=%zz&EIO=4", want: EIOQuery{EIO: "4"}},
		{in: "sid=%zz", err: true},
	}
	for _, tc := range cases {
		got, err := ParseEIOQuery([]byte(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// FuzzEIOPayload: any body splits into packets whose decoding never
// panics; a payload of decodable packets, queued as records and encoded
// again for polling, comes out the same (binary ones as canonical base64),
// also when split into answers of any bound.
func FuzzEIOPayload(f *testing.F) {
	f.Add([]byte("4hello\x1ebAQIDBA=="), uint16(8))
	f.Add([]byte("4test1\x1e4test2\x1e4test3"), uint16(1))
	f.Add([]byte("2probe"), uint16(100))
	f.Add([]byte("abc"), uint16(3))
	f.Add([]byte("bAQIDBA\x1e\x1e4"), uint16(0))
	f.Fuzz(func(t *testing.T, body []byte, bound uint16) {
		var records, scratch []byte
		var canon [][]byte
		for rest, more := body, true; more; {
			var p []byte
			p, rest, more = SplitEIOPayload(rest)
			pkt, grown, err := DecodeEIOText(p, scratch[:0])
			scratch = grown
			if err != nil {
				return
			}
			if pkt.Binary {
				records = AppendEIORecord(records, EIOMessage, pkt.Data, true)
				canon = append(canon, append([]byte{'b'}, base64.StdEncoding.EncodeToString(pkt.Data)...))
			} else {
				records = AppendEIORecord(records, pkt.Type, pkt.Data, false)
				canon = append(canon, p)
			}
		}
		want := bytes.Join(canon, []byte{EIOSeparator})
		all, n := AppendEIOPolling(nil, records, 1<<30)
		if !bytes.Equal(all, want) || n != len(records) {
			t.Fatalf("%q: re-encoded %q, want %q", body, all, want)
		}
		var parts [][]byte
		for rest := records; len(rest) > 0; {
			part, n := AppendEIOPolling(nil, rest, int(bound))
			if n == 0 {
				t.Fatalf("%q: no progress at a bound of %d", body, bound)
			}
			if len(part) > int(bound) && bytes.IndexByte(part, EIOSeparator) >= 0 {
				t.Fatalf("%q: %d bytes over a bound of %d with several packets", body, len(part), bound)
			}
			parts = append(parts, part)
			rest = rest[n:]
		}
		if got := bytes.Join(parts, []byte{EIOSeparator}); !bytes.Equal(got, want) {
			t.Fatalf("%q: answers at a bound of %d join to %q, want %q", body, bound, got, want)
		}
		// One frame a packet: binary ones raw, text ones as they were.
		frames, k := AppendEIOFrames(nil, records), 0
		for len(frames) > 0 {
			h, n, err := DecodeHeader(frames)
			if err != nil || n == 0 || k >= len(canon) {
				t.Fatalf("%q: frame %d: %+v %d %v", body, k, h, n, err)
			}
			payload := frames[n : n+int(h.Length)]
			if h.Op == OpBinary {
				payload = append([]byte{'b'}, base64.StdEncoding.EncodeToString(payload)...)
			}
			if !h.Fin || !bytes.Equal(payload, canon[k]) {
				t.Fatalf("%q: frame %d is %+v %q, want %q", body, k, h, payload, canon[k])
			}
			frames, k = frames[n+int(h.Length):], k+1
		}
		if k != len(canon) {
			t.Fatalf("%q: %d frames for %d packets", body, k, len(canon))
		}
	})
}

// FuzzParseEIOQuery: the three parameters read as net/url reads them,
// when net/url can read the query.
func FuzzParseEIOQuery(f *testing.F) {
	f.Add([]byte("EIO=4&transport=polling&t=x"))
	f.Add([]byte("EIO=4&transport=websocket&sid=a.b"))
	f.Add([]byte("sid=%41&sid=b+c"))
	f.Add([]byte("sid=%zz"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := ParseEIOQuery(raw)
		vals, uerr := url.ParseQuery(string(raw))
		if uerr != nil {
			return // net/url refuses any bad pair; we only the three we read
		}
		if err != nil {
			t.Fatalf("%q: %v, net/url reads it", raw, err)
		}
		last := func(k string) string {
			if v := vals[k]; len(v) > 0 {
				return v[len(v)-1]
			}
			return ""
		}
		if want := (EIOQuery{EIO: last("EIO"), Transport: last("transport"), SID: last("sid")}); got != want {
			t.Fatalf("%q: %+v, net/url reads %+v", raw, got, want)
		}
	})
}
