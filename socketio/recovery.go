package socketio

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/c1mhq/c1m/codec"
)

// keptSocket is the state of a socket whose connection dropped, kept for
// a reconnect within the recovery window.
type keptSocket struct {
	sid, pid, nsp string
	rooms         []keptRoom
	since         uint64 // Socket.since
	data          any
	at            time.Time
	// remote: from a RecoveryStore's record, whose rooms' positions are
	// their epochs only.
	remote bool
}

type keptRoom struct {
	room string
	pos  codec.Position
}

// keptStore holds kept sockets by pid, at most max of them and each for
// window: the oldest go first, so that memory stays bounded whatever the
// disconnection rate (max times a socket's rooms, MaxRooms).
type keptStore struct {
	window time.Duration
	max    int
	now    func() time.Time

	// guards the fields below
	mu    sync.Mutex
	byPID map[string]*keptSocket
	order []*keptSocket // oldest first; taken entries stay until they reach the front
	head  int
}

func newKeptStore(window time.Duration, max int) *keptStore {
	return &keptStore{window: window, max: max, now: time.Now, byPID: map[string]*keptSocket{}}
}

// put keeps k, forgetting the expired and, over max, the oldest.
func (ks *keptStore) put(k *keptSocket) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	k.at = ks.now()
	ks.expire(k.at)
	for len(ks.byPID) >= ks.max && ks.head < len(ks.order) {
		ks.drop()
	}
	ks.byPID[k.pid] = k
	ks.order = append(ks.order, k)
}

// drop forgets the oldest entry. Called with mu held.
func (ks *keptStore) drop() {
	old := ks.order[ks.head]
	ks.order[ks.head] = nil
	ks.head++
	if ks.byPID[old.pid] == old {
		delete(ks.byPID, old.pid)
	}
	// Compact once half the slice is dropped entries.
	if ks.head > len(ks.order)/2 {
		n := copy(ks.order, ks.order[ks.head:])
		clear(ks.order[n:])
		ks.order, ks.head = ks.order[:n], 0
	}
}

// expire forgets the entries older than the window. Called with mu held.
func (ks *keptStore) expire(now time.Time) {
	for ks.head < len(ks.order) && now.Sub(ks.order[ks.head].at) > ks.window {
		ks.drop()
	}
}

// take removes and returns the socket kept for the pid in authData (a
// CONNECT's auth payload) when it was in namespace nsp and is within the
// window; nil otherwise.
func (ks *keptStore) take(authData []byte, nsp string) *keptSocket {
	var a struct {
		PID string `json:"pid"`
	}
	if json.Unmarshal(authData, &a) != nil || a.PID == "" {
		return nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.expire(ks.now())
	k := ks.byPID[a.PID]
	if k == nil || k.nsp != nsp {
		return nil
	}
	delete(ks.byPID, a.PID)
	return k
}

// len returns the number of kept sockets.
func (ks *keptStore) len() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return len(ks.byPID)
}
