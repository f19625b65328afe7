package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

// The memory plot is bars with one connection count and lines with
// several; every plot renders, and -replot redraws a results file's
// plots beside it.
func TestPlots(t *testing.T) {
	cdf := make([]float64, 100)
	for i := range cdf {
		cdf[i] = float64(i+1) * 3.2
	}
	single := []Row{
		{Server: "c1m", Scenario: "hold", Transport: "ws", Conns: 19000, RSSPerConn: 843.776},
		{Server: "c1m", Scenario: "sse-hold", Transport: "sse", Conns: 19000, RSSPerConn: 917.3},
		{Server: "c1m", Scenario: "poll-hold", Transport: "poll", Conns: 19000, RSSPerConn: 1141.3},
		{Server: "centrifugo", Scenario: "hold", Transport: "ws", Conns: 19000, RSSPerConn: 46026.3},
		{Server: "centrifugo", Scenario: "sse-hold", Transport: "sse", Conns: 19000, RSSPerConn: 60284.1},
		{Server: "c1m", Scenario: "fanout", Transport: "ws", Conns: 19000, DeliveriesPerSec: 98082, BurstPerSec: 1.2e6, LatencyCDF: cdf},
		{Server: "c1m", Scenario: "poll-fanout", Transport: "poll", Conns: 5000, DeliveriesPerSec: 46840, BurstPerSec: 3e5, LatencyCDF: cdf},
		{Server: "centrifugo", Scenario: "fanout", Transport: "ws", Conns: 19000, DeliveriesPerSec: 75726, BurstPerSec: 70000},
		{Server: "c1m", Scenario: "sio-hold", Transport: "sio", Conns: 19000, RSSPerConn: 1200},
		{Server: "socketio-node", Scenario: "sio-hold", Transport: "sio", Conns: 19000, RSSPerConn: 41923},
		{Server: "socketio-go", Scenario: "sio-hold", Transport: "sio", Conns: 19000, RSSPerConn: 57508},
		{Server: "c1m", Scenario: "sio-fanout", Transport: "sio", Conns: 19000, DeliveriesPerSec: 90000, BurstPerSec: 5e5, LatencyCDF: cdf},
		{Server: "socketio-node", Scenario: "sio-fanout", Transport: "sio", Conns: 19000, DeliveriesPerSec: 14598, BurstPerSec: 24468},
	}
	xLabels := func(c *chart) []string {
		var out []string
		for _, tk := range c.p.X.Tick.Marker.Ticks(c.p.X.Min, c.p.X.Max) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	c, err := (&benchRun{rows: single}).plotMemory()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := xLabels(c), []string{"c1m", "c1m sse", "c1m poll", "c1m sio", "centrifugo", "centrifugo sse", "socketio-node sio", "socketio-go sio"}; !slices.Equal(got, want) {
		t.Errorf("one connection count: bars %q, want %q", got, want)
	}
	if c.p.Y.Scale != (plot.LinearScale{}) || c.p.Y.Min != 0 {
		t.Errorf("bars: want a linear axis from 0, got %T from %v", c.p.Y.Scale, c.p.Y.Min)
	}
	if !strings.Contains(c.p.Title.Text, "19,000 connections") {
		t.Errorf("bars: title %q", c.p.Title.Text)
	}
	c, err = (&benchRun{rows: single}).plotSocketIOMemory()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := xLabels(c), []string{"c1m sio", "socketio-node sio", "socketio-go sio"}; !slices.Equal(got, want) {
		t.Errorf("socket.io memory: bars %q, want %q", got, want)
	}
	if !strings.Contains(c.p.Title.Text, "Socket.IO connection, 19,000 connections") {
		t.Errorf("socket.io memory: title %q", c.p.Title.Text)
	}
	c, err = (&benchRun{rows: single}).plotSocketIODeliveries()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := xLabels(c), []string{"c1m sio", "socketio-node sio"}; !slices.Equal(got, want) {
		t.Errorf("socket.io deliveries: bars %q, want %q", got, want)
	}
	steps := append(slices.Clone(single),
		Row{Server: "c1m", Scenario: "hold", Conns: 2000, RSSPerConn: 1406},
		Row{Server: "centrifugo", Scenario: "hold", Conns: 2000, RSSPerConn: 47000})
	c, err = (&benchRun{rows: steps}).plotMemory()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.p.Y.Scale.(plot.LogScale); !ok {
		t.Errorf("several connection counts: want lines on a log axis, got %T", c.p.Y.Scale)
	}
	if got := xLabels(c); !slices.Equal(got, []string{"2,000", "19,000"}) {
		t.Errorf("lines: x ticks %q, want the counts", got)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "run-1.json")
	b, err := json.Marshal(map[string]any{"rows": single})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replot(file); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"memory", "fanout-latency", "deliveries", "socketio-memory", "socketio-deliveries"} {
		st, err := os.Stat(filepath.Join(dir, "run-1-"+name+".png"))
		if err != nil || st.Size() < 1000 {
			t.Errorf("replot %s: %v", name, err)
		}
	}
	if err := replot(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("replot of a missing file: no error")
	}
}
