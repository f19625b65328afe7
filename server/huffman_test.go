package server_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
)

// deflateClient is a raw client that offers permessage-deflate as a test
// writes it (gorilla and coder cannot offer server_max_window_bits) and
// reads the server's frames.
type deflateClient struct {
	nc  net.Conn
	br  *bufio.Reader
	ext string // the server's Sec-WebSocket-Extensions answer
}

func dialDeflate(t *testing.T, addr, path, offer, protocol string) *deflateClient {
	t.Helper()
	extra := "Sec-WebSocket-Extensions: " + offer + "\r\n"
	if protocol != "" {
		extra += "Sec-WebSocket-Protocol: " + protocol + "\r\n"
	}
	nc, err := net.DialTimeout("tcp", addr, wstest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := nc.Write([]byte(wstest.Request(path, extra))); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return &deflateClient{nc: nc, br: br, ext: resp.Header.Get("Sec-WebSocket-Extensions")}
}

// frame reads one server frame: its RSV1 bit and payload.
func (c *deflateClient) frame(t *testing.T) (compressed bool, payload []byte) {
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	var hdr [codec.MaxHeaderSize]byte
	if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
		t.Fatal(err)
	}
	n := 2
	switch hdr[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if _, err := io.ReadFull(c.br, hdr[2:n]); err != nil {
		t.Fatal(err)
	}
	h, _, err := codec.DecodeHeader(hdr[:n])
	if err != nil {
		t.Fatal(err)
	}
	payload = make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		t.Fatal(err)
	}
	return h.Rsv1(), payload
}

// TestSmallServerWindowGetsCompression: a client that offers
// server_max_window_bits below 15 gets permessage-deflate with that window,
// and every compressed frame it receives, shared publications and its own
// replies alike, holds literals only: no back-reference, so it inflates
// with any window. A client without the limit gets LZ77 back-references in
// the publication, which shows that the check tells them apart.
func TestSmallServerWindowGetsCompression(t *testing.T) {
	t.Parallel()
	srv, addr := start(t, server.NewPush(nil), server.Config{
		Protocols:   []string{codec.EnvelopeProtocol},
		Compression: &codec.DeflateConfig{MinSize: -1},
	})
	publication := []byte(strings.Repeat(`{"bid":101.25,"ask":101.5},`, 40))
	cases := []struct {
		name, offer, protocol string
		literals              bool
	}{
		{"window 9", "permessage-deflate; server_max_window_bits=9; client_no_context_takeover", "", true},
		{"window 12, envelope", "permessage-deflate; server_max_window_bits=12; client_max_window_bits", codec.EnvelopeProtocol, true},
		{"no limit", "permessage-deflate; client_no_context_takeover", "", false},
	}
	clients := make([]*deflateClient, len(cases))
	for i, tc := range cases {
		c := dialDeflate(t, addr, "/ws?topic=t", tc.offer, tc.protocol)
		if !strings.Contains(c.ext, "permessage-deflate") {
			t.Fatalf("%s: compression declined (%q)", tc.name, c.ext)
		}
		if tc.literals && !strings.Contains(c.ext, "server_max_window_bits=") {
			t.Fatalf("%s: answer %q does not grant the window", tc.name, c.ext)
		}
		clients[i] = c
	}
	if _, err := srv.Hub().Publish("t", publication); err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		c := clients[i]
		for _, what := range []string{"publication", "reply"} {
			if what == "reply" {
				// A command with an id gets a reply: the connection's own
				// output, not a shared frame.
				cmd := []byte(`{"op":"subscribe","topic":"u","id":"` + strings.Repeat("r", 100) + `"}`)
				if _, err := c.nc.Write(wstest.Masked(true, 0, codec.OpText, cmd)); err != nil {
					t.Fatal(err)
				}
			}
			compressed, payload := c.frame(t)
			if !compressed {
				t.Fatalf("%s: %s not compressed", tc.name, what)
			}
			lits, err := wstest.LiteralsOnly(payload)
			switch {
			case tc.literals && err != nil:
				t.Fatalf("%s: %s: %v", tc.name, what, err)
			case !tc.literals && what == "publication" && !errors.Is(err, wstest.ErrBackReference):
				t.Fatalf("%s: publication without back-references (%v): the check tells nothing apart", tc.name, err)
			}
			inflated, ierr := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff}))))
			if ierr != nil && ierr != io.ErrUnexpectedEOF {
				t.Fatalf("%s: %s: inflate: %v", tc.name, what, ierr)
			}
			if err == nil && !bytes.Equal(lits, inflated) {
				t.Fatalf("%s: %s: literals differ from what flate inflates", tc.name, what)
			}
			// The envelope carries the publication as a JSON string.
			if what == "publication" && !bytes.Equal(inflated, publication) && !bytes.Contains(inflated, []byte(`\"bid\":101.25`)) {
				t.Fatalf("%s: publication inflates to %.40q", tc.name, inflated)
			}
		}
	}
}
