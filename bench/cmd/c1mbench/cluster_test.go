package main

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestProcGroupKillsAll: every process a cluster run starts is in one
// group, and killAll ends them all, also one that a child of theirs would
// have left running (the grandchild here is in the group too).
func TestProcGroupKillsAll(t *testing.T) {
	t.Parallel()
	g := &procGroup{}
	t.Cleanup(g.killAll)
	var cmds []*exec.Cmd
	for range 3 {
		cmd := exec.Command("sh", "-c", "sleep 300 & wait")
		if err := g.start(cmd); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds[1:] {
		pgid, err := syscall.Getpgid(c.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if pgid != cmds[0].Process.Pid {
			t.Fatalf("process %d is in group %d, want %d", c.Process.Pid, pgid, cmds[0].Process.Pid)
		}
	}
	g.killAll()
	for _, c := range cmds {
		select {
		case <-g.exited(c):
		case <-time.After(time.Minute): // a hang guard
			t.Fatalf("process %d still runs", c.Process.Pid)
		}
	}
	// The sleeps were in the group too: nothing of it is left.
	if err := syscall.Kill(-cmds[0].Process.Pid, 0); err == nil {
		t.Fatal("the group still has processes after killAll")
	}
}
