package loadgen

// ConnsPerSource is how many connections the bench puts on one source
// address by default: about 3.5% of the 28,232 ephemeral ports a (source,
// destination) pair has, so the kernel's port search finds a free port at
// once even with TIME_WAIT sockets left by an earlier churn run.
const ConnsPerSource = 1000

// hostsPerSubnet is how many 127.0.x.y host numbers SourceAddr uses per x
// (1..250: no .0 and no .255, which read as network and broadcast).
const hostsPerSubnet = 250

// MaxSources is the number of distinct addresses SourceAddr can return.
const MaxSources = hostsPerSubnet * 254

// SourceAddr returns the i-th loopback source address, 127.0.1.1 for i = 0,
// then 127.0.1.2 ... 127.0.1.250, 127.0.2.1, ...; 127.0.0.x (where servers
// listen) is never used. i must be below MaxSources.
func SourceAddr(i int) [4]byte {
	return [4]byte{127, 0, byte(1 + i/hostsPerSubnet), byte(1 + i%hostsPerSubnet)}
}

// SourcesFor is how many source addresses n connections need at perAddress
// connections per address (at least one).
func SourcesFor(n, perAddress int) int {
	if perAddress <= 0 {
		perAddress = ConnsPerSource
	}
	return max(1, (n+perAddress-1)/perAddress)
}
