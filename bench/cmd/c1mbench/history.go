package main

import (
	"fmt"
	"log"
	"strconv"
	"sync"
	"time"
)

// historyPublishers is how many kept-alive connections the history
// scenario publishes over at once: enough to keep a server's API busy on
// two cores, few enough not to measure connection handling.
const historyPublishers = 4

// history publishes -history-per-topic publications of -size bytes to
// each of -history-topics topics, with no subscriber, and reads what the
// server's memory grew by per history entry: (heap after a forced GC −
// heap before) ÷ entries, where entries is what the server's stats say
// it keeps (c1m's "history" object) or, without it, every publication.
// The topics' own structures are in the figure, spread over their
// entries.
func (r *benchRun) history(row *Row, t target) error {
	if t.history == "" || t.publish.path == "" {
		return fmt.Errorf("no history")
	}
	topics, per := r.o.historyTopics, r.o.historyPerTopic
	total := topics * per
	st0, err := serverStats(t, true)
	if err != nil {
		return fmt.Errorf("stats before: %w", err)
	}
	rss0, cpu0 := rssBytes(t.pid), processCPU(t.pid)
	// Round-robin over topics, so every topic fills up alike and none
	// passes its limit before the others have begun.
	next := make(chan int, historyPublishers)
	var mu sync.Mutex // guards the fields below
	var errs int
	var lastErr error
	var wg sync.WaitGroup
	t0 := time.Now()
	for range historyPublishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub := newPublisher(t, r.o.size, r.o.deliverTimeout)
			for i := range next {
				if _, err := pub.post(t.history+strconv.Itoa(i%topics), uint64(i+1), kindSingle); err != nil {
					mu.Lock()
					errs, lastErr = errs+1, err
					mu.Unlock()
				}
			}
		}()
	}
	for i := range total {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(t0)
	row.ServerCPU = processCPU(t.pid) - cpu0
	time.Sleep(settle)
	st1, err := serverStats(t, true)
	if err != nil {
		return fmt.Errorf("stats after: %w", err)
	}
	rss1 := rssBytes(t.pid)
	if errs > 0 {
		log.Printf("%s history: %d of %d publications failed, last: %v", t.name, errs, total, lastErr)
	}
	row.Publications, row.PublishErrors = total, errs
	row.Elapsed, row.PublishPerSec = elapsed.Seconds(), float64(total-errs)/elapsed.Seconds()
	row.HeapBefore, row.HeapAfter, row.RSSBefore, row.RSSAfter = st0.HeapInuse, st1.HeapInuse, rss0, rss1
	row.HistoryEntries = int64(total - errs)
	if st1.History != nil {
		row.HistoryEntries, row.EntriesFromStats = st1.History.Entries, true
		row.HistoryBytes = st1.History.Bytes
		if st1.History.Entries > 0 {
			row.StatsBytesPerEntry = float64(st1.History.Bytes) / float64(st1.History.Entries)
		}
	}
	if row.HistoryEntries <= 0 {
		return fmt.Errorf("no history entry kept (%d of %d publications failed; last error: %v)", errs, total, lastErr)
	}
	if st0.HeapInuse > 0 && st1.HeapInuse > 0 {
		row.HeapPerEntry = float64(st1.HeapInuse-st0.HeapInuse) / float64(row.HistoryEntries)
	}
	if rss0 > 0 && rss1 > 0 {
		row.RSSPerEntry = float64(rss1-rss0) / float64(row.HistoryEntries)
	}
	return nil
}
