package interop

import (
	"reflect"
	"testing"
)

// TestEngineIOClientRefused: engine.io-client and socket.io-client from
// npm, over polling, refused at their handshake by a per-client limit of
// the c1m binary at /socket.io/ (-max-conns-per-ip 1, held by a first
// session): each gets its error event (socket.io-client's connect_error)
// with the HTTP status as the error's description and c1m's refusal in
// the reference's JSON shape as the answer's body, which the error
// carries (node/eio-refused.mjs). The reference server has no such limit.
func TestEngineIOClientRefused(t *testing.T) {
	t.Parallel()
	srv := startC1mBinary(t, "-max-conns-per-ip", "1", "-loops", "2")
	r := finished(talk(t, "node/eio-refused.mjs", srv.base))
	want := map[string]any{
		"message":     "xhr poll error",
		"description": float64(429),
		"body":        `{"code":100,"message":"too many connections from your address"}`,
	}
	for _, client := range []string{"eio", "sio"} {
		if !reflect.DeepEqual(r[client], want) {
			t.Errorf("%s: the error carried %v, want %v", client, r[client], want)
		}
	}
}
