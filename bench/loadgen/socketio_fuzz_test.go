package loadgen

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParsePacket: any bytes parse or give a ProtocolError, never a
// panic; a packet that parses (without attachments) encodes back into one
// that parses the same.
func FuzzParsePacket(f *testing.F) {
	for _, s := range []string{
		`0{"sid":"x"}`, `0/admin,{"sid":"x"}`, `1`, `1/admin,`, `2["foo"]`, `212["foo","x"]`,
		`2/admin,7["a",1]`, `31["t"]`, `4{"message":"no"}`, `51-["baz",{"_placeholder":true,"num":0}]`,
		`61-/admin,15[{"_placeholder":true,"num":0}]`, `5999-["a"]`, `299999999999999999999["x"]`, ``, `7`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		pk, err := ParsePacket(p)
		if err != nil {
			var pe ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePacket(%q): %v is not a ProtocolError", p, err)
			}
			return
		}
		if pk.Attachments > 0 {
			return // the client sends no binary packet
		}
		wire := AppendPacket(nil, pk.Type, string(pk.Namespace), pk.ID, pk.Data)
		again, err := ParsePacket(wire[1:])
		if err != nil || again.Type != pk.Type || !bytes.Equal(again.Namespace, pk.Namespace) || again.ID != pk.ID || !bytes.Equal(again.Data, pk.Data) {
			t.Fatalf("ParsePacket(%q) = %+v; its encoding %q parses as %+v, %v", p, pk, wire, again, err)
		}
	})
}

// FuzzSocketIOInput: whatever a server sends after its 101, the loop's
// Socket.IO client neither panics nor keeps more than it bounds.
func FuzzSocketIOInput(f *testing.F) {
	f.Add([]byte(frame(opText, `0{"sid":"s"}`) + frame(opText, `40{"sid":"n"}`) + frame(opText, "2") +
		frame(opText, `451-["m",{"_placeholder":true,"num":0}]`) + frame(opBinary, "ab") + frame(opText, "41")))
	f.Add([]byte(frame(opText, `0{"sid":"s"}`) + frame(opBinary, "x")))
	f.Add([]byte(frame(opText, `0{}`) + frame(opText, `452-[]`) + frame(opBinary, "") + frame(opText, `42[1]`)))
	f.Fuzz(func(t *testing.T, wire []byte) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fds[1])
		l := &Loop{cfg: Config{Transport: SocketIO}, h: &packetLogger{}, epfd: -1, conns: map[int]*Conn{}}
		c := &Conn{fd: fds[0], state: stateHandshake}
		l.conns[fds[0]] = c
		l.input(c, []byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
		for len(wire) > 0 && c.state != stateClosed {
			n := min(len(wire), 7) // in pieces, as reads would
			l.input(c, wire[:n])
			wire = wire[n:]
			if b := c.sio.bin; b != nil && (len(b.atts) > maxAttachments || b.want > maxAttachments) {
				t.Fatalf("waiting for %d attachments, holding %d", b.want, len(b.atts))
			}
		}
		if c.state != stateClosed {
			l.drop(c, nil)
		}
	})
}
