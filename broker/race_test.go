//go:build race

package broker_test

// raceEnabled: the race detector slows the clients of the cluster tests
// about fivefold, so they run fewer (make test-cluster runs them all
// without it).
const raceEnabled = true
