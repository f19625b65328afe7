// Package codec turns bytes into protocol decisions and back: HTTP/1.1
// request heads, the WebSocket opening handshake (through gobwas/ws), frame
// decoding and encoding, close codes, UTF-8 validation and permessage-deflate.
//
// It does no I/O, starts no goroutines and reads no clock, so every decision
// that can be made from bytes alone is made, tested and fuzzed here. Parsers
// work on a byte slice that may hold an incomplete input: they report "need
// more" (a zero length and a nil error) without consuming anything, so a
// caller on an event loop can leave the bytes in its inbound buffer and try
// again when more arrive.
//
// Concurrency: functions are safe for concurrent use; a value with state (a
// Decoder, a Handshaker, an Inflater) belongs to one goroutine at a time,
// normally the event loop that owns its connection.
package codec
