package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// A chart is one plot and the width to save it at.
type chart struct {
	p     *plot.Plot
	width vg.Length
}

// plots writes the run's PNGs as prefix-NAME.png: memory, fanout-latency
// and deliveries, each when the rows hold its data.
func (r *benchRun) plots(prefix string) {
	for _, d := range []struct {
		name string
		draw func() (*chart, error)
	}{
		{"memory", r.plotMemory}, {"fanout-latency", r.plotLatency}, {"deliveries", r.plotDeliveries},
		{"socketio-memory", r.plotSocketIOMemory}, {"socketio-deliveries", r.plotSocketIODeliveries},
	} {
		c, err := d.draw()
		if err != nil {
			fmt.Fprintf(os.Stderr, "plot %s: %v\n", d.name, err)
			continue
		}
		if c == nil {
			continue
		}
		file := prefix + "-" + d.name + ".png"
		if err := c.p.Save(c.width, 5*vg.Inch, file); err != nil {
			fmt.Fprintf(os.Stderr, "plot %s: %v\n", d.name, err)
			continue
		}
		fmt.Println("plot:", file)
	}
}

// replot redraws the plots of a results file beside it
// (run-STAMP.json gives run-STAMP-memory.png and the others). A file
// written before the rows kept their latency quantiles has no data for
// the latency plot: its PNG is left as it was.
func replot(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc struct {
		Rows []Row `json:"rows"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Rows) == 0 {
		return fmt.Errorf("%s: no rows", path)
	}
	r := &benchRun{rows: doc.Rows}
	r.plots(strings.TrimSuffix(path, ".json"))
	return nil
}

// Colours of the bars, by transport, and of the deliveries plot's two
// series.
var (
	blue   = color.RGBA{R: 47, G: 91, B: 211, A: 255}
	green  = color.RGBA{R: 24, G: 121, B: 78, A: 255}
	orange = color.RGBA{R: 222, G: 125, B: 28, A: 255}
	purple = color.RGBA{R: 128, G: 60, B: 160, A: 255}
)

// transportNames are the transports of the memory bars, in bar order,
// with their colours.
var transportNames = []struct {
	key, name string
	colour    color.Color
}{
	{"ws", "WebSocket", blue}, {"sse", "SSE", green}, {"poll", "long-polling (held poll)", orange}, {"sio", "Socket.IO", purple},
}

func transportOf(r Row) string {
	if r.Transport == "" {
		return "ws"
	}
	return r.Transport
}

// holdRows are the rows with a figure for the memory plot.
func (r *benchRun) holdRows() []Row {
	var rows []Row
	for _, row := range r.rows {
		if kind, _ := scenarioKind(row.Scenario); kind == "hold" && row.RSSPerConn > 0 {
			rows = append(rows, row)
		}
	}
	return rows
}

// plotMemory draws RSS per connection: bars per server and transport when
// the run measured one connection count, lines over the counts when it
// measured several (-hold-steps).
func (r *benchRun) plotMemory() (*chart, error) {
	rows := r.holdRows()
	if len(rows) == 0 {
		return nil, nil
	}
	var counts []int
	for _, row := range rows {
		if !slices.Contains(counts, row.Conns) {
			counts = append(counts, row.Conns)
		}
	}
	if len(counts) == 1 {
		return memoryBars(rows, counts[0], "Server RSS per idle connection")
	}
	slices.Sort(counts)
	return memoryLines(rows, counts)
}

// memoryBars draws one bar per server and transport, grouped by server in
// the run's order, coloured by transport, each labelled with its figure.
// The axis is linear from 0, so the bars' heights compare as the figures
// do.
func memoryBars(rows []Row, conns int, title string) (*chart, error) {
	var servers []string
	for _, row := range rows {
		if !slices.Contains(servers, row.Server) {
			servers = append(servers, row.Server)
		}
	}
	p := plot.New()
	p.Title.Text = title + ", " + number(float64(conns)) + " connections"
	p.Y.Label.Text = "bytes per connection"
	p.Y.Tick.Marker = linearTicks{}
	p.Y.Min = 0
	const w = 0.7 // bar width in x units: one bar per unit
	var (
		ticks  []plot.Tick
		labels plotter.XYLabels
		x      float64
		top    float64
		first  = map[string]*plotter.BarChart{}
		tops   []float64 // each bar's height, left to right
		bars   []*plotter.BarChart
	)
	for _, server := range servers {
		for _, t := range transportNames {
			i := slices.IndexFunc(rows, func(row Row) bool { return row.Server == server && transportOf(row) == t.key })
			if i < 0 {
				continue
			}
			row := rows[i]
			bar, err := plotter.NewBarChart(plotter.Values{row.RSSPerConn}, 1)
			if err != nil {
				return nil, err
			}
			bar.XMin = x
			bar.Color = t.colour
			bar.LineStyle.Width = 0
			p.Add(bar)
			bars = append(bars, bar)
			if first[t.key] == nil {
				first[t.key] = bar
			}
			ticks = append(ticks, plot.Tick{Value: x, Label: label(row)})
			labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: row.RSSPerConn})
			labels.Labels = append(labels.Labels, number(math.Round(row.RSSPerConn)))
			top = max(top, row.RSSPerConn)
			tops = append(tops, row.RSSPerConn)
			x++
		}
		x += 0.6 // a gap between servers
	}
	// Bar widths are in canvas units: about w of one x unit, from the
	// image's width less the y axis.
	width := max(8*vg.Inch, vg.Length(len(ticks))*0.75*vg.Inch)
	unit := (width - 1.2*vg.Inch) / vg.Length(x-0.6+w)
	for _, bar := range bars {
		bar.Width = w * unit
	}
	p.X.Min, p.X.Max = -w, x-0.6-1+w
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Tick.Width, p.X.Tick.Length, p.X.Width = 0, 0, 0
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign = text.XCenter
		l.TextStyle[i].YAlign = text.YBottom
	}
	l.Offset = vg.Point{Y: 3}
	p.Add(l)
	for _, t := range transportNames {
		if b := first[t.key]; b != nil && len(first) > 1 {
			p.Legend.Add(t.name, b)
		}
	}
	// The legend goes on the side whose bars are lower, with room above
	// the highest bar.
	p.Y.Max = top * 1.3
	p.Legend.Top = true
	half := len(tops) / 2
	p.Legend.Left = slices.Max(tops[:max(half, 1)]) < slices.Max(tops[half:])
	p.Legend.XOffs = 12
	if !p.Legend.Left {
		p.Legend.XOffs = -12
	}
	return &chart{p, width}, nil
}

// memoryLines draws one line per server and transport over the
// connection counts, on a log axis (the servers span two orders of
// magnitude: gnetfloor ~500 B, coder ~33 KB), with a tick at each count.
func memoryLines(rows []Row, counts []int) (*chart, error) {
	p := plot.New()
	p.Title.Text = "Server RSS per idle connection"
	p.X.Label.Text = "connections"
	p.Y.Label.Text = "bytes per connection (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	var xt plot.ConstantTicks
	for _, n := range counts {
		xt = append(xt, plot.Tick{Value: float64(n), Label: number(float64(n))})
	}
	p.X.Tick.Marker = xt
	p.Legend.Left = true
	p.Legend.Top = true
	series := map[string]plotter.XYs{}
	for _, row := range rows {
		series[label(row)] = append(series[label(row)], plotter.XY{X: float64(row.Conns), Y: row.RSSPerConn})
	}
	var args []any
	for _, name := range sortedKeys(series) {
		pts := series[name]
		slices.SortFunc(pts, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		args = append(args, name, pts)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	p.X.Min = 0
	p.X.Max = float64(counts[len(counts)-1]) * 1.03
	p.Y.Max *= 20 // headroom above the lines for the legend (a log axis)
	return &chart{p, 8 * vg.Inch}, nil
}

// latencyCDF is the latency of the deliveries at each whole percentile,
// 1 to 100, in milliseconds to the microsecond: what the latency plot
// draws, kept in the results so that -replot can redraw it.
func latencyCDF(valueAt func(q float64) int64) []float64 {
	out := make([]float64, 0, 100)
	for q := 1; q <= 100; q++ {
		out = append(out, float64(valueAt(float64(q)))/1e3)
	}
	return out
}

func (r *benchRun) plotLatency() (*chart, error) {
	p := plot.New()
	p.Title.Text = "Fan-out delivery latency, single publications (CDF)"
	p.X.Label.Text = "milliseconds from publish"
	p.Y.Label.Text = "% of deliveries at or below"
	p.X.Tick.Marker = linearTicks{}
	p.Y.Tick.Marker = linearTicks{}
	var args []any
	for _, row := range r.rows {
		if kind, _ := scenarioKind(row.Scenario); kind != "fanout" {
			continue
		}
		cdf := row.LatencyCDF
		if row.hist != nil && row.hist.TotalCount() > 0 {
			cdf = latencyCDF(row.hist.ValueAtQuantile)
		}
		if len(cdf) == 0 {
			continue
		}
		pts := plotter.XYs{{X: 0, Y: 0}}
		for i, ms := range cdf {
			pts = append(pts, plotter.XY{X: ms, Y: float64(i+1) * 100 / float64(len(cdf))})
		}
		args = append(args, label(row), pts)
	}
	if len(args) == 0 {
		if slices.ContainsFunc(r.rows, func(row Row) bool { k, _ := scenarioKind(row.Scenario); return k == "fanout" }) {
			fmt.Fprintln(os.Stderr, "plot fanout-latency: the rows keep no latency quantiles (a run before latency_cdf_ms): not drawn")
		}
		return nil, nil
	}
	if err := plotutil.AddLines(p, args...); err != nil {
		return nil, err
	}
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, 100
	p.Legend.Top = false
	return &chart{p, 8 * vg.Inch}, nil
}

func (r *benchRun) plotDeliveries() (*chart, error) {
	var rows []Row
	for _, row := range r.rows {
		if kind, _ := scenarioKind(row.Scenario); kind == "fanout" {
			rows = append(rows, row)
		}
	}
	return deliveriesBars(rows, "Fan-out deliveries per second")
}

// deliveriesBars draws single and burst deliveries per second, a pair of
// bars per row.
func deliveriesBars(rows []Row, title string) (*chart, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	// The subscriber count most rows share goes in the title; a row with
	// another (poll-fanout's 5,000) says its own under its bar.
	often := map[int]int{}
	for _, row := range rows {
		often[row.Conns]++
	}
	common := rows[0].Conns
	for n, k := range often {
		if k > often[common] || k == often[common] && n > common {
			common = n
		}
	}
	var names []string
	var single, burst plotter.Values
	for _, row := range rows {
		name := label(row)
		if row.Conns != common {
			name += "\n(" + number(float64(row.Conns)) + ")"
		}
		names = append(names, name)
		single = append(single, row.DeliveriesPerSec)
		burst = append(burst, row.BurstPerSec)
	}
	p := plot.New()
	p.Title.Text = title + ", " + number(float64(common)) + " subscribers"
	p.Y.Label.Text = "deliveries/s"
	p.Y.Tick.Marker = linearTicks{}
	w := vg.Points(14)
	b1, err := plotter.NewBarChart(single, w)
	if err != nil {
		return nil, err
	}
	b1.Color = blue
	b1.Offset = -w / 2
	b2, err := plotter.NewBarChart(burst, w)
	if err != nil {
		return nil, err
	}
	b2.Color = green
	b2.Offset = w / 2
	p.Add(b1, b2)
	p.Legend.Add("one at a time", b1)
	p.Legend.Add("bursts", b2)
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.7, float64(len(names))-0.3
	p.Y.Min = 0
	p.Y.Max = max(slices.Max(single), slices.Max(burst)) * 1.12 // room for the legend
	return &chart{p, 8 * vg.Inch}, nil
}

// plotSocketIOMemory draws RSS per idle Socket.IO connection, a bar per
// server, at -n (sio-hold runs at one count).
func (r *benchRun) plotSocketIOMemory() (*chart, error) {
	var rows []Row
	for _, row := range r.holdRows() {
		if row.Scenario == "sio-hold" {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	conns := slices.MaxFunc(rows, func(a, b Row) int { return a.Conns - b.Conns }).Conns
	rows = slices.DeleteFunc(rows, func(row Row) bool { return row.Conns != conns })
	return memoryBars(rows, conns, "Server RSS per idle Socket.IO connection")
}

// plotSocketIODeliveries draws the Socket.IO room fan-out by server.
func (r *benchRun) plotSocketIODeliveries() (*chart, error) {
	var rows []Row
	for _, row := range r.rows {
		if row.Scenario == "sio-fanout" {
			rows = append(rows, row)
		}
	}
	return deliveriesBars(rows, "Socket.IO room fan-out, deliveries per second")
}
