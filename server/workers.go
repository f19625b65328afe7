package server

import "sync"

// workers runs handler calls off the event loops for handlers that block.
// A session always maps to the same worker, so its events keep their order.
type workers struct {
	queues []chan func()
	wg     sync.WaitGroup
}

func newWorkers(n, queue int) *workers {
	w := &workers{queues: make([]chan func(), n)}
	for i := range w.queues {
		q := make(chan func(), queue)
		w.queues[i] = q
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for fn := range q {
				fn()
			}
		}()
	}
	return w
}

// run queues fn on the worker of session id. A full queue blocks the
// caller, which pushes back on the loop's clients. Safe for concurrent use.
func (w *workers) run(id uint64, fn func()) {
	w.queues[id%uint64(len(w.queues))] <- fn
}

// stop lets the workers finish their queues and waits for them.
func (w *workers) stop() {
	for _, q := range w.queues {
		close(q)
	}
	w.wg.Wait()
}
