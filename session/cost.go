package session

import "unsafe"

// sendOverhead is what one message sent from another goroutine costs while
// it waits in the inbox, besides its payload, as counted against
// Config.MaxInflight: the task's closure (a function pointer, the session,
// the opcode and the payload's slice header: 48 bytes) and its slot in the
// inbox (8 bytes, more while the slice has room to grow). A million empty
// sends held in an inbox kept 57 bytes each on the heap; BenchmarkSendQueued
// allocates 92 B/op, the inbox's regrowth included.
const sendOverhead = 64

// sendCost is what a message of n payload bytes sent from another
// goroutine counts against Config.MaxInflight.
func sendCost(n int) int64 { return int64(n + sendOverhead) }

// publicationOverhead is what a publication holds on a shard besides its
// payload and its encoded wire forms (counted when they are encoded,
// Publication.formBytes), as counted against Config.MaxBacklog: the
// Publication itself, whose room for every wire form makes it about 400
// bytes, plus an eighth for its allocation's size class, and
// publicationTask.
const publicationOverhead = int(unsafe.Sizeof(Publication{}))*9/8 + publicationTask

// publicationTask is what delivering a publication costs a shard: the
// task's closure (a function pointer, the shard, the publication and its
// cost: 32 bytes), its inbox slot (8) and the delivery record it leaves
// until its writes are done (24).
const publicationTask = 64
