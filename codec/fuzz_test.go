package codec

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/bytebufferpool"
)

// Each parser is fuzzed with its input fed whole and split where the fuzzer
// says; seed inputs live in testdata/fuzz/<FuzzName>/.

func FuzzDecoder(f *testing.F) {
	f.Add(frame(0b1000_0001, []byte("hello")), uint16(3), false)
	f.Add(cat(frame(0b0000_0001, []byte("hé")), frame(0b1000_1001, nil), frame(0b1000_0000, []byte("llo"))), uint16(9), false)
	f.Add(frame(0b1100_0001, deflate(f, []byte("compressed compressed"))), uint16(5), true)
	f.Add(frame(0b1000_1000, []byte{0x03, 0xe8}), uint16(1), false)
	f.Fuzz(func(t *testing.T, input []byte, split uint16, inflate bool) {
		whole := decodeAll(t, bytes.Clone(input), inflate)
		parts := decodeAll(t, bytes.Clone(input), inflate, int(split))
		if whole.String() != parts.String() {
			t.Fatalf("whole %v, split at %d: %v", whole, split, parts)
		}
		for _, fr := range whole.frames {
			if len(fr) > 2+int(testLimits.MaxMessage)+1 {
				t.Fatalf("frame of %d bytes passed a %d limit", len(fr), testLimits.MaxMessage)
			}
		}
	})
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0xfe, 0x01, 0x00})
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := DecodeHeader(b)
		if err != nil {
			// Only the length encoding can be wrong: a 16-bit field below
			// 126, or a 64-bit one below 65536 or with the top bit set.
			var l uint64
			var field int
			switch {
			case len(b) >= 4 && b[1]&maskLen7 == len16:
				l, field = uint64(binary.BigEndian.Uint16(b[2:])), 2
			case len(b) >= 10 && b[1]&maskLen7 == len64:
				l, field = binary.BigEndian.Uint64(b[2:]), 8
			default:
				t.Fatalf("% x: %v", b, err)
			}
			minimal := l>>63 == 0 && HeaderSize(int(l)) == 2+field
			if err != ErrBadLength || minimal {
				t.Fatalf("% x: %v for a length of %d in %d bytes", b, err, l, field)
			}
			return
		}
		if n == 0 {
			return
		}
		if n > MaxHeaderSize || n > len(b) || h.Length < 0 {
			t.Fatalf("header %+v size %d of %d bytes", h, n, len(b))
		}
		// The encoding is minimal, so the header re-encodes to the same bytes.
		re := appendHeader(nil, b[0]&^bitFin, h.Fin, int(h.Length))
		if h.Masked {
			re[1] |= bitMask
			re = append(re, h.Mask[:]...)
		}
		if !bytes.Equal(re, b[:n]) {
			t.Fatalf("% x decoded as %+v, which encodes as % x", b[:n], h, re)
		}
		// Every shorter prefix is "need more", never a different header.
		for i := 0; i < n; i++ {
			if _, m, err := DecodeHeader(b[:i]); m != 0 || err != nil {
				t.Fatalf("prefix of %d bytes decoded as %d, %v", i, m, err)
			}
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(upgradeHead("")), uint16(10))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint16(3))
	f.Fuzz(func(t *testing.T, b []byte, split uint16) {
		const limit = 1024
		n, err := HeadLen(b, 0, limit)
		// Fed in two parts, with the second call resuming the search.
		s := min(int(split), len(b))
		n1, err1 := HeadLen(b[:s], 0, limit)
		if n1 == 0 && err1 == nil {
			n1, err1 = HeadLen(b, s, limit)
		}
		if n != n1 || err != err1 {
			t.Fatalf("whole %d %v, split at %d: %d %v", n, err, s, n1, err1)
		}
		if n > 0 {
			r, err := ParseRequest(b[:n])
			if err == nil {
				target := string(r.Path)
				if len(r.RawQuery) > 0 || bytes.HasSuffix(r.Target, []byte("?")) {
					target += "?" + string(r.RawQuery)
				}
				if len(r.Method) == 0 || !isToken(r.Method) || target != string(r.Target) || r.Minor < 0 || r.Minor > 9 {
					t.Fatalf("%q parsed as %q %q %q %q 1.%d", b[:n], r.Method, r.Target, r.Path, r.RawQuery, r.Minor)
				}
				r.EachHeader(func(k, v []byte) bool {
					if len(k) == 0 || !isToken(k) {
						t.Fatalf("%q: header name %q", b[:n], k)
					}
					return true
				})
				_ = r.IsWebSocketUpgrade()
			}
		}
	})
}

func FuzzHandshake(f *testing.F) {
	f.Add([]byte("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"))
	f.Add([]byte("Sec-WebSocket-Protocol: chat, c1m.v1.json\r\n"))
	f.Add([]byte("Origin: http://x\r\n"))
	f.Add([]byte("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; client_max_window_bits\r\n"))
	f.Add([]byte("Sec-WebSocket-Extensions: permessage-deflate\r\n"))
	h := NewHandshaker(HandshakeConfig{Protocols: fuzzProtocols, Deflate: &DeflateConfig{}})
	f.Fuzz(func(t *testing.T, extra []byte) {
		head := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + sampleKey +
			"\r\nSec-WebSocket-Version: 13\r\n" + string(extra) + "\r\n"
		checkHandshake(t, h, []byte(head))
	})
}

// FuzzHandshakeHead fuzzes the whole request head, delimited by HeadLen as
// the server does, where FuzzHandshake varies only extra header lines
// after a valid request line, key and version. The Handshaker is shared by
// every input, as one is by every connection of a loop.
func FuzzHandshakeHead(f *testing.F) {
	f.Add([]byte(upgradeHead("")))
	f.Add([]byte(upgradeHead("Sec-WebSocket-Protocol: chat, c1m.v1.json\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n")))
	f.Add([]byte(strings.Replace(upgradeHead(""), "Version: 13", "Version: 8", 1)))
	f.Add([]byte("GET / HTTP/1.0\r\nHost: x\r\n\r\n"))
	const limit = 1024
	h := NewHandshaker(HandshakeConfig{Protocols: fuzzProtocols, Deflate: &DeflateConfig{}, MaxHead: limit})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := HeadLen(b, 0, limit)
		if n == 0 || err != nil {
			return
		}
		checkHandshake(t, h, b[:n])
	})
}

var fuzzProtocols = []string{"chat", EnvelopeProtocol}

// rfcMinWindowBits is the smallest client_max_window_bits of RFC 7692.
const rfcMinWindowBits = 8

// checkHandshake runs a handshake and checks its answer with net/http's
// response parser: on success a 101 whose headers agree with the returned
// Handshake; on failure nothing (the server then answers 400 itself) or a
// 4xx/5xx response. It then checks that a valid handshake on the same
// Handshaker still gives the expected answer, so no state leaks from one
// handshake to the next.
func checkHandshake(t *testing.T, h *Handshaker, head []byte) {
	t.Helper()
	var out bytes.Buffer
	hs, err := h.Upgrade(head, &out, nil)
	if err != nil {
		if out.Len() == 0 {
			return
		}
		resp, rerr := http.ReadResponse(bufio.NewReader(&out), nil)
		if rerr != nil || resp.StatusCode < 400 || resp.StatusCode > 599 {
			t.Fatalf("error %v answered with %q (%v)", err, out.Bytes(), rerr)
		}
		if st := RejectStatus(err); st != 0 && st != resp.StatusCode {
			t.Fatalf("rejection %d answered with %d", st, resp.StatusCode)
		}
		return
	}
	resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(out.Bytes())), nil)
	if rerr != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("accepted with %q (%v)", out.Bytes(), rerr)
	}
	if len(resp.Header.Get("Sec-WebSocket-Accept")) != 28 || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("101 without accept or upgrade: %q", out.Bytes())
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != hs.Protocol || p != "" && !slices.Contains(fuzzProtocols, p) {
		t.Fatalf("protocol %q, answered %q", hs.Protocol, p)
	}
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	if hs.Deflate != strings.HasPrefix(ext, "permessage-deflate") || hs.Deflate && !strings.Contains(ext, "server_no_context_takeover") {
		t.Fatalf("deflate %v, answered %q", hs.Deflate, ext)
	}
	// The window kept for the client is what the answer grants it.
	want := 0
	switch _, bits, ok := strings.Cut(ext, "client_max_window_bits="); {
	case !hs.Deflate, strings.Contains(ext, "client_no_context_takeover"):
	case ok:
		b, err := strconv.Atoi(bits)
		if err != nil || b < rfcMinWindowBits || b > maxWindowBits {
			t.Fatalf("answered %q", ext)
		}
		want = 1 << b
	default:
		want = 1 << maxWindowBits
	}
	if hs.ClientWindow != want {
		t.Fatalf("client window %d, answered %q", hs.ClientWindow, ext)
	}
	// What a connection keeps is bounded by the configuration, whatever
	// the client offers.
	if limit := 1 << h.neg.cfg.ClientWindowBits; hs.ClientWindow > limit {
		t.Fatalf("client window %d over the configured %d, answered %q", hs.ClientWindow, limit, ext)
	}
	// A server window below 15 bits is granted as offered and served
	// Huffman-only; 15 or none is served at the configured level.
	small := false
	if _, bits, ok := strings.Cut(ext, "server_max_window_bits="); ok {
		bits, _, _ = strings.Cut(bits, ";")
		b, err := strconv.Atoi(bits)
		if err != nil || b < rfcMinWindowBits || b > maxWindowBits {
			t.Fatalf("answered %q", ext)
		}
		small = b < maxWindowBits
	}
	if hs.HuffmanOnly != small {
		t.Fatalf("Huffman only %v, answered %q", hs.HuffmanOnly, ext)
	}
	out.Reset()
	good := upgradeHead("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Protocol: chat\r\n")
	hs, err = h.Upgrade([]byte(good), &out, nil)
	if err != nil || hs != (Handshake{Protocol: "chat", Deflate: true, ClientWindow: 1 << defaultClientWindowBits}) {
		t.Fatalf("after %q, a valid handshake gives %+v %v", head, hs, err)
	}
}

func FuzzParseClose(f *testing.F) {
	f.Add([]byte{0x03, 0xe8, 'o', 'k'})
	f.Add([]byte{0x03})
	f.Fuzz(func(t *testing.T, p []byte) {
		code, reason, err := ParseClose(p)
		if err == nil && (len(p) > 0 && !code.ValidOnWire() || !utf8.Valid(reason)) {
			t.Fatalf("accepted code %d reason %q", code, reason)
		}
		if len(p) < 2 {
			return
		}
		// The encoder: what AppendClose builds from a valid code and a UTF-8
		// reason of any length is one control frame that ParseClose
		// accepts, its reason cut at a rune boundary.
		code = StatusCode(binary.BigEndian.Uint16(p))
		want := string(p[2:])
		if !code.ValidOnWire() || !utf8.ValidString(want) {
			return
		}
		fr := AppendClose(nil, code, want)
		h, n, err := DecodeHeader(fr)
		if err != nil || n == 0 || !h.Fin || h.Op != OpClose || h.Length > MaxControlPayload || int64(len(fr)-n) != h.Length {
			t.Fatalf("close frame % x: %+v %v", fr, h, err)
		}
		got, r, err := ParseClose(fr[n:])
		if err != nil || got != code || !strings.HasPrefix(want, string(r)) || len(r) < min(len(want), MaxCloseReason)-(utf8.UTFMax-1) {
			t.Fatalf("code %d reason %q: frame % x parses as %d %q %v", code, want, fr, got, r, err)
		}
	})
}

func FuzzUTF8(f *testing.F) {
	f.Add([]byte("héllo"), uint8(2))
	f.Add([]byte("\xed\xa0\x80"), uint8(1))
	f.Fuzz(func(t *testing.T, p []byte, split uint8) {
		k := min(int(split), len(p))
		s, ok := UTF8State(0).Feed(p[:k])
		if ok {
			s, ok = s.Feed(p[k:])
		}
		if got, want := ok && s.Complete(), utf8.Valid(p); got != want {
			t.Fatalf("% x split at %d: %v, utf8.Valid %v", p, k, got, want)
		}
	})
}

func FuzzInflate(f *testing.F) {
	f.Add(deflate(f, []byte("hello hello hello")))
	f.Add(deflate(f, make([]byte, 10000)))
	f.Fuzz(func(t *testing.T, compressed []byte) {
		const limit = 4096
		out := bytebufferpool.Get()
		defer bytebufferpool.Put(out)
		got, err := NewInflater(1<<10).Inflate(out, compressed, limit)
		if err == nil && len(got) > limit {
			t.Fatalf("%d bytes out of a %d limit", len(got), limit)
		}
		// Limits at and below zero end too (no room to read must not spin).
		for _, lim := range []int64{0, -1} {
			if got, err := NewInflater(0).Inflate(out, compressed, lim); err == nil && len(got) > 0 {
				t.Fatalf("%d bytes out of a %d limit", len(got), lim)
			}
		}
		if err != nil && err != ErrCompressedTooBig && err != ErrBadCompressedData && err != io.ErrUnexpectedEOF {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	f.Add([]byte(`{"op":"subscribe","topic":"news","id":1}`))
	f.Add([]byte(`{"op":"publish","topic":"chat","data":"hi","id":"a"}`))
	f.Add([]byte(`{"op":"publish","topic":"t","data":{"k":[1,2]},"id":null}`))
	f.Add([]byte(`{"op":"refresh","token":"a.b.c","id":2}`))
	f.Add([]byte(`{"op":"subscribe","topic":"private:x","token":"a.b.c","since":3,"epoch":"e1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		c, err := ParseCommand(data)
		if !bytes.Equal(in, data) {
			t.Fatalf("ParseCommand changed its input")
		}
		if err != nil {
			if err != ErrBadCommand {
				t.Fatalf("error %v is not ErrBadCommand", err)
			}
			return
		}
		switch c.Op {
		case OpSubscribe, OpUnsubscribe, OpPublish:
		case OpRefresh:
			if c.Token == "" || c.Topic != "" {
				t.Fatalf("accepted a refresh with token %q and topic %q", c.Token, c.Topic)
			}
		default:
			t.Fatalf("accepted op %q", c.Op)
		}
		if c.Token != "" && c.Op != OpSubscribe && c.Op != OpRefresh {
			t.Fatalf("accepted a token on %q", c.Op)
		}
		if c.Op != OpRefresh && (len(c.Topic) == 0 || len(c.Topic) > MaxTopicLen || c.Topic[0] == '$') {
			t.Fatalf("accepted topic %q", c.Topic)
		}
		for i := 0; i < len(c.Topic); i++ {
			if b := c.Topic[i]; b <= ' ' || b >= 0x7f {
				t.Fatalf("accepted topic %q", c.Topic)
			}
		}
		// A command is a JSON text message: what is accepted is UTF-8, and
		// the reply that echoes its id is valid JSON and UTF-8 too (it goes
		// out as a text frame, which a client fails with 1007 otherwise).
		if !utf8.Valid(data) {
			t.Fatalf("accepted a command that is not UTF-8")
		}
		for _, raw := range []json.RawMessage{c.ID, c.Data} {
			if len(raw) > 0 && !json.Valid(raw) {
				t.Fatalf("raw field %q is not JSON", raw)
			}
		}
		for _, reason := range []string{"", "bad command"} {
			reply := AppendReply(nil, c.ID, reason)
			var r struct {
				Op string          `json:"op"`
				ID json.RawMessage `json:"id"`
			}
			if !utf8.Valid(reply) || json.Unmarshal(reply, &r) != nil || compactJSON(t, r.ID) != compactJSON(t, c.ID) {
				t.Fatalf("reply %q does not carry id %q", reply, c.ID)
			}
		}
		// Its keys are the command's, spelt exactly (a map is filled
		// case-sensitively, unlike a struct).
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(data, &keys); err != nil {
			t.Fatalf("accepted %q, which is not a JSON object: %v", data, err)
		}
		for k := range keys {
			switch k {
			case "op", "topic", "id", "data", "since", "epoch", "token":
			default:
				t.Fatalf("accepted key %q", k)
			}
		}
		// Round trip: the command marshalled back parses to the same
		// fields. json.Marshal may spell id and data otherwise (it escapes
		// <, > and & in strings, and drops insignificant whitespace), so
		// they are compared as JSON values, not as text.
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal %+v: %v", c, err)
		}
		c2, err := ParseCommand(out)
		if err != nil || c2.Op != c.Op || c2.Topic != c.Topic || c2.Token != c.Token || !sameJSON(t, c2.ID, c.ID) || !sameJSON(t, c2.Data, c.Data) {
			t.Fatalf("%q round-tripped as %q: %+v %v", data, out, c2, err)
		}
		if p := c.PublishPayload(); len(c.Data) > 0 && c.Data[0] == '"' {
			var s string
			if json.Unmarshal(c.Data, &s) != nil || string(p) != s {
				t.Fatalf("string data %q published as %q", c.Data, p)
			}
		} else if !bytes.Equal(p, c.Data) {
			t.Fatalf("data %q published as %q", c.Data, p)
		}
	})
}

// sameJSON reports whether a and b are the same JSON value (both empty
// counts as the same): strings after unescaping, numbers as written.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	decode := func(raw []byte) any {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode %q: %v", raw, err)
		}
		return v
	}
	return reflect.DeepEqual(decode(a), decode(b))
}

// compactJSON returns raw without insignificant whitespace ("" for none).
func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compact %q: %v", raw, err)
	}
	return b.String()
}

// FuzzInflateContext inflates messages compressed by a client that keeps
// its context within a window of 2^8..2^15 bytes (or none), one after the
// other on one Inflater, so the dictionary it keeps between messages is
// checked against what the client's compressor could refer to. Each
// message must inflate exactly at a limit of its own size and fail one
// byte below it. The server's own compression (no context takeover) must
// round-trip too.
func FuzzInflateContext(f *testing.F) {
	f.Add([]byte("the quick brown fox, the quick brown fox jumps, over the quick brown fox"), uint16(20), uint16(46), uint8(7))
	f.Add(bytes.Repeat([]byte("abcdefgh"), 100), uint16(300), uint16(600), uint8(0))
	f.Add([]byte("no context no context no context"), uint16(10), uint16(20), uint8(8))
	deflater := NewDeflater(flate.BestSpeed)
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint16, bits uint8) {
		window := 1 << (rfcMinWindowBits + bits%8)
		if bits&8 != 0 {
			window = 0 // client_no_context_takeover
		}
		a := int(cut1) % (len(data) + 1)
		b := a + int(cut2)%(len(data)-a+1)
		inf := NewInflater(window)
		out := bytebufferpool.Get()
		defer bytebufferpool.Put(out)
		var history []byte
		for i, msg := range [][]byte{data[:a], data[a:b], data[b:]} {
			var dict []byte
			if window > 0 {
				dict = history[max(0, len(history)-window):]
			}
			var buf bytes.Buffer
			fw, err := flate.NewWriterDict(&buf, flate.BestCompression, dict)
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(msg)
			fw.Flush()
			compressed := bytes.TrimSuffix(buf.Bytes(), deflateTail)
			if len(msg) > 0 {
				probe := &Inflater{window: inf.window, dict: bytes.Clone(inf.dict)}
				if _, err := probe.Inflate(out, compressed, int64(len(msg)-1)); err != ErrCompressedTooBig {
					t.Fatalf("message %d of %d bytes at a limit of %d: %v", i, len(msg), len(msg)-1, err)
				}
			}
			got, err := inf.Inflate(out, compressed, int64(len(msg)))
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("message %d (window %d, dictionary %d bytes): %q %v, want %q", i, window, len(dict), got, err, msg)
			}
			history = append(history, msg...)

			own := deflater.AppendCompressed(nil, msg)
			if got, err := NewInflater(0).Inflate(out, own, int64(len(msg))); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("server compression of %q: %q %v", msg, got, err)
			}
		}
	})
}

// FuzzAppendEnvelope: envelopes and replies are JSON in text frames, so
// they must be valid UTF-8 and parse back (strictly) to what was put in,
// whatever the payload, the topic's characters or the reason's.
func FuzzAppendEnvelope(f *testing.F) {
	f.Add("news", "k3v9q0", uint64(7), []byte("hello"), "bad command")
	f.Add("a\"b<>&\u2028", "", uint64(1<<63), []byte("\xff\x00binary\u2029"), "line\nbreak")
	f.Add("", "", uint64(0), []byte(nil), "")
	f.Fuzz(func(t *testing.T, topic, epoch string, offset uint64, payload []byte, reason string) {
		// Topics and reasons come from the server: UTF-8 (topics are
		// printable ASCII, see ValidTopic); appendJSONString requires it.
		topic, reason = strings.ToValidUTF8(topic, "\uFFFD"), strings.ToValidUTF8(reason, "\uFFFD")
		if !ValidEpoch(epoch) {
			epoch = ""
		}
		env := AppendEnvelope(nil, topic, epoch, offset, payload)
		var e struct {
			Topic   string  `json:"topic"`
			Offset  *uint64 `json:"offset"`
			Epoch   string  `json:"epoch"`
			Data    *string `json:"data"`
			DataB64 *[]byte `json:"data_b64"`
		}
		if !utf8.Valid(env) || strictJSON(env, &e) != nil || e.Topic != topic || e.Offset == nil || *e.Offset != offset || e.Epoch != epoch {
			t.Fatalf("envelope %q of topic %q epoch %q offset %d", env, topic, epoch, offset)
		}
		if bytes.Contains(env, []byte("\u2028")) || bytes.Contains(env, []byte("\u2029")) {
			t.Fatalf("envelope %q holds a raw line separator, which ends a line in older JavaScript", env)
		}
		switch {
		case utf8.Valid(payload):
			if e.Data == nil || e.DataB64 != nil || *e.Data != string(payload) {
				t.Fatalf("envelope %q of UTF-8 payload %q", env, payload)
			}
		case e.Data != nil || e.DataB64 == nil || !bytes.Equal(*e.DataB64, payload):
			t.Fatalf("envelope %q of binary payload %q", env, payload)
		}
		if bytes.ContainsAny(env, "<>&") {
			t.Fatalf("envelope %q is not safe in HTML", env)
		}

		id, _ := json.Marshal(topic)
		reply := AppendReply(nil, id, reason)
		var r struct {
			Op    string `json:"op"`
			ID    string `json:"id"`
			Error string `json:"error"`
		}
		wantOp := "ok"
		if reason != "" {
			wantOp = "error"
		}
		if !utf8.Valid(reply) || strictJSON(reply, &r) != nil || r.Op != wantOp || r.ID != topic || r.Error != reason {
			t.Fatalf("reply %q to id %s reason %q", reply, id, reason)
		}
	})
}

// strictJSON decodes one JSON object with no unknown fields and nothing after it.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return io.ErrUnexpectedEOF
	}
	return nil
}
