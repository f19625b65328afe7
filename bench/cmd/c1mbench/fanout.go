package main

import (
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"time"
)

// fanoutRun is one server's fan-out in progress: its publications so far,
// each with when it was sent.
type fanoutRun struct {
	r       *benchRun
	row     *Row
	w       *workerSet
	t       target
	pub     *publisher
	cpu0    float64
	at      map[uint64]time.Time
	seq     uint64
	singles []uint64
	bursts  [][]uint64
}

// startFanout starts the workers' measured phase of row's fan-out
// against t.
func (r *benchRun) startFanout(row *Row, w *workerSet, t target) (*fanoutRun, error) {
	if !w.start(startTimeout) {
		return nil, fmt.Errorf("workers did not start within %v", startTimeout)
	}
	return &fanoutRun{
		r: r, row: row, w: w, t: t, pub: newPublisher(t, r.o.size, r.o.deliverTimeout),
		cpu0: processCPU(t.pid), at: map[uint64]time.Time{},
	}, nil
}

func (f *fanoutRun) publish(kind byte) {
	f.seq++
	sent, err := f.pub.post(f.t.topic, f.seq, kind)
	f.at[f.seq] = sent
	if err != nil {
		f.row.PublishErrors++
		log.Printf("%s: publication %d: %v", f.t.name, f.seq, err)
	}
}

// single publishes one publication and waits until every client has it,
// or -deliver-timeout.
func (f *fanoutRun) single() {
	f.publish(kindSingle)
	f.singles = append(f.singles, f.seq)
	if !f.w.waitComplete([]uint64{f.seq}, f.r.o.deliverTimeout) {
		f.row.DeliveryTimeouts++
	}
}

// burst publishes -burst publications at once and waits until every client
// has them, or -deliver-timeout.
func (f *fanoutRun) burst() {
	var b []uint64
	for range f.r.o.burst {
		f.publish(kindBurst)
		b = append(b, f.seq)
	}
	f.bursts = append(f.bursts, b)
	if !f.w.waitComplete(b, f.r.o.deliverTimeout) {
		f.row.DeliveryTimeouts++
	}
}

// finish collects every worker's per-client and per-publication counts
// into the row.
func (f *fanoutRun) finish() error {
	row, seq := f.row, f.seq
	reps := f.w.report(int(seq), reportTimeout)
	row.ServerCPU = processCPU(f.t.pid) - f.cpu0
	if len(reps) < len(f.w.procs) {
		return fmt.Errorf("%d of %d workers reported", len(reps), len(f.w.procs))
	}
	row.Publications = int(seq)
	seqs := map[uint64]seqStat{}
	for _, rep := range reps {
		row.Expected += int64(rep.Tracked) * int64(seq)
		row.Received += rep.Received
		row.LossyClients += rep.Lossy
		row.Disconnected += rep.Tracked - rep.OpenAtEnd
		row.Missing += rep.Missing
		row.Duplicates += rep.Dups
		row.Reordered += rep.Reordered
		row.OffsetGaps += rep.OffsetGaps
		row.OffsetBack += rep.OffsetBack
		row.Resets += rep.Resets
		row.Undecoded += rep.Undecoded
		row.GenCPU += rep.CPU
		row.Elapsed = max(row.Elapsed, rep.Elapsed)
		for k, v := range rep.Seqs {
			s := seqs[k]
			s.Count += v.Count
			s.LastAt = max(s.LastAt, v.LastAt)
			seqs[k] = s
		}
	}
	if row.Elapsed > 0 {
		row.GenCPUCores = row.GenCPU / row.Elapsed
	}
	row.hist = merge(reps, "single")
	row.P50, row.P99, row.P999 = percentiles(row.hist)
	if row.hist.TotalCount() > 0 {
		row.LatencyCDF = latencyCDF(row.hist.ValueAtQuantile)
	}
	row.BurstP50, row.BurstP99, row.BurstP999 = percentiles(merge(reps, "burst"))

	// Rates from what arrived: deliveries over the time from publish to
	// the last of them.
	var rates, lasts []float64
	for _, k := range f.singles {
		s := seqs[k]
		if d := time.Duration(s.LastAt - f.at[k].UnixNano()); s.Count > 0 && d > 0 {
			rates = append(rates, float64(s.Count)/d.Seconds())
			lasts = append(lasts, float64(d)/float64(time.Millisecond))
		}
	}
	row.DeliveriesPerSec = median(rates)
	row.SingleLast = lasts
	row.LastP50 = median(lasts)
	if len(lasts) > 0 {
		row.LastMax = slices.Max(lasts)
	}
	rates = rates[:0]
	for _, b := range f.bursts {
		var count int
		var last int64
		for _, k := range b {
			count += seqs[k].Count
			last = max(last, seqs[k].LastAt)
		}
		if d := time.Duration(last - f.at[b[0]].UnixNano()); count > 0 && d > 0 {
			rates = append(rates, float64(count)/d.Seconds())
		}
	}
	row.BurstPerSec = median(rates)
	return nil
}

// sideBySide is a fan-out scenario run with -interleave: a server and the
// client count it gets.
type sideBySide struct {
	s server
	n int
}

// interleaved runs each fan-out scenario held back by -interleave with
// every server that has it at once: all of them hold their clients, and
// their publications alternate (server A's first single, B's first, A's
// second, ...; bursts likewise), so that on a shared machine each server's
// figures come from the same seconds rather than from minutes apart.
func (r *benchRun) interleaved() {
	for _, sc := range allScenarios {
		r.interleave(sc)
	}
}

// interleave runs fan-out scenario sc on the servers held back for it.
func (r *benchRun) interleave(sc string) {
	var targets []target
	var ns []int
	for _, sb := range r.held[sc] {
		p, err := start(sb.s, filepath.Join(r.bin, sb.s.name))
		if err != nil {
			r.skip("%s %s: %v", sb.s.name, sc, err)
			continue
		}
		defer p.stop()
		targets, ns = append(targets, targetOf(sb.s, p)), append(ns, sb.n)
	}
	if len(targets) == 0 {
		return
	}
	log.Printf("== %s, interleaved: %d servers", sc, len(targets))
	for _, row := range r.fanoutSideBySide(targets, sc, ns) {
		log.Printf("%s %s: %s", row.Server, sc, summary(row))
		r.rows = append(r.rows, row)
	}
}

// fanoutSideBySide connects ns[i] clients to each of targets, then runs the
// fan-out scenario on all of them, alternating their publications, and
// returns the rows of the servers it could measure (the others are
// skipped, with the reason).
func (r *benchRun) fanoutSideBySide(targets []target, scenario string, ns []int) []Row {
	type lane struct {
		row Row
		f   *fanoutRun
		p   progress
	}
	var connected, lanes []*lane
	for i, t := range targets {
		_, transport := scenarioKind(scenario)
		l := &lane{row: Row{Server: t.name, Scenario: scenario, Transport: transport, Note: t.note}}
		w, stop, err := r.connect(&l.row, t, ns[i])
		if err != nil {
			r.skip("%s %s: %v", t.name, scenario, err)
			continue
		}
		defer stop()
		l.p, l.f = w.total(), &fanoutRun{w: w, t: t}
		connected = append(connected, l)
	}
	// Every measured phase starts once every server holds its clients.
	for _, l := range connected {
		f, err := r.startFanout(&l.row, l.f.w, l.f.t)
		if err != nil {
			r.skip("%s %s: %v", l.row.Server, scenario, err)
			continue
		}
		l.f = f
		lanes = append(lanes, l)
	}
	for range r.o.pubs {
		for _, l := range lanes {
			l.f.single()
		}
	}
	for range r.o.bursts {
		for _, l := range lanes {
			l.f.burst()
		}
	}
	var rows []Row
	for _, l := range lanes {
		err := l.f.finish()
		if err == nil {
			err = r.ended(&l.row, l.f.w, l.f.t, l.p)
		}
		if err != nil {
			r.skip("%s %s: %v", l.row.Server, scenario, err)
			continue
		}
		rows = append(rows, l.row)
	}
	return rows
}
