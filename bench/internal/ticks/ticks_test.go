package ticks

import (
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {19000, "19,000"},
		{18999, "18,999"}, {100000, "100,000"}, {1e6, "1,000,000"}, {1.25e6, "1,250,000"},
		{1234567890, "1,234,567,890"}, {-1500, "-1,500"}, {-0.0000001, "0"},
		{2.00, "2"}, {0.5, "0.5"}, {2.50, "2.5"}, {0.1 + 0.2, "0.3"}, {1234.5, "1,234.5"},
		{843.776, "843.776"},
	} {
		if got := Number(c.v); got != c.want {
			t.Errorf("Number(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

// labels are the labelled ticks' labels that fall within [lo, hi].
func labels(ticks []plot.Tick, lo, hi float64) []string {
	var out []string
	for _, t := range ticks {
		if t.Label != "" && t.Value >= lo*(1-1e-9) && t.Value <= hi*(1+1e-9) {
			out = append(out, t.Label)
		}
	}
	return out
}

func TestLinearTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   []string
	}{
		{0, 1.25e6, []string{"0", "250,000", "500,000", "750,000", "1,000,000", "1,250,000"}},
		{0, 100, []string{"0", "20", "40", "60", "80", "100"}},
		{0, 78000, []string{"0", "20,000", "40,000", "60,000"}},
		{0, 420, []string{"0", "100", "200", "300", "400"}},
		{0, 3, []string{"0", "0.5", "1", "1.5", "2", "2.5", "3"}},
		{2000, 19000, []string{"5,000", "10,000", "15,000"}},
	} {
		ticks := Linear{}.Ticks(c.lo, c.hi)
		got := labels(ticks, c.lo, c.hi)
		if !slices.Equal(got, c.want) {
			t.Errorf("Linear(%v, %v) = %q, want %q", c.lo, c.hi, got, c.want)
		}
		for _, tk := range ticks {
			if strings.Contains(tk.Label, "e") || strings.HasSuffix(tk.Label, ".00") || strings.HasSuffix(tk.Label, ".0") {
				t.Errorf("Linear(%v, %v): label %q", c.lo, c.hi, tk.Label)
			}
			if tk.Value < c.lo-1e-9 || tk.Value > c.hi+1e-9 {
				t.Errorf("Linear(%v, %v): tick at %v out of range", c.lo, c.hi, tk.Value)
			}
		}
		if minor := len(ticks) - len(got); minor < len(got) {
			t.Errorf("Linear(%v, %v): %d minor ticks for %d major", c.lo, c.hi, minor, len(got))
		}
	}
}

func TestLogTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   []string
	}{
		// The memory lines' range: readable powers of ten, no 1e+06.
		{400, 700000, []string{"1,000", "10,000", "100,000"}},
		{400, 2e6, []string{"1,000", "10,000", "100,000", "1,000,000"}},
		{1, 1000, []string{"1", "10", "100", "1,000"}},
		// Within one power of ten, 2 and 5 times each are labelled too.
		{300, 3000, []string{"500", "1,000", "2,000"}},
	} {
		ticks := Log{}.Ticks(c.lo, c.hi)
		got := labels(ticks, c.lo, c.hi)
		if !slices.Equal(got, c.want) {
			t.Errorf("Log(%v, %v) = %q, want %q", c.lo, c.hi, got, c.want)
		}
		for _, tk := range ticks {
			if strings.Contains(tk.Label, "e") || strings.Contains(tk.Label, ".") {
				t.Errorf("Log(%v, %v): label %q", c.lo, c.hi, tk.Label)
			}
		}
	}
}
