package netlab_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// TestCleanupLeavesNothing runs a lab in a subtest, with a daemon, a daemon's
// child the lab never saw and a process started through Exec, and checks that
// when the subtest ends no namespace, /etc/netns directory or process is left.
func TestCleanupLeavesNothing(t *testing.T) {
	netlabtest.RequireRoot(t)
	var (
		prefix string
		nss    []string
		pids   []int
	)
	t.Run("lab", func(t *testing.T) {
		l := netlabtest.New(t)
		web := l.Host("web")
		home := l.NATHost("nat", homeLAN, netlab.NATSymmetric).Inside("home")
		prefix, nss = l.Prefix(), l.Namespaces()

		daemon, err := web.Start("sleep", "30")
		if err != nil {
			t.Fatal(err)
		}
		parent, err := home.Start("sh", "-c", "sleep 30 & echo $!; wait")
		if err != nil {
			t.Fatal(err)
		}
		var child int
		if err := netlab.Poll(testCtx(t, 5*time.Second), 0, func() error {
			child, err = strconv.Atoi(strings.TrimSpace(string(parent.Output())))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		cmd := web.Exec(context.Background(), "sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait() // reap it once cleanup has killed it
		// "ip netns exec" execs the program: the pid is the program's.
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", daemon.PID())); err != nil || string(comm) != "sleep\n" {
			t.Errorf("daemon pid %d is %q, %v; want sleep", daemon.PID(), comm, err)
		}
		pids = []int{daemon.PID(), parent.PID(), child, cmd.Process.Pid}
		for _, pid := range pids {
			if gone(pid) {
				t.Fatalf("pid %d exited before cleanup", pid)
			}
		}
	})
	if len(nss) != 4 { // inet, web, nat, home
		t.Fatalf("lab made namespaces %v, want 4", nss)
	}
	for _, ns := range nss {
		for _, p := range []string{filepath.Join(netlab.NetnsDir, ns), filepath.Join(netlab.EtcNetnsDir, ns)} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s left after cleanup (%v)", p, err)
			}
		}
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); bytes.Contains(out, []byte(prefix+"-")) {
		t.Errorf("ip netns list still shows %s:\n%s", prefix, out)
	}
	// The orphaned child is reaped by init, perhaps a moment later.
	if err := netlab.Poll(testCtx(t, 2*time.Second), 0, func() error {
		for _, pid := range pids {
			if !gone(pid) {
				return fmt.Errorf("pid %d still running", pid)
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestCleanupStale plants the namespace of a dead run, with a process inside,
// next to a live lab's, and checks that netlab.CleanupStale removes only the first.
func TestCleanupStale(t *testing.T) {
	netlabtest.RequireRoot(t)
	live := netlabtest.New(t).Host("live")

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d-1-web", netlab.NamePrefix, dead.Process.Pid)
	if !netlab.IsStale(stale) {
		t.Skipf("pid %d was reused at once", dead.Process.Pid)
	}
	if err := netlab.RunTool("", "ip", "netns", "add", stale); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlab.RemoveNamespace(stale) }) // in case the test fails
	if err := os.MkdirAll(filepath.Join(netlab.EtcNetnsDir, stale), 0o755); err != nil {
		t.Fatal(err)
	}
	orphan := exec.Command("ip", "netns", "exec", stale, "sleep", "30")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- orphan.Wait() }()
	if err := netlab.Poll(testCtx(t, 5*time.Second), 0, func() error {
		if !netlab.InNamespace(orphan.Process.Pid, stale) {
			return fmt.Errorf("pid %d not yet in %s", orphan.Process.Pid, stale)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := netlab.CleanupStale(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(netlab.NetnsDir, stale), filepath.Join(netlab.EtcNetnsDir, stale)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after netlab.CleanupStale (%v)", p, err)
		}
	}
	select {
	case <-exited:
	case <-time.After(2 * time.Second):
		t.Errorf("process %d in the stale namespace still runs", orphan.Process.Pid)
	}
	if _, err := os.Stat(filepath.Join(netlab.NetnsDir, live.Namespace())); err != nil {
		t.Errorf("netlab.CleanupStale removed the live lab's namespace: %v", err)
	}
}
