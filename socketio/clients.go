package socketio

import "sync"

// clientShards is the number of locks clientTable spreads its clients
// over, so that loops and workers seldom wait for one another.
const clientShards = 64

// clientTable finds a client by its Engine.IO session's ID: plain maps
// under sharded locks, which hold an entry in a few dozen bytes where a
// sync.Map spent about 110 (its entry and trie nodes, and the key boxed
// in an interface). Safe for concurrent use.
type clientTable struct {
	shards [clientShards]clientShard
}

type clientShard struct {
	mu sync.RWMutex
	m  map[uint64]*client
	_  [64 - 24 - 8]byte // a cache line each: no false sharing
}

func (t *clientTable) shard(id uint64) *clientShard {
	return &t.shards[id%clientShards]
}

// store files c under id.
func (t *clientTable) store(id uint64, c *client) {
	sh := t.shard(id)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = map[uint64]*client{}
	}
	sh.m[id] = c
	sh.mu.Unlock()
}

// load returns the client filed under id, or nil.
func (t *clientTable) load(id uint64) *client {
	sh := t.shard(id)
	sh.mu.RLock()
	c := sh.m[id]
	sh.mu.RUnlock()
	return c
}

// remove takes the client filed under id out and returns it, or nil.
func (t *clientTable) remove(id uint64) *client {
	sh := t.shard(id)
	sh.mu.Lock()
	c := sh.m[id]
	if c != nil {
		delete(sh.m, id)
	}
	sh.mu.Unlock()
	return c
}
