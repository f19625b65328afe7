package server_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/c1mhq/c1m/server"
)

// methodNames returns the exported method names of t, sorted.
func methodNames(t reflect.Type) []string {
	names := make([]string, 0, t.NumMethod())
	for i := range t.NumMethod() {
		names = append(names, t.Method(i).Name)
	}
	slices.Sort(names)
	return names
}

// TestSessionIsTheEmbeddingAPI: a handler's *server.Session offers exactly
// what an embedding program may do with a client. A transport hook of
// session.Session (MarkOpen, Linger, Touch, Written, SetDeadline,
// Transport, Shard...) showing up here is a leak of the machinery; a new
// embedder method is a decision to make here, on purpose.
func TestSessionIsTheEmbeddingAPI(t *testing.T) {
	t.Parallel()
	want := []string{
		"AdmitUser", // a user learnt after the handshake (a Socket.IO token), under Config.MaxConnsPerUser
		"Close", "Data", "ID", "NumTopics", "OnLoop", "Post", "Send",
		"SetData", "SetUser", "State", "Subscribe", "Topics", "Unsubscribe",
	}
	got := methodNames(reflect.TypeFor[*server.Session]())
	for _, name := range got {
		if !slices.Contains(want, name) {
			t.Errorf("*server.Session has %s, which is not in the embedding API", name)
		}
	}
	for _, name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("*server.Session lacks %s", name)
		}
	}
}

// TestServerHidesGnetCallbacks: *server.Server is not a gnet event handler:
// an embedder cannot call OnTraffic, OnClose... on it, nor hand it to
// gnet.Run.
func TestServerHidesGnetCallbacks(t *testing.T) {
	t.Parallel()
	srv := reflect.TypeFor[*server.Server]()
	if srv.Implements(reflect.TypeFor[gnet.EventHandler]()) {
		t.Error("*server.Server implements gnet.EventHandler")
	}
	for _, name := range methodNames(reflect.TypeFor[gnet.EventHandler]()) {
		if _, ok := srv.MethodByName(name); ok {
			t.Errorf("*server.Server exports gnet's callback %s", name)
		}
	}
}
