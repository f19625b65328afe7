package main

// Sampling the server, judging the run, and its results: a JSON file and
// a plot of heap, RSS, goroutines and open files over time.

import (
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/c1mhq/c1m/bench/internal/ticks"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Sample is the server at one moment.
type Sample struct {
	At          float64 `json:"at_s"`       // seconds since the load began
	Heap        int64   `json:"heap_bytes"` // heap in use after a GC
	RSS         int64   `json:"rss_bytes"`
	Goroutines  int     `json:"goroutines"`
	FDs         int     `json:"fds"`
	Connections int64   `json:"connections"`
	Received    int64   `json:"received"`   // publications the steady clients received so far
	Reconnects  int64   `json:"reconnects"` // churn connections ended and dialed again so far
}

// apiStats is what the sampler reads of GET /api/stats.
type apiStats struct {
	Connections    int64             `json:"connections"`
	HeapInuseBytes int64             `json:"heap_inuse_bytes"`
	Goroutines     int               `json:"goroutines"`
	Evictions      map[string]uint64 `json:"evictions"`
}

func serverStats(c *http.Client, api string, gc bool) (apiStats, error) {
	u := "http://" + api + "/api/stats"
	if gc {
		u += "?gc=1" // a GC first: the heap that is live
	}
	var st apiStats
	resp, err := c.Get(u)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// fds counts a process's open files.
func fds(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// rss reads a process's resident set size.
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// sample samples the server every interval until ctx ends, printing a
// line each time.
func sample(ctx context.Context, c *http.Client, api string, pid int, every time.Duration, ws []*worker, a *abuseCounts) []Sample {
	start := time.Now()
	var out []Sample
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
		st, err := serverStats(c, api, true)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sample:", err)
			continue
		}
		s := Sample{At: time.Since(start).Seconds(), Heap: st.HeapInuseBytes, RSS: rss(pid), Goroutines: st.Goroutines,
			FDs: fds(pid), Connections: st.Connections}
		var gaps, dropped int64
		for _, w := range ws {
			ws := w.status()
			s.Received += ws.Received
			s.Reconnects += ws.Reconnects
			gaps += ws.Gaps
			dropped += ws.Dropped
		}
		out = append(out, s)
		fmt.Printf("%6.0fs heap %6.1f MiB rss %6.1f MiB goroutines %4d fds %6d conns %6d received %10d reconnects %8d gaps %d dropped %d abuse %d/%d/%d/%d/%d unexpected %d\n",
			s.At, mib(s.Heap), mib(s.RSS), s.Goroutines, s.FDs, s.Connections, s.Received, s.Reconnects, gaps, dropped,
			a.SlowReaders.Load(), a.PubFloods.Load(), a.CmdFloods.Load(), a.BadFrames.Load(), a.BadRequests.Load(), a.Unexpected.Load())
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// result is a soak run, as saved.
type result struct {
	Started         string         `json:"started"`
	Options         string         `json:"options"`
	Final           uint64         `json:"final_seq"` // publications per soak topic
	PublishErrors   int64          `json:"publish_errors"`
	Workers         []workerStatus `json:"workers"`
	SlowReaders     int64          `json:"slow_reader_rounds"`
	PubFloods       int64          `json:"publish_flood_rounds"`
	CmdFloods       int64          `json:"command_flood_rounds"`
	BadFrames       int64          `json:"bad_frame_rounds"`
	BadRequests     int64          `json:"bad_request_rounds"`
	AbuseUnexpected int64          `json:"abuse_unexpected"`
	AbuseAtCapacity int64          `json:"abuse_at_capacity"` // abusive rounds refused with 503 at the connection cap
	AbuseCut        int64          `json:"abuse_cut"`         // abusive rounds the end of the load cut short
	// ListenOverflows and ListenDrops are the kernel's counts, over the
	// load, of connections a listen queue could not take (whole machine).
	ListenOverflows  int64             `json:"listen_overflows"`
	ListenDrops      int64             `json:"listen_drops"`
	AbuseLastProblem string            `json:"abuse_last_problem,omitempty"`
	Evictions        map[string]uint64 `json:"evictions"`
	Samples          []Sample          `json:"samples"`
	ReconnectsPerSec float64           `json:"reconnects_per_s"` // churn, over the load
	Growth           []growth          `json:"growth"`
	Failures         []string          `json:"failures"`
	OK               bool              `json:"ok"`
}

// growth compares a measure early and late after the warm-up.
type growth struct {
	Measure string  `json:"measure"`
	Early   float64 `json:"early"`
	Late    float64 `json:"late"`
	Allowed float64 `json:"allowed"` // Late may be at most this
}

// Tolerances of the growth check: late may pass early by the larger of
// the relative and the absolute allowance. The early and late figures
// are medians of the first and last quarter of the samples after the
// warm-up, so that one GC's timing or one burst of churn does not decide.
var tolerances = []struct {
	name     string
	value    func(Sample) float64
	relative float64
	absolute float64
}{
	{"heap", func(s Sample) float64 { return float64(s.Heap) }, 0.10, 8 << 20},
	{"rss", func(s Sample) float64 { return float64(s.RSS) }, 0.10, 16 << 20},
	{"goroutines", func(s Sample) float64 { return float64(s.Goroutines) }, 0, 20},
	{"fds", func(s Sample) float64 { return float64(s.FDs) }, 0.03, 100},
}

// judge fills Growth, Failures and OK.
func (r *result) judge(warmup time.Duration) {
	r.Failures = nil
	if n := len(r.Samples); n >= 2 && r.Samples[n-1].At > r.Samples[0].At {
		first, last := r.Samples[0], r.Samples[n-1]
		r.ReconnectsPerSec = float64(last.Reconnects-first.Reconnects) / (last.At - first.At)
	}
	var after []Sample
	for _, s := range r.Samples {
		if s.At >= warmup.Seconds() {
			after = append(after, s)
		}
	}
	if len(after) < 4 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d samples after the warm-up: too few to judge growth", len(after)))
	}
	for _, t := range tolerances {
		if len(after) < 4 {
			break
		}
		q := len(after) / 4
		early, late := medianOf(after[:q], t.value), medianOf(after[len(after)-q:], t.value)
		g := growth{Measure: t.name, Early: early, Late: late, Allowed: early + max(early*t.relative, t.absolute)}
		r.Growth = append(r.Growth, g)
		if late > g.Allowed {
			r.Failures = append(r.Failures, fmt.Sprintf("%s grew from %.0f to %.0f after the warm-up (allowed %.0f)", t.name, early, late, g.Allowed))
		}
	}
	if r.PublishErrors > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d publications failed", r.PublishErrors))
	}
	if r.Final == 0 {
		r.Failures = append(r.Failures, "nothing was published")
	}
	for _, w := range r.Workers {
		if w.Role != roleSteady {
			continue
		}
		if w.Gaps > 0 || w.Dups > 0 || w.Dropped > 0 || w.Behind > 0 || w.Unready > 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("well-behaved clients lost publications: %d gaps, %d duplicates or out of order, %d dropped by the server, %d behind the last, %d not subscribed",
				w.Gaps, w.Dups, w.Dropped, w.Behind, w.Unready))
		}
	}
	if r.AbuseUnexpected > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d abusive rounds were not answered as they should (last: %s)", r.AbuseUnexpected, r.AbuseLastProblem))
	}
	r.OK = len(r.Failures) == 0
}

func medianOf(ss []Sample, value func(Sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = value(s)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (r *result) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %s\n", r.Options)
	fmt.Fprintf(&b, "  %.0f reconnects/s; %d publications per topic; abusive rounds: %d slow readers, %d publish floods, %d command floods, %d bad frames, %d bad requests, %d refused at capacity (503), %d cut short by the end of the load\n",
		r.ReconnectsPerSec, r.Final, r.SlowReaders, r.PubFloods, r.CmdFloods, r.BadFrames, r.BadRequests, r.AbuseAtCapacity, r.AbuseCut)
	fmt.Fprintf(&b, "  listen queues (kernel, whole machine): %d overflows, %d drops\n", r.ListenOverflows, r.ListenDrops)
	for _, w := range r.Workers {
		fmt.Fprintf(&b, "  %s worker: open %d, received %d, reconnects %d, errors %d, gaps %d, dups %d, dropped %d, behind %d, unready %d\n",
			w.Role, w.Open, w.Received, w.Reconnects, w.Errors, w.Gaps, w.Dups, w.Dropped, w.Behind, w.Unready)
	}
	for _, g := range r.Growth {
		fmt.Fprintf(&b, "  %s: %.0f early, %.0f late after the warm-up (allowed %.0f)\n", g.Measure, g.Early, g.Late, g.Allowed)
	}
	fmt.Fprintf(&b, "  evictions: %v\n", r.Evictions)
	if r.OK {
		b.WriteString("PASS")
	} else {
		b.WriteString("FAIL:\n  " + strings.Join(r.Failures, "\n  "))
	}
	return b.String()
}

// save writes dir/soak-STAMP.json and dir/soak-STAMP.png.
func (r *result) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r.Started = time.Now().UTC().Format("20060102-150405")
	base := filepath.Join(dir, "soak-"+r.Started)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", b, 0o644); err != nil {
		return err
	}
	if err := r.plot(base + ".png"); err != nil {
		return err
	}
	fmt.Println("results:", base+".json", base+".png")
	return nil
}

// plot draws the four measures over time, one panel each, with the end of
// the warm-up marked by where the judged samples begin.
func (r *result) plot(file string) error {
	panels := []struct {
		title, unit string
		value       func(Sample) float64
	}{
		{"Heap in use after GC", "MiB", func(s Sample) float64 { return mib(s.Heap) }},
		{"RSS", "MiB", func(s Sample) float64 { return mib(s.RSS) }},
		{"Goroutines", "", func(s Sample) float64 { return float64(s.Goroutines) }},
		{"Open files", "", func(s Sample) float64 { return float64(s.FDs) }},
	}
	const cols = 2
	rows := (len(panels) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "seconds of load"
		p.Y.Label.Text = pn.unit
		pts := make(plotter.XYs, len(r.Samples))
		for j, s := range r.Samples {
			pts[j] = plotter.XY{X: s.At, Y: pn.value(s)}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = color.RGBA{R: 47, G: 91, B: 211, A: 255}
		line.Width = vg.Points(1.5)
		p.Add(line, plotter.NewGrid())
		p.X.Tick.Marker, p.Y.Tick.Marker = ticks.Linear{}, ticks.Linear{}
		p.Y.Min = 0
		if p.Y.Max <= 0 {
			p.Y.Max = 1
		}
		p.Y.Max *= 1.1
		plots[i/cols] = append(plots[i/cols], p)
	}
	img := vgimg.New(12*vg.Inch, 8*vg.Inch)
	dc := draw.New(img)
	t := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, t, dc)
	for i := range plots {
		for j, p := range plots[i] {
			p.Draw(canvases[i][j])
		}
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		return err
	}
	return f.Close()
}
