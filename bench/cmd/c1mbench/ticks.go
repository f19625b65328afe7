package main

import "github.com/c1mhq/c1m/bench/internal/ticks"

// The axes' marks and numbers for people, shared with c1msoak.
type (
	linearTicks = ticks.Linear
	logTicks    = ticks.Log
)

func number(v float64) string { return ticks.Number(v) }
