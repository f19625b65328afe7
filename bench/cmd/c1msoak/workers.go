package main

// The driver's side of the worker processes: start one, keep its last
// status line, ask for its report, end it.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// worker is one running worker process.
type worker struct {
	role  string
	stdin io.WriteCloser
	mu    sync.Mutex // guards the fields below
	last  workerStatus
	rep   chan workerStatus
}

func startWorker(kids *children, role, addr string, n, topics, srcBase, sources int) (*worker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, workerArgs(role, addr, n, topics, srcBase, sources)...)
	cmd.Stderr = os.Stderr
	w := &worker{role: role, rep: make(chan workerStatus, 1)}
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := kids.start(cmd); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var st workerStatus
			if json.Unmarshal(sc.Bytes(), &st) != nil {
				continue
			}
			w.mu.Lock()
			w.last = st
			w.mu.Unlock()
			if st.Type == "report" {
				w.rep <- st
			}
		}
	}()
	return w, nil
}

func (w *worker) status() workerStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// report asks for the worker's verdict against final.
func (w *worker) report(final uint64) (workerStatus, error) {
	if _, err := fmt.Fprintf(w.stdin, "report %d\n", final); err != nil {
		return workerStatus{}, fmt.Errorf("%s worker: %w", w.role, err)
	}
	select {
	case st := <-w.rep:
		return st, nil
	case <-time.After(30 * time.Second):
		return workerStatus{}, fmt.Errorf("%s worker: no report", w.role)
	}
}

// quit ends the worker: it closes its connections and exits.
func (w *worker) quit() {
	_, _ = io.WriteString(w.stdin, "quit\n")
	_ = w.stdin.Close()
}
