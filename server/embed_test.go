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

// TestHubIsTheEmbeddingAPI: Server.Hub's *server.Hub offers exactly what
// an embedding program may do across the server's sessions: publish,
// broadcast, send, and read the node's figures. The shard machinery
// (Shards, ByID, Lookup) and what only the server or a bus calls
// (Deliver, SetBus, SetInbound, SendToLocal, Sweep, Order...) showing up
// here is a leak; a new embedder method is a decision to make here, on
// purpose.
func TestHubIsTheEmbeddingAPI(t *testing.T) {
	t.Parallel()
	want := []string{
		"Broadcast", "Publish", "PublishThen", "SendTo", "SendToUser",
		"History", "Position", "Presence", "Totals",
	}
	hub := reflect.TypeFor[*server.Hub]()
	got := methodNames(hub)
	for _, name := range got {
		if !slices.Contains(want, name) {
			t.Errorf("*server.Hub has %s, which is not in the embedding API", name)
		}
	}
	for _, name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("*server.Hub lacks %s", name)
		}
	}
	for i := range hub.Elem().NumField() {
		if f := hub.Elem().Field(i); f.IsExported() {
			t.Errorf("server.Hub has the exported field %s", f.Name)
		}
	}
}

// TestEmbeddingAPIHandsOutNoMachinery: no exported method of the types an
// embedder holds (*server.Server, *server.Hub, *server.Session) returns
// the shard machinery, *session.Shard, *session.Registry or *session.Hub,
// however wrapped (a slice, a map, a function's argument, a struct's
// field): they reach it only by an explicit conversion, as the module's
// own packages do.
func TestEmbeddingAPIHandsOutNoMachinery(t *testing.T) {
	t.Parallel()
	for _, typ := range []reflect.Type{
		reflect.TypeFor[*server.Server](),
		reflect.TypeFor[*server.Hub](),
		reflect.TypeFor[*server.Session](),
	} {
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			for j := range m.Type.NumOut() {
				if leak := machineryIn(m.Type.Out(j), map[reflect.Type]bool{}); leak != "" {
					t.Errorf("%s.%s hands out %s", typ, m.Name, leak)
				}
			}
		}
	}
}

// machineryIn returns the name of a machinery type that t is or holds,
// or "" when there is none.
func machineryIn(t reflect.Type, seen map[reflect.Type]bool) string {
	if seen[t] {
		return ""
	}
	seen[t] = true
	if t.PkgPath() == "github.com/c1mhq/c1m/session" {
		switch t.Name() {
		case "Shard", "Registry", "Hub":
			return t.String()
		}
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
		return machineryIn(t.Elem(), seen)
	case reflect.Map:
		if leak := machineryIn(t.Key(), seen); leak != "" {
			return leak
		}
		return machineryIn(t.Elem(), seen)
	case reflect.Func:
		for i := range t.NumIn() {
			if leak := machineryIn(t.In(i), seen); leak != "" {
				return leak
			}
		}
		for i := range t.NumOut() {
			if leak := machineryIn(t.Out(i), seen); leak != "" {
				return leak
			}
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				if leak := machineryIn(f.Type, seen); leak != "" {
					return leak
				}
			}
		}
	}
	return ""
}
