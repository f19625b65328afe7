package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// xvfbBin is the virtual X server (package xvfb): WebKitGTK's MiniBrowser
// needs a display even when nobody looks at it.
const xvfbBin = "Xvfb"

// stopWait bounds a polite stop (SIGTERM, a WebDriver session's deletion)
// before the process group is killed.
const stopWait = 3 * time.Second

// xvfb is a private X display for one run.
type xvfb struct {
	cmd     *exec.Cmd
	display string        // ":N"
	exited  chan struct{} // closed when Xvfb has exited
	out     *headWriter   // its output, read only after exited
}

// startXvfb starts Xvfb on the first free display and returns once it
// accepts clients: -displayfd makes Xvfb pick the display and write its
// number to fd 3 when it is ready, so two runs never race for one.
func startXvfb(ctx context.Context) (*xvfb, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	x := &xvfb{exited: make(chan struct{}), out: new(headWriter)}
	x.cmd = exec.Command(xvfbBin, "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	x.cmd.ExtraFiles = []*os.File{w} // fd 3
	x.cmd.Stdout, x.cmd.Stderr = x.out, x.out
	// SIGTERM if the test binary dies: Xvfb then removes its lock file.
	x.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	err = x.cmd.Start()
	w.Close() // Xvfb holds its copy; a read sees EOF once it exits
	if err != nil {
		return nil, err
	}
	go func() { _ = x.cmd.Wait(); close(x.exited) }()

	display := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		display <- strings.TrimSpace(line)
	}()
	select {
	case n := <-display:
		if n != "" {
			x.display = ":" + n
			return x, nil
		}
		x.stop()
		return nil, fmt.Errorf("%s exited before it had a display: %s", xvfbBin, x.out.bytes())
	case <-ctx.Done():
		x.stop()
		return nil, noResult(ctx, "starting "+xvfbBin)
	}
}

// stop ends Xvfb with SIGTERM, so that it removes its lock file and
// socket, and kills it if it has not gone within stopWait.
func (x *xvfb) stop() {
	_ = syscall.Kill(-x.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-x.exited:
	case <-time.After(stopWait):
		killGroup(x.cmd.Process.Pid)
		<-x.exited
	}
}

// headWriter keeps the first headMax bytes written to it: enough of a
// process's output to say why it failed, without keeping a chatty one.
// Called by one goroutine at a time (exec's copier); read after the
// process exited.
type headWriter struct{ buf bytes.Buffer }

const headMax = 64 << 10

func (h *headWriter) Write(p []byte) (int, error) {
	if room := headMax - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (h *headWriter) bytes() []byte { return h.buf.Bytes() }
