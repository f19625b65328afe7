// Package httpapi is c1m's backend API on net/http, off the hot path: the
// publish and broadcast endpoints, JSON stats, Prometheus metrics, health
// and readiness probes and pprof. The client-facing transports stay on the
// gnet reactor (package server); this package only talks to them through
// the server's Hub, which is safe for concurrent use.
package httpapi
