package session

import (
	"sync"
	"sync/atomic"
)

// Registry lists the shards of a server. gnet does not list its event loops,
// so a shard is added when its loop first shows itself; readers get an
// immutable snapshot without locking.
type Registry struct {
	// guards writes of snap
	mu   sync.Mutex
	snap atomic.Pointer[[]*Shard]
}

// Shards returns the current shards. The slice must not be modified. Safe
// for concurrent use.
func (r *Registry) Shards() []*Shard {
	if p := r.snap.Load(); p != nil {
		return *p
	}
	return nil
}

// Lookup returns the shard of the loop identified by key, creating it with
// create (which must pass key to NewShard) under the registry's lock when
// there is none. Safe for concurrent use.
func (r *Registry) Lookup(key any, create func(index int) *Shard) *Shard {
	for _, sh := range r.Shards() {
		if sh.key == key {
			return sh
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.Shards()
	for _, sh := range old {
		if sh.key == key {
			return sh
		}
	}
	sh := create(len(old))
	next := append(append(make([]*Shard, 0, len(old)+1), old...), sh)
	r.snap.Store(&next)
	return sh
}

// ByID returns the shard that owns session id, or nil. Safe for concurrent use.
func (r *Registry) ByID(id uint64) *Shard {
	shards := r.Shards()
	if i := int(id >> shardIDShift); i < len(shards) {
		return shards[i]
	}
	return nil
}
