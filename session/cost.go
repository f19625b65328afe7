package session

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
