package loadgen

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestParsePacket: the Socket.IO v5 packets of the protocol document's
// examples, and what is refused.
func TestParsePacket(t *testing.T) {
	t.Parallel()
	cases := []struct {
		wire    string
		typ     byte
		ns      string
		id      int64
		atts    int
		data    string
		wantErr bool
	}{
		{wire: `0{"sid":"oSO0OpakMV_3jnilAAAA"}`, typ: SIOConnect, ns: "/", id: -1, data: `{"sid":"oSO0OpakMV_3jnilAAAA"}`},
		{wire: `0/admin,{"sid":"x"}`, typ: SIOConnect, ns: "/admin", id: -1, data: `{"sid":"x"}`},
		{wire: `0`, typ: SIOConnect, ns: "/", id: -1},
		{wire: `1`, typ: SIODisconnect, ns: "/", id: -1},
		{wire: `1/admin,`, typ: SIODisconnect, ns: "/admin", id: -1},
		{wire: `2["foo"]`, typ: SIOEvent, ns: "/", id: -1, data: `["foo"]`},
		{wire: `2/admin,["bar"]`, typ: SIOEvent, ns: "/admin", id: -1, data: `["bar"]`},
		{wire: `212["foo","x"]`, typ: SIOEvent, ns: "/", id: 12, data: `["foo","x"]`},
		{wire: `2/admin,7["a",1]`, typ: SIOEvent, ns: "/admin", id: 7, data: `["a",1]`},
		{wire: `31["t"]`, typ: SIOAck, ns: "/", id: 1, data: `["t"]`},
		{wire: `3/admin,13["bar"]`, typ: SIOAck, ns: "/admin", id: 13, data: `["bar"]`},
		{wire: `4{"message":"Not authorized"}`, typ: SIOConnectError, ns: "/", id: -1, data: `{"message":"Not authorized"}`},
		{wire: `51-["baz",{"_placeholder":true,"num":0}]`, typ: SIOBinaryEvent, ns: "/", id: -1, atts: 1, data: `["baz",{"_placeholder":true,"num":0}]`},
		{wire: `52-/admin,4["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, typ: SIOBinaryEvent, ns: "/admin", id: 4, atts: 2,
			data: `["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
		{wire: `61-/admin,15[{"_placeholder":true,"num":0}]`, typ: SIOBinaryAck, ns: "/admin", id: 15, atts: 1, data: `[{"_placeholder":true,"num":0}]`},
		{wire: ``, wantErr: true},
		{wire: `7["x"]`, wantErr: true},
		{wire: `x`, wantErr: true},
		{wire: `2`, wantErr: true},                          // an event without data
		{wire: `2{"a":1}`, wantErr: true},                   // event data must be an array
		{wire: `2"str"`, wantErr: true},                     // idem
		{wire: `3["x"]`, wantErr: true},                     // an ack without id
		{wire: `0[1]`, wantErr: true},                       // connect data must be an object
		{wire: `1x`, wantErr: true},                         // data in a disconnect
		{wire: `5["a"]`, wantErr: true},                     // no attachment count
		{wire: `5x-["a"]`, wantErr: true},                   // not a number
		{wire: `51["a"]`, wantErr: true},                    // no '-'
		{wire: `51`, wantErr: true},                         // ends in the count
		{wire: `5999-["a"]`, wantErr: true},                 // over maxAttachments
		{wire: `21a["x"]`, wantErr: true},                   // junk after the id
		{wire: `299999999999999999999["x"]`, wantErr: true}, // id over int64
		{wire: `2[`, wantErr: true},                         // too short to be an array
	}
	for _, c := range cases {
		t.Run(c.wire, func(t *testing.T) {
			t.Parallel()
			pk, err := ParsePacket([]byte(c.wire))
			if c.wantErr {
				var pe ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("ParsePacket(%q) = %+v, %v; want a ProtocolError", c.wire, pk, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePacket(%q): %v", c.wire, err)
			}
			if pk.Type != c.typ || string(pk.Namespace) != c.ns || pk.ID != c.id || pk.Attachments != c.atts || string(pk.Data) != c.data {
				t.Fatalf("ParsePacket(%q) = type %c ns %q id %d atts %d data %q", c.wire, pk.Type, pk.Namespace, pk.ID, pk.Attachments, pk.Data)
			}
		})
	}
}

func TestAppendPacket(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ  byte
		ns   string
		id   int64
		data string
		want string
	}{
		{SIOConnect, "/", -1, "", "40"},
		{SIOConnect, "", -1, `{"token":"x"}`, `40{"token":"x"}`},
		{SIOConnect, "/admin", -1, "", "40/admin,"},
		{SIOEvent, "/", 1, `["join","t"]`, `421["join","t"]`},
		{SIOEvent, "/admin", 12, `["a"]`, `42/admin,12["a"]`},
		{SIOAck, "/", 0, `[]`, `430[]`},
	}
	for _, c := range cases {
		if got := string(AppendPacket(nil, c.typ, c.ns, c.id, []byte(c.data))); got != c.want {
			t.Errorf("AppendPacket(%c, %q, %d, %q) = %q, want %q", c.typ, c.ns, c.id, c.data, got, c.want)
		}
		// What the client sends, the client's parser reads back.
		pk, err := ParsePacket([]byte(c.want[1:]))
		if err != nil || pk.Type != c.typ || pk.ID != c.id || string(pk.Data) != c.data {
			t.Errorf("ParsePacket(%q) = %+v, %v", c.want[1:], pk, err)
		}
	}
}

// frame is a server's unmasked WebSocket frame (payloads under 126 bytes).
func frame(op byte, p string) string {
	return string([]byte{0x80 | op, byte(len(p))}) + p
}

// masked is the client's masked frame, as appendMasked writes it.
func masked(op byte, p string) string { return string(appendMasked(nil, op, []byte(p))) }

// packetLogger logs Socket.IO packets too.
type packetLogger struct{ logger }

func (g *packetLogger) Packet(_ *Conn, p *Packet) {
	g.lines = append(g.lines, fmt.Sprintf("packet %c %s %d %s %q", p.Type, p.Namespace, p.ID, p.Data, p.Binary))
}

// TestSocketIOSplits: a Socket.IO session's server side, however its
// bytes are split between reads, gives the same handler calls, and the
// client answers the open with a CONNECT and each ping with a pong.
func TestSocketIOSplits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		wire     string
		want     []string
		wantOut  string
		wantErr  error // the error Closed gets
		wantProt bool  // a ProtocolError
	}{
		{
			name: "session",
			wire: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" +
				frame(opText, `0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`) +
				frame(opText, `40{"sid":"n"}`) + frame(opText, "2") + frame(opText, `431["t"]`) +
				frame(opText, `42["message","hello"]`) + frame(opText, "6") +
				frame(opText, `451-["message",{"_placeholder":true,"num":0}]`) + frame(opBinary, "\x01\x02") +
				frame(opText, `452-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`) + frame(opBinary, "a") + frame(opBinary, "bc") +
				frame(opText, `42/other,["x"]`) + frame(opText, "41"),
			want: []string{
				"opened", `packet 3 / 1 ["t"] []`, `packet 2 / -1 ["message","hello"] []`,
				`packet 5 / -1 ["message",{"_placeholder":true,"num":0}] ["\x01\x02"]`,
				`packet 5 / -1 ["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}] ["a" "bc"]`,
				`packet 2 /other -1 ["x"] []`, "closed",
			},
			wantOut: masked(opText, "40") + masked(opText, "3"),
			wantErr: ErrClosedByServer,
		},
		{
			name: "connect refused",
			wire: "HTTP/1.1 101 Switching Protocols\r\n\r\n" + frame(opText, `0{"sid":"s"}`) + frame(opText, `44{"message":"no"}`),
			want: []string{"closed"}, wantOut: masked(opText, "40"), wantProt: true,
		},
		{
			name: "engine.io close",
			wire: "HTTP/1.1 101 Switching Protocols\r\n\r\n" + frame(opText, `0{"sid":"s"}`) + frame(opText, `40{"sid":"n"}`) + frame(opText, "1"),
			want: []string{"opened", "closed"}, wantOut: masked(opText, "40"), wantErr: ErrClosedByServer,
		},
		{
			name: "message before open",
			wire: "HTTP/1.1 101 Switching Protocols\r\n\r\n" + frame(opText, `40{"sid":"n"}`),
			want: []string{"closed"}, wantProt: true,
		},
		{
			name: "attachment with no packet",
			wire: "HTTP/1.1 101 Switching Protocols\r\n\r\n" + frame(opText, `0{"sid":"s"}`) + frame(opBinary, "x"),
			want: []string{"closed"}, wantOut: masked(opText, "40"), wantProt: true,
		},
		{
			name: "bad socket.io packet",
			wire: "HTTP/1.1 101 Switching Protocols\r\n\r\n" + frame(opText, `0{"sid":"s"}`) + frame(opText, `4x`),
			want: []string{"closed"}, wantOut: masked(opText, "40"), wantProt: true,
		},
		{
			name: "unknown engine.io type",
			wire: "HTTP/1.1 101 Switching Protocols\r\n\r\n" + frame(opText, `9`),
			want: []string{"closed"}, wantProt: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for how, pieces := range splits(c.wire) {
				fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				g := &packetLogger{}
				l := &Loop{cfg: Config{Transport: SocketIO}, h: g, epfd: -1, conns: map[int]*Conn{}}
				conn := &Conn{fd: fds[0], state: stateHandshake}
				l.conns[fds[0]] = conn
				for _, p := range pieces {
					if conn.state != stateClosed {
						l.input(conn, p)
					}
				}
				if conn.state != stateClosed {
					l.drop(conn, nil) // closes fds[0]
				}
				out, _ := io.ReadAll(fdReader(fds[1]))
				unix.Close(fds[1])
				if !slices.Equal(g.lines, c.want) {
					t.Fatalf("%s:\n got %q\nwant %q", how, g.lines, c.want)
				}
				if string(out) != c.wantOut {
					t.Fatalf("%s: the client wrote %q, want %q", how, out, c.wantOut)
				}
				var pe ProtocolError
				switch last := g.errs[len(g.errs)-1]; {
				case c.wantProt && !errors.As(last, &pe):
					t.Fatalf("%s: closed with %v, want a ProtocolError", how, last)
				case !c.wantProt && !errors.Is(last, c.wantErr):
					t.Fatalf("%s: closed with %v, want %v", how, last, c.wantErr)
				}
			}
		})
	}
}

// fdReader reads a socket until EOF.
type fdReader int

func (f fdReader) Read(p []byte) (int, error) {
	n, err := unix.Read(int(f), p)
	if n <= 0 && err == nil {
		return 0, io.EOF
	}
	return max(n, 0), err
}

// TestEmit: the join event with its ack id, framed and masked.
func TestEmit(t *testing.T) {
	t.Parallel()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	l := &Loop{cfg: Config{Transport: SocketIO}, h: BuiltinHandler{}, epfd: -1, conns: map[int]*Conn{}}
	c := &Conn{fd: fds[0], state: stateOpen}
	l.conns[fds[0]] = c
	l.Emit(c, 1, []byte(`["join","t"]`))
	long := `["join","` + strings.Repeat("r", 200) + `"]`
	l.Emit(c, -1, []byte(long))
	l.drop(c, nil)
	out, _ := io.ReadAll(fdReader(fds[1]))
	if want := masked(opText, `421["join","t"]`) + masked(opText, "42"+long); string(out) != want {
		t.Fatalf("wrote %q, want %q", out, want)
	}
}

// TestFrameTooLong: a frame whose 64-bit length is over the generator's
// bound (or has its top bit set) ends the connection from the header,
// before any payload is buffered.
func TestFrameTooLong(t *testing.T) {
	t.Parallel()
	for _, head := range []string{
		"\x82\x7f\x00\x00\x00\x00\x01\x00\x00\x01", // 16 MiB + 1
		"\x82\x7f\x85\x2f\x7e\x5d\x9e\x1c\x3a\x3a", // top bit set: negative as an int
	} {
		g := &logger{}
		l := &Loop{cfg: Config{Transport: WebSocket}, h: g, epfd: -1, conns: map[int]*Conn{}}
		c := &Conn{fd: -1, state: stateHandshake}
		l.input(c, []byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"+head))
		var pe ProtocolError
		if c.state != stateClosed || len(g.errs) != 1 || !errors.As(g.errs[0], &pe) {
			t.Fatalf("header % x: state %d, errors %v; want closed with a ProtocolError", head, c.state, g.errs)
		}
	}
}
