package server

import (
	"sync"
	"sync/atomic"
)

// workers runs handler calls off the event loops for handlers that block.
// A session always maps to the same worker, so its events keep their order.
//
// A loop never waits for a worker: when a worker's queue is full, the loop
// holds the event and stops reading that connection (pause.go), and asks
// the worker to call it back once its queue is down to half
// (resumeDivisor). A full queue so pushes back on the connections whose
// events it holds, never on the whole loop.
type workers struct {
	queues []workerQueue
	wg     sync.WaitGroup
	// pushers are goroutines handing over the last events of connections
	// that ended while paused (runAll); stop waits for them.
	pushers sync.WaitGroup
}

// workerQueue is one worker's queue and the loops waiting for room in it.
type workerQueue struct {
	q     chan func()
	asked atomic.Bool // waiting is not empty: the worker's cheap check
	// guards the fields below
	mu      sync.Mutex
	waiting map[any]func() // by loop: what to call once there is room
}

// resumeDivisor: a worker calls back the loops waiting for room once its
// queue is down to 1/resumeDivisor of its length, so that a paused
// connection resumes with room for a burst, not for one event at a time.
const resumeDivisor = 2

func newWorkers(n, queue int) *workers {
	w := &workers{queues: make([]workerQueue, n)}
	for i := range w.queues {
		wq := &w.queues[i]
		wq.q = make(chan func(), queue)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for fn := range wq.q {
				fn()
				if len(wq.q) <= cap(wq.q)/resumeDivisor {
					wq.callBack()
				}
			}
		}()
	}
	return w
}

// of returns the queue of session id.
func (w *workers) of(id uint64) *workerQueue { return &w.queues[id%uint64(len(w.queues))] }

// tryRun queues fn on the worker of session id and reports whether it
// fit. Safe for concurrent use.
func (w *workers) tryRun(id uint64, fn func()) bool {
	select {
	case w.of(id).q <- fn:
		return true
	default:
		return false
	}
}

// runAll queues fns in order on the worker of session id, without ever
// blocking the caller: what does not fit now is handed over by a goroutine
// that waits for room. For the last events of a connection that ended,
// which can be neither dropped nor paused. Safe for concurrent use.
func (w *workers) runAll(id uint64, fns ...func()) {
	for i, fn := range fns {
		if !w.tryRun(id, fn) {
			rest, q := fns[i:], w.of(id).q
			w.pushers.Add(1)
			go func() {
				defer w.pushers.Done()
				for _, fn := range rest {
					q <- fn
				}
			}()
			return
		}
	}
}

// whenRoom asks the worker of session id to call fn, once, when its queue
// is down to half, unless a callback for key (the loop) is already
// waiting. The caller tries its queue again after asking, since the worker
// may have made room just before. Safe for concurrent use.
func (w *workers) whenRoom(id uint64, key any, fn func()) {
	wq := w.of(id)
	wq.mu.Lock()
	defer wq.mu.Unlock()
	if wq.waiting == nil {
		wq.waiting = make(map[any]func())
	}
	if _, ok := wq.waiting[key]; !ok {
		wq.waiting[key] = fn
	}
	wq.asked.Store(true)
}

// callBack calls and forgets the callbacks of the loops waiting for room.
// Worker-only.
func (wq *workerQueue) callBack() {
	if !wq.asked.Load() {
		return
	}
	wq.mu.Lock()
	waiting := wq.waiting
	wq.waiting = nil
	wq.asked.Store(false)
	wq.mu.Unlock()
	for _, fn := range waiting {
		fn()
	}
}

// stop lets the workers finish their queues and waits for them. Call it
// once the loops have stopped.
func (w *workers) stop() {
	w.pushers.Wait()
	for i := range w.queues {
		close(w.queues[i].q)
	}
	w.wg.Wait()
}
