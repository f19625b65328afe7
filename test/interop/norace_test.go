//go:build !race

package interop

// raceEnabled: without -race the echo server is built without it as well,
// which also spares a machine without a C compiler (-race needs cgo).
const raceEnabled = false
