package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// grey joins the colours of plots.go (purple is there).
var grey = color.RGBA{R: 110, G: 110, B: 110, A: 255}

// plotMillion draws a cluster run's samples: connections over time above,
// memory over time below (c1m's RSS summed over the nodes, the load
// generator's, the kernel's slab, and the machine's memory in use).
func plotMillion(res *millionResult, file string) error {
	if len(res.Samples) == 0 {
		return fmt.Errorf("no samples")
	}
	conns := plot.New()
	conns.Title.Text = fmt.Sprintf("%s WebSocket connections over %d c1m nodes on one port (NATS), %d load generator processes",
		number(float64(res.Conns)), res.Nodes, res.Workers)
	conns.X.Label.Text = "seconds"
	conns.Y.Label.Text = "connections"
	conns.X.Tick.Marker, conns.Y.Tick.Marker = linearTicks{}, linearTicks{}
	var cpts plotter.XYs
	for _, s := range res.Samples {
		cpts = append(cpts, plotter.XY{X: s.T, Y: float64(s.Conns)})
	}
	cl, err := plotter.NewLine(cpts)
	if err != nil {
		return err
	}
	cl.Color, cl.Width = blue, vg.Points(2)
	conns.Add(cl)
	conns.Y.Min = 0

	mem := plot.New()
	mem.Title.Text = "Memory (GiB): both ends of every connection live on this machine"
	mem.X.Label.Text = "seconds"
	mem.Y.Label.Text = "GiB"
	mem.X.Tick.Marker, mem.Y.Tick.Marker = linearTicks{}, linearTicks{}
	series := []struct {
		name string
		c    color.Color
		v    func(sample) int64
	}{
		{"machine memory in use", grey, func(s sample) int64 { return s.MemUsed }},
		{"kernel slab, all caches (mostly both ends' sockets)", orange, func(s sample) int64 { return s.Slab }},
		{"c1m RSS, all nodes", blue, func(s sample) int64 { return s.ServerRSS }},
		{"load generator RSS", green, func(s sample) int64 { return s.WorkerRSS }},
		{"TCP buffers", purple, func(s sample) int64 { return s.SockMem }},
	}
	for _, se := range series {
		var pts plotter.XYs
		for _, s := range res.Samples {
			pts = append(pts, plotter.XY{X: s.T, Y: float64(se.v(s)) / (1 << 30)})
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color, l.Width = se.c, vg.Points(2)
		mem.Add(l)
		mem.Legend.Add(se.name, l)
	}
	mem.Legend.Top, mem.Legend.Left = true, true
	mem.Y.Min = 0

	const width, height = 10 * vg.Inch, 9 * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12)}
	canvases := plot.Align([][]*plot.Plot{{conns}, {mem}}, tiles, dc)
	conns.Draw(canvases[0][0])
	mem.Draw(canvases[1][0])
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
