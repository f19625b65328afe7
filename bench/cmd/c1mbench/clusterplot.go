package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// roundRatios returns, for each server other than the one node, in the
// order of the rows, its single deliveries per second over the one node's
// of the same round, by round.
func roundRatios(rows []Row) (labels []string, ratios map[string]plotter.XYs) {
	one := map[int]float64{}
	for _, r := range rows {
		if r.Server == "c1m 1 node" {
			one[r.Round] = r.DeliveriesPerSec
		}
	}
	ratios = map[string]plotter.XYs{}
	for _, r := range rows {
		base := one[r.Round]
		if r.Server == "c1m 1 node" || base <= 0 || r.Round == 0 {
			continue
		}
		if ratios[r.Server] == nil {
			labels = append(labels, r.Server)
		}
		ratios[r.Server] = append(ratios[r.Server], plotter.XY{X: float64(r.Round), Y: r.DeliveriesPerSec / base})
	}
	return labels, ratios
}

// plotRatios draws each cluster's deliveries per second over the one
// node's, round by round, with issue 10's goal: what the targets' medians
// are taken over. Nothing is drawn without rounds.
func plotRatios(rows []Row, file string) (bool, error) {
	labels, ratios := roundRatios(rows)
	if len(labels) == 0 {
		return false, nil
	}
	p := plot.New()
	p.Title.Text = "Single publications: deliveries/s ÷ one node's in the same round"
	p.X.Label.Text = "round"
	p.Y.Label.Text = "ratio"
	p.Y.Tick.Marker = linearTicks{}
	var ticks []plot.Tick
	rounds := 0
	for _, pts := range ratios {
		rounds = max(rounds, len(pts))
	}
	for i := 1; i <= rounds; i++ {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: fmt.Sprint(i)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	colours := []color.Color{blue, green, orange, purple}
	for i, l := range labels {
		line, pts, err := plotter.NewLinePoints(ratios[l])
		if err != nil {
			return false, err
		}
		c := colours[i%len(colours)]
		line.Color, pts.Color, line.Width = c, c, vg.Points(2)
		p.Add(line, pts)
		p.Legend.Add(l, line, pts)
	}
	goal, err := plotter.NewLine(plotter.XYs{{X: 0.5, Y: clusterTarget}, {X: float64(rounds) + 0.5, Y: clusterTarget}})
	if err != nil {
		return false, err
	}
	goal.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	p.Add(goal)
	p.Legend.Add(fmt.Sprintf("issue 10's goal (%.1f)", clusterTarget), goal)
	p.X.Min, p.X.Max, p.Y.Min = 0.5, float64(rounds)+0.5, 0
	p.Legend.Top, p.Legend.Left = false, true
	return true, p.Save(8*vg.Inch, 5*vg.Inch, file)
}
