package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// sshd is an OpenSSH server started in a host for one test, and the client
// key it lets in as root.
type sshd struct {
	clientKey string
}

// startSSHD starts sshd -D -e in h with a generated host key, root login by
// key only, and an authorized key made for the test.
func startSSHD(t *testing.T, h *netlab.Host) *sshd {
	t.Helper()
	needProgram(t, "ssh", "ssh-keygen", "/usr/sbin/sshd")
	dir := t.TempDir()
	for _, k := range []string{"host_key", "client_key"} {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		out, err := h.Exec(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-"+k, "-f", filepath.Join(dir, k)).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "client_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "authorized_keys"), pub, 0o600)
	conf := fmt.Sprintf(`# e2e: sshd for one test
Port 22
ListenAddress 0.0.0.0
ListenAddress ::
HostKey %[1]s/host_key
PidFile %[1]s/sshd.pid
AuthorizedKeysFile %[1]s/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
LogLevel VERBOSE
`, dir)
	writeFile(t, filepath.Join(dir, "sshd_config"), []byte(conf), 0o600)
	// The privilege separation directory sshd insists on.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, h, "/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := netlab.WaitListen(ctx, h, "tcp", 22); err != nil {
		t.Fatal(err)
	}
	return &sshd{clientKey: filepath.Join(dir, "client_key")}
}

// args returns the ssh command line that runs command as root on host,
// non-interactively, ignoring any user configuration.
func (s *sshd) args(host, command string, opts ...string) []string {
	a := []string{"-F", "/dev/null", "-i", s.clientKey,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-o", "LogLevel=ERROR"}
	for _, o := range opts {
		a = append(a, "-o", o)
	}
	return append(a, "root@"+host, command)
}

// testSSH runs a command on home with ssh home.i3.
func testSSH(t *testing.T, w *world) {
	s := startSSHD(t, w.home.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := mustRun(t, ctx, w.laptop.Host, "ssh", s.args("home.i3", "echo hello; echo from $(hostname -I)")...)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "hello" {
		t.Fatalf("ssh home.i3 echo hello: got %q, want hello", out)
	}
	t.Logf("ssh home.i3: %q", out)
	// sshd saw the connection come from laptop's own virtual address.
	out = mustRun(t, ctx, w.laptop.Host, "ssh", s.args("home.i3", "echo $SSH_CONNECTION")...)
	f := strings.Fields(string(out))
	if len(f) != 4 || (f[0] != w.laptop.self.Addr4.String() && f[0] != w.laptop.self.Addr6.String()) {
		t.Errorf("on home, SSH_CONNECTION is %q: want it from laptop's own virtual address (%v or %v)", out, w.laptop.self.Addr4, w.laptop.self.Addr6)
	}
}

// startCounting runs `for i in $(seq 1 n); do echo $i; sleep every; done`
// on home over ssh from laptop, bounded by ctx, timing each line as it
// arrives.
func startCounting(t *testing.T, ctx context.Context, w *world, s *sshd, n int, every time.Duration, opts ...string) *lineStream {
	t.Helper()
	command := fmt.Sprintf("for i in $(seq 1 %d); do echo $i; sleep %.1f; done", n, every.Seconds())
	t.Logf("laptop$ ssh home.i3 '%s'", command)
	return startLines(t, ctx, w.laptop.Host, "ssh", s.args("home.i3", command, opts...)...)
}

// lineStream is a program running in a host whose output lines are timed
// as they arrive.
type lineStream struct {
	mu     sync.Mutex
	lines  []timedLine
	done   chan struct{}
	err    error  // the program's exit, set before done closes
	errOut string // its standard error
}

type timedLine struct {
	at   time.Time
	text string
}

// startLines starts name with args in h, bounded by ctx, and records each
// line of its standard output with the time it arrived.
func startLines(t *testing.T, ctx context.Context, h *netlab.Host, name string, args ...string) *lineStream {
	t.Helper()
	cmd := h.Exec(ctx, name, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ls := &lineStream{done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ls.mu.Lock()
			ls.lines = append(ls.lines, timedLine{time.Now(), sc.Text()})
			ls.mu.Unlock()
		}
		err := cmd.Wait()
		ls.mu.Lock()
		ls.err, ls.errOut = err, stderr.String()
		ls.mu.Unlock()
		close(ls.done)
	}()
	return ls
}

// count returns how many lines have arrived.
func (s *lineStream) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// waitLines waits until at least n lines have arrived, bounded by ctx.
func (s *lineStream) waitLines(ctx context.Context, n int) error {
	return netlab.Poll(ctx, 20*time.Millisecond, func() error {
		if c := s.count(); c < n {
			select {
			case <-s.done:
				return fmt.Errorf("the program ended after %d lines (%v): %s", c, s.err, s.errOut)
			default:
			}
			return fmt.Errorf("%d of %d lines", c, n)
		}
		return nil
	})
}

// wait waits for the program to exit, bounded by ctx.
func (s *lineStream) wait(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-s.done:
	case <-ctx.Done():
		t.Fatalf("the program still runs when the test's time ran out, after %d lines", s.count())
	}
}

// finishCounting waits for a startCounting ssh to exit, bounded by ctx, and
// checks that it printed 1..n and exited 0. It returns the largest gap
// between two lines and the line after which it happened.
func (s *lineStream) finishCounting(t *testing.T, ctx context.Context, n int) (gap time.Duration, after int) {
	t.Helper()
	s.wait(t, ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		t.Errorf("ssh exited with %v after %d of %d lines: %s", s.err, len(s.lines), n, s.errOut)
	}
	for i, l := range s.lines {
		if l.text != strconv.Itoa(i+1) {
			t.Errorf("ssh line %d is %q, want %d", i+1, l.text, i+1)
			break
		}
	}
	if len(s.lines) != n {
		t.Errorf("ssh printed %d lines, want %d", len(s.lines), n)
	}
	return s.maxGap(func(string) bool { return true })
}

// maxGap returns the largest gap between two consecutive lines that match
// keep, and the (1-based) index among them of the line after which it
// happened. The caller holds s.mu.
func (s *lineStream) maxGap(keep func(string) bool) (gap time.Duration, after int) {
	var prev time.Time
	i := 0
	for _, l := range s.lines {
		if !keep(l.text) {
			continue
		}
		i++
		if !prev.IsZero() {
			if d := l.at.Sub(prev); d > gap {
				gap, after = d, i-1
			}
		}
		prev = l.at
	}
	return gap, after
}

// firstAfter returns when the first line arrived after t0, or the zero time.
func (s *lineStream) firstAfter(t0 time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if l.at.After(t0) {
			return l.at
		}
	}
	return time.Time{}
}
