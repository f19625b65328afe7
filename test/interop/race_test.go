//go:build race

package interop

// raceEnabled: the tests run with -race, so the echo server is built with
// it too and a data race that a real client provokes fails that client's test.
const raceEnabled = true
