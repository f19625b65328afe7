package socketio

import (
	"encoding/json"
	"hash/maphash"
	"slices"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// RecoveryStore keeps the recovery records of sockets outside the node,
// where every node of a cluster finds them (broker.KeptStore, a JetStream
// key-value bucket): with one, a client whose node died or dropped it
// recovers on any node of the cluster. A record is opaque bytes filed
// under the socket's pid. Nothing a loop calls may wait: the methods
// return at once and do their work elsewhere, in each pid's order. They
// are called from any goroutine (loops, workers, timers) and must be safe
// for concurrent use.
type RecoveryStore interface {
	// Put files rec under pid, replacing the record this node filed there
	// before, as the record of a socket connected to this node
	// (connected) or whose connection dropped. A Take on another node
	// does not take the record of a socket still connected to a live node.
	Put(pid string, rec []byte, connected bool)
	// Delete removes the record this node filed under pid.
	Delete(pid string)
	// Take removes the record filed under pid, by any node, and calls done
	// once with it, from any goroutine: (nil, nil) when there is none, an
	// error when the store could not be asked; within a few seconds at
	// most. Of several Takes of one record, one gets it.
	Take(pid string, done func(rec []byte, err error))
}

// UseStore makes the server file a record of each socket in st while the
// socket is connected (at its CONNECT, at each join and leave, and every
// half Window), mark it with the time its connection dropped, and delete
// it when the socket leaves for good; a CONNECT with a pid takes the
// record from st, whichever node filed it. node names this node in the
// records. Records are kept by st RecordTTL after their last write. The
// socket's Data travels in the record as JSON: on another node it comes
// back as what encoding/json decodes into an any. The orders of the
// offsets clients hand back must be the same on every node (a cluster's:
// session.Publication.Order is the cluster's offset). Without Recovery it
// does nothing. Call it once, before the server starts; stop ends the
// refreshes. Safe for concurrent use.
func (s *Server) UseStore(st RecoveryStore, node string) (stop func()) {
	if s.kept == nil || st == nil {
		return func() {}
	}
	s.store, s.node = st, node
	done := make(chan struct{})
	go s.refresh(done)
	return func() { close(done) }
}

// RecordTTL is how long a RecoveryStore must keep a record after its last
// write: the Window, plus the period of the refreshes (half the Window),
// plus a quarter Window for the write queue's lag. So a record written
// while its socket was connected outlives the death of its node (which
// writes nothing more) by the Window at least. Safe for concurrent use.
func (s *Server) RecordTTL() time.Duration {
	if s.kept == nil {
		return 0
	}
	return s.kept.window + s.kept.window/2 + s.kept.window/4
}

// refreshSlices is the number of slices the refreshes go through the
// sockets in: each tick refreshes the sockets of one slice (their pid's
// hash), so that the writes are spread over the period, not bunched.
const refreshSlices = 8

// refresh rewrites the record of every connected socket once every half
// Window, a slice of them at a time, until done closes.
func (s *Server) refresh(done <-chan struct{}) {
	period := s.kept.window / 2
	tick := time.NewTicker(period / refreshSlices)
	defer tick.Stop()
	seed := maphash.MakeSeed()
	for slice := uint64(0); ; slice = (slice + 1) % refreshSlices {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		for i := range s.clients.shards {
			sh := &s.clients.shards[i]
			sh.mu.RLock()
			cs := make([]*client, 0, len(sh.m))
			for _, c := range sh.m {
				cs = append(cs, c)
			}
			sh.mu.RUnlock()
			for _, c := range cs {
				c.mu.Lock()
				for _, sock := range c.sockets {
					if sock.hasPID && maphash.Bytes(seed, sock.pid[:])%refreshSlices == slice {
						sock.fileLocked(0)
					}
				}
				c.mu.Unlock()
			}
		}
	}
}

// record is a socket's recovery record in a RecoveryStore, JSON.
type record struct {
	SID   string   `json:"sid"`
	NSP   string   `json:"nsp"`
	Rooms []string `json:"rooms,omitempty"`
	// Epoch is the cluster's, which every topic of the rooms is numbered
	// in (session.Hub.BusEpoch).
	Epoch string          `json:"epoch,omitempty"`
	Since uint64          `json:"since,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Node  string          `json:"node,omitempty"`
	// Gone is when the connection dropped, in Unix milliseconds; 0 while
	// it is connected (or its node died without saying).
	Gone int64 `json:"gone,omitempty"`
}

// fileLocked files the socket's record, gone being when its connection
// dropped (0: connected). c.mu held: the record is the state now, and
// records of one socket reach the store in the order of their states.
func (s *Socket) fileLocked(gone int64) {
	st := s.c.srv.store
	if st == nil || !s.hasPID {
		return
	}
	r := record{SID: s.id.String(), NSP: s.nsp.name, Rooms: s.rooms, Since: s.since, Node: s.c.srv.node, Gone: gone}
	if h := s.hub(); h != nil {
		r.Epoch = h.BusEpoch()
	}
	if s.more != nil && s.more.data != nil {
		if b, err := json.Marshal(s.more.data); err == nil {
			r.Data = b
		}
	}
	b, err := json.Marshal(&r)
	if err != nil {
		return
	}
	st.Put(s.pid.String(), b, gone == 0)
}

// file files the socket's record (connected). Safe for concurrent use.
func (s *Socket) file() {
	if s.c.srv.store == nil {
		return
	}
	s.c.mu.Lock()
	if s.connected {
		s.fileLocked(0)
	}
	s.c.mu.Unlock()
}

// unfile deletes the socket's record, for a socket that left for good.
func (s *Socket) unfile() {
	if st := s.c.srv.store; st != nil && s.hasPID {
		st.Delete(s.pid.String())
	}
}

// keptFromRecord returns the kept socket of a record taken for pid in
// namespace nsp, nil when it is of another namespace, or it says its
// connection dropped longer than the window ago. Its rooms' positions
// are the epoch of their topic and the offset at, the client's order: in
// a cluster an order is an offset, so no publication of any topic after
// at reached the client.
func (s *Server) keptFromRecord(rec []byte, pid, nsp string) *keptSocket {
	var r record
	if json.Unmarshal(rec, &r) != nil || r.NSP != nsp || r.SID == "" {
		return nil
	}
	if r.Gone != 0 && time.Since(time.UnixMilli(r.Gone)) > s.kept.window {
		return nil
	}
	k := &keptSocket{sid: r.SID, pid: pid, nsp: nsp, since: r.Since, remote: true}
	for _, room := range r.Rooms {
		topic, ok := RoomTopic(nsp, room)
		if !ok {
			continue
		}
		k.rooms = append(k.rooms, keptRoom{room: room, pos: codec.Position{Topic: topic, Epoch: r.Epoch}})
	}
	if len(r.Data) > 0 {
		var v any
		if json.Unmarshal(r.Data, &v) == nil {
			k.data = v
		}
	}
	return k
}

// pidOf returns the pid of a CONNECT's auth payload, "" for none.
func pidOf(auth string) string {
	var a struct {
		PID string `json:"pid"`
	}
	if json.Unmarshal([]byte(auth), &a) != nil {
		return ""
	}
	return a.PID
}

// restoreRemote joins the rooms of a record taken from the store (rooms,
// those of them the socket kept) from the client's order: the order of
// offset, or the record's since when the client got no publication. It
// replays what the client missed of them all, as restore does, and
// reports false when a room's history did not cover the gap, or the
// offset is not an order (the rooms then start from now).
func (s *Socket) restoreRemote(k *keptSocket, rooms []string, offset string) bool {
	at, ok := parseOrderOffset(offset)
	if offset == "" {
		at, ok = k.since, true
	}
	s.since = at
	topics := make([]string, 0, len(rooms))
	froms := make([]codec.Position, 0, len(rooms))
	for _, r := range k.rooms {
		if !slices.Contains(rooms, r.room) {
			continue
		}
		p := r.pos
		// A cluster's order is its offset: no publication of the topic
		// after at reached the client. A topic the node holds caps it at
		// its position at that order (SubscribeOrdered); one it does not
		// hold yet starts at it, skipping what comes later up to it.
		p.Offset = at
		topics = append(topics, p.Topic)
		froms = append(froms, p)
	}
	c := s.c
	ss := c.machinery()
	c.onLoopWait(func() {
		if !ok {
			for _, t := range topics {
				ss.SubscribeFrom(t, nil)
			}
			return
		}
		for _, st := range ss.SubscribeOrdered(topics, froms, at) {
			if st.Reset {
				ok = false
			}
		}
	})
	s.recovered = ok
	return ok
}

// takeThenAccept answers a CONNECT that hands back pid once the store
// has answered whether any node kept the socket: the socket is recovered
// only when this node took its record (the node's own kept state is
// then the more exact one). Meanwhile a packet of the namespace is an
// invalid state, as it is to the reference server while its CONNECT's
// recovery is looked up. The answer comes where the CONNECT came: on the
// loop through the loop's inbox, else (a worker) on a goroutine of its
// own, where the handlers may block as on a worker.
func (c *client) takeThenAccept(nsp *Namespace, sock *Socket, pid string) {
	onLoop := c.s.OnLoop()
	c.srv.store.Take(pid, func(rec []byte, err error) {
		finish := func() {
			local := c.srv.kept.take([]byte(sock.auth), nsp.name)
			var k *keptSocket
			switch {
			case err != nil || rec == nil:
				rec = nil
			case local != nil:
				k = local
			default:
				k = c.srv.keptFromRecord(rec, pid, nsp.name)
			}
			if k == nil {
				rec = nil // an expired record, or another namespace's: not put back
			}
			c.accept(nsp, sock, k, rec)
		}
		run := func() {
			if onLoop {
				c.onLoop(finish)
			} else {
				finish()
			}
		}
		if at := offsetOrder(sock.auth); rec != nil && at > 0 {
			if h := c.srv.hub.Load(); h != nil && h.Order() < at {
				// The client had a publication this node has not delivered
				// yet (its old node was ahead): replayed from here, it
				// would come again live. Wait until the node has it.
				go func() {
					awaitOrder(h, at, catchUpTimeout)
					run()
				}()
				return
			}
		}
		if onLoop {
			run()
		} else {
			go run()
		}
	})
}

// catchUpTimeout bounds the wait of a recovery for its node to deliver
// the client's last publication; past it the recovery goes on.
const catchUpTimeout = time.Second

// awaitOrder waits until the hub's order reaches at, at most d.
func awaitOrder(h *session.Hub, at uint64, d time.Duration) {
	deadline := time.Now().Add(d)
	for h.Order() < at && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// offsetOrder returns the order of the offset in a CONNECT's auth
// payload, 0 for none.
func offsetOrder(auth string) uint64 {
	var a struct {
		Offset string `json:"offset"`
	}
	if json.Unmarshal([]byte(auth), &a) != nil {
		return 0
	}
	at, _ := parseOrderOffset(a.Offset)
	return at
}
