// Package ticks marks plot axes for people: thousands separators, no
// exponents, no trailing decimals. Shared by c1mbench's and c1msoak's
// plots.
package ticks

import (
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
)

// Number writes v for people: thousands separators, no exponent, and no
// decimals beyond the significant ones ("19,000", "1,000,000", "0.5"). It
// rounds to 6 decimals, which hides the float noise of computed ticks
// (0.30000000000000004). Safe for concurrent use.
func Number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	s := strconv.FormatFloat(v, 'f', 6, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// Linear marks a linear axis with about six major ticks a round step
// apart (1, 2, 2.5 or 5 times a power of ten), labelled by Number, and
// unlabelled minor ticks between them.
type Linear struct{}

// Ticks returns the marks of [lo, hi] (plot.Ticker). Safe for concurrent
// use.
func (Linear) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: Number(lo)}}
	}
	step, minors := niceStep((hi - lo) / 6)
	var ticks []plot.Tick
	first := math.Ceil(lo/step-1e-9) * step
	// Minor ticks below the first major one, then each major one and the
	// minor ones after it.
	minor := step / float64(minors)
	for v := first - minor; v >= lo-minor*1e-9; v -= minor {
		ticks = append(ticks, plot.Tick{Value: v})
	}
	for i := 0; ; i++ {
		v := first + float64(i)*step
		if v > hi+step*1e-9 {
			break
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: Number(v)})
		for j := 1; j < minors; j++ {
			if m := v + float64(j)*minor; m <= hi+minor*1e-9 {
				ticks = append(ticks, plot.Tick{Value: m})
			}
		}
	}
	return ticks
}

// niceStep is the round step at or above raw, and how many minor
// intervals split it.
func niceStep(raw float64) (step float64, minors int) {
	mag := math.Pow10(int(math.Floor(math.Log10(raw))))
	for _, m := range []struct {
		f float64
		n int
	}{{1, 5}, {2, 4}, {2.5, 5}, {5, 5}, {10, 5}} {
		if m.f*mag >= raw*(1-1e-9) {
			return m.f * mag, m.n
		}
	}
	return 10 * mag, 5
}

// Log marks a log axis at each power of ten, labelled by Number
// ("1,000", "10,000", "100,000"), with unlabelled ticks at 2..9 times
// each. When the range holds fewer than two powers of ten, 2 and 5 times
// each power are labelled too, so the axis never shows a single number.
type Log struct{}

// Ticks returns the marks of [lo, hi] (plot.Ticker). Safe for concurrent
// use.
func (Log) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	powers := 0
	for _, t := range ticks {
		if t.Label != "" && t.Value >= lo*(1-1e-9) && t.Value <= hi*(1+1e-9) {
			powers++
		}
	}
	for i, t := range ticks {
		mantissa := t.Value / math.Pow10(int(math.Floor(math.Log10(t.Value)+1e-9)))
		switch {
		case t.Label != "":
			ticks[i].Label = Number(t.Value)
		case powers < 2 && (math.Abs(mantissa-2) < 1e-6 || math.Abs(mantissa-5) < 1e-6):
			ticks[i].Label = Number(t.Value)
		}
	}
	return ticks
}
