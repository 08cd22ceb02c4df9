package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/testwait"
)

// The demo as an unprivileged user: this test binary, copied where nobody
// may run it and turned into i3net (TestMain), runs "i3net demo" as nobody
// (setpriv) inside a fresh network namespace with only loopback up, so that
// its proxies never run in this machine's own namespace. Root is needed only
// to make the namespace and drop to nobody.

// nobodyUID is the user the demo runs as.
const nobodyUID = "65534"

// demoRunTimeout bounds one unprivileged demo.
const demoRunTimeout = 90 * time.Second

// nobodyDemo is one "i3net demo" running as nobody in its own namespace.
type nobodyDemo struct {
	dir  string // the binary and the demo's TMPDIR, writable by nobody
	ns   string
	cmd  *exec.Cmd
	out  *lockedBuffer // stdout and stderr
	done chan error
}

// The demo's PATH: the usual one (curl is /usr/bin/curl), or one where it
// finds no curl.
const (
	pathWithCurl = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	pathNoCurl   = "/nonexistent"
)

// startNobodyDemo starts the demo with PATH path, or skips t when this is
// not Linux, not root, or setpriv or ip is missing. t's cleanup kills what
// is left in the namespace and deletes it.
func startNobodyDemo(t *testing.T, path string) *nobodyDemo {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("skipping: running the demo as nobody in a fresh network namespace needs Linux and root (to make the namespace and drop to nobody)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("skipping: setpriv (util-linux) is not installed")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: ip (iproute2) is not installed")
	}
	d := &nobodyDemo{dir: nobodyDir(t), out: &lockedBuffer{}, done: make(chan error, 1)}
	self := copyTestBinary(t, d.dir)
	d.ns = fmt.Sprintf("%s%d-0-usdemo", netlab.NamePrefix, os.Getpid()) // CleanupStale's pattern, should this test crash
	mustRun(t, "ip", "netns", "add", d.ns)
	t.Cleanup(func() { removeNamespaceOf(t, d.ns) })
	mustRun(t, "ip", "-n", d.ns, "link", "set", "lo", "up")

	ctx, cancel := context.WithTimeout(context.Background(), demoRunTimeout)
	t.Cleanup(cancel)
	d.cmd = exec.CommandContext(ctx, "ip", "netns", "exec", d.ns,
		setpriv, "--reuid="+nobodyUID, "--regid="+nobodyUID, "--clear-groups", self, "demo")
	d.cmd.Env = []string{"PATH=" + path,
		"HOME=" + d.dir, "TMPDIR=" + d.dir, beI3net + "=1",
		"GORACE=atexit_sleep_ms=0"} // a race-enabled binary otherwise waits a second at every exit
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	return d
}

// wait returns how the demo ended.
func (d *nobodyDemo) wait(t *testing.T) error {
	select {
	case err := <-d.done:
		return err
	case <-time.After(demoRunTimeout + 5*time.Second):
		t.Fatalf("the demo did not end within %v:\n%s", demoRunTimeout, d.out)
		return nil
	}
}

// checkNothingLeft fails t if a process still runs in the namespace or the
// demo left anything in its TMPDIR.
func (d *nobodyDemo) checkNothingLeft(t *testing.T) {
	if pids := namespacePIDs(t, d.ns); len(pids) > 0 {
		t.Errorf("processes %v still run in the demo's namespace after it ended", pids)
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "i3net" {
			t.Errorf("the demo left %s in its temporary directory", e.Name())
		}
	}
}

// TestDemoUnprivileged: as nobody, the demo runs the overlay and the
// userspace part, says at the start and the end that the tun half needs
// root, curl reaches home.i3 through laptop's SOCKS5 and HTTP proxy, a name
// nobody has fails, laptop's status shows the userspace mode and the
// encrypted session, and nothing is left running or on disk.
func TestDemoUnprivileged(t *testing.T) {
	if _, err := os.Stat("/usr/bin/curl"); err != nil {
		t.Skip("skipping: /usr/bin/curl is not installed (TestDemoUnprivilegedWithoutCurl runs the demo without it)")
	}
	testUnprivileged(t, pathWithCurl, "$ curl --socks5-hostname 127.0.0.1:", "$ curl -x http://127.0.0.1:", "curl: (97)")
}

// TestDemoUnprivilegedWithoutCurl: where curl is missing, a Go client
// fetches through laptop's SOCKS5 and HTTP proxy instead, and the demo says
// so.
func TestDemoUnprivilegedWithoutCurl(t *testing.T) {
	testUnprivileged(t, pathNoCurl, "curl is not installed here",
		"(the Go client, as curl --socks5-hostname)", "(the Go client, as curl -x)", "host unreachable")
}

// testUnprivileged runs the demo as nobody with PATH path and checks its
// output: the lines every run shows, and client's, those of the program
// that fetches.
func testUnprivileged(t *testing.T, path string, client ...string) {
	d := startNobodyDemo(t, path)
	if err := d.wait(t); err != nil {
		t.Fatalf("demo as nobody: %v\n%s", err, d.out)
	}
	out := d.out.String()
	if n := strings.Count(out, "needs root: see it with sudo ./scripts/demo"); n != 2 {
		t.Errorf("the demo says %d times that the tun half needs root, want 2 (start and end):\n%s", n, out)
	}
	for _, want := range append(client,
		"not root: this run shows the overlay and the userspace mode",
		`home received "hello, home"`, // the overlay part
		"i3net proxy up in userspace mode", "--expose ", "http://home.i3:",
		"hello from home's loopback", "the session is up",
		"http://nowhere.i3/", "   fails:",
		"# userspace mode (no tun device)", "active; encrypted",
		"cleaning up", "everything the demo started has stopped",
	) {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	d.checkNothingLeft(t)
}

// TestDemoUnprivilegedInterrupted interrupts the unprivileged demo (SIGINT,
// as Ctrl-C) once both proxies run: it says so, stops them and removes its
// directory.
func TestDemoUnprivilegedInterrupted(t *testing.T) {
	d := startNobodyDemo(t, pathWithCurl)
	testwait.Within(t, 2*time.Minute, "laptop's proxy to come up", func() bool {
		return strings.Contains(d.out.String(), "laptop's proxy answers after")
	})
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil { // the demo itself: ip netns exec and setpriv exec it
		t.Fatal(err)
	}
	if err := d.wait(t); err == nil {
		t.Fatalf("the interrupted demo exited 0:\n%s", d.out)
	}
	out := d.out.String()
	for _, want := range []string{"cleaning up", "interrupted; everything the demo started has stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("interrupted demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "output of ") {
		t.Errorf("an interrupted demo printed its processes' output, as for a failure:\n%s", out)
	}
	d.checkNothingLeft(t)
}

// nobodyDir returns a new directory that nobody may write, removed when t
// ends.
func nobodyDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "i3net-usdemo-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyTestBinary copies this test binary into dir as i3net, executable by
// everyone, and returns its path.
func copyTestBinary(t *testing.T, dir string) string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, "i3net")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustRun runs a setup command, failing t with its output.
func mustRun(t *testing.T, name string, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// namespacePIDs returns the processes running in namespace ns.
func namespacePIDs(t *testing.T, ns string) []int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
	if err != nil {
		t.Errorf("ip netns pids %s: %v", ns, err)
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeNamespaceOf kills, by PID, whatever still runs in ns, and deletes
// it.
func removeNamespaceOf(t *testing.T, ns string) {
	for _, pid := range namespacePIDs(t, ns) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	ok := testwait.Poll(5*time.Second, func() bool { return len(namespacePIDs(t, ns)) == 0 })
	if !ok {
		t.Errorf("processes still run in %s after SIGKILL", ns)
	}
	mustRun(t, "ip", "netns", "delete", ns)
}

// lockedBuffer is a bytes.Buffer safe for a process's output and a test's
// reads at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
