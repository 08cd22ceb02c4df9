package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// NamePrefix starts the name of every namespace this package creates. A
	// lab's namespaces are named NamePrefix + "<pid>-<n>-<host>", where pid is
	// the creating process, so CleanupStale can tell leftovers of dead runs.
	NamePrefix = "i3t-"

	// Uplink is the name of a host's interface to its network, in every host.
	Uplink = "eth0"

	// StopGrace is how long a process has to exit after SIGTERM before it is
	// sent SIGKILL.
	StopGrace = 3 * time.Second

	// killWait bounds the wait for a process to vanish after SIGKILL.
	killWait = 2 * time.Second

	// RunTimeout bounds Host.Run when its context has no deadline.
	RunTimeout = 60 * time.Second

	// toolTimeout bounds each ip or nft command the lab runs to build itself.
	toolTimeout = 10 * time.Second

	// netnsDir is where ip(8) keeps named namespaces; etcNetnsDir holds the
	// per-namespace files ip netns exec bind-mounts over /etc.
	netnsDir    = "/run/netns"
	etcNetnsDir = "/etc/netns"
)

var (
	labCounter atomic.Int64
	staleOnce  sync.Once
	hostName   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,19}$`)
)

// Lab is a set of network namespaces built for one test: an internet, hosts on
// it, NATs with hosts behind them, and the processes started inside them. Its
// t.Cleanup stops every process and deletes every namespace.
//
// Methods that build or change the topology (Internet, Host, NATHost, MoveTo,
// Renumber, SetLinkUp, ...) call t.Fatal on failure and must be called from
// the test's goroutine. Methods that act inside a host (Run, Start, Do, Dial,
// ...) return errors and may be called from any goroutine.
type Lab struct {
	t      T
	prefix string // NamePrefix + "<pid>-<n>"
	logDir string // process output files

	mu      sync.Mutex
	inet    *Net
	names   map[string]bool // host names taken
	nsList  []string        // every namespace created, in creation order
	procs   []*Proc
	procSeq int
	closed  bool
}

// RequireRoot skips the test, saying why, unless it runs as root with ip,
// bridge and nft in PATH.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netns: skipping: end-to-end tests need root to create network namespaces (CI runs them as root)")
	}
	for _, tool := range []string{"ip", "bridge", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("netns: skipping: %s is not in PATH (install the packages in e2e/netns/APT_PACKAGES.txt)", tool)
		}
	}
}

// T is what a lab needs of its owner: a test's testing.TB satisfies it; a
// program that builds a lab outside tests (i3net demo) provides its own, whose
// Fatalf must not return and whose Cleanup functions it runs at the end.
type T interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
	TempDir() string
}

// New returns an empty lab for t, or skips t when RequireRoot would. The first
// lab of a process also removes the namespaces of dead earlier runs
// (CleanupStale).
func New(t testing.TB) *Lab {
	t.Helper()
	RequireRoot(t)
	return NewLab(t)
}

// NewLab is New for owners that are not tests: it does not check for root (the
// owner does, and says so in its own words).
func NewLab(t T) *Lab {
	t.Helper()
	staleOnce.Do(func() {
		if err := CleanupStale(); err != nil {
			t.Logf("netns: removing leftovers of earlier runs: %v", err)
		}
	})
	l := &Lab{
		t:      t,
		prefix: fmt.Sprintf("%s%d-%d", NamePrefix, os.Getpid(), labCounter.Add(1)),
		logDir: t.TempDir(), // before Cleanup below, so it is removed after it
		names:  make(map[string]bool),
	}
	t.Cleanup(l.cleanup)
	return l
}

// Prefix returns the start of the names of the lab's namespaces, e.g.
// "i3t-4242-1"; a host "web" lives in namespace "i3t-4242-1-web".
func (l *Lab) Prefix() string { return l.prefix }

// Namespaces returns the names of the namespaces the lab has created, in
// creation order.
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.nsList...)
}

// Internet returns the lab's internet, creating it on first use: a bridge br0
// in its own namespace (<prefix>-inet) that hosts attach to. prefixes gives at
// most one IPv4 and one IPv6 prefix; a family not given gets its default,
// 198.18.0.0/15 and 2001:db8:1::/64. Prefixes can only be chosen before the
// internet exists, that is before the first Host or NATHost.
func (l *Lab) Internet(prefixes ...netip.Prefix) *Net {
	l.t.Helper()
	p4, p6 := DefaultInternet4, DefaultInternet6
	for _, p := range prefixes {
		p = p.Masked()
		if p.Addr().Is4() {
			p4 = p
		} else {
			p6 = p
		}
	}
	l.mu.Lock()
	inet := l.inet
	l.mu.Unlock()
	if inet != nil && len(prefixes) > 0 {
		l.t.Fatalf("netns: %s: Internet(%v): the internet exists already, with %v and %v", l.prefix, prefixes, inet.p4, inet.p6)
	}
	if inet != nil {
		return inet
	}
	n, err := l.newInternet(p4, p6)
	if err != nil {
		l.t.Fatalf("netns: %s: internet: %v", l.prefix, err)
	}
	return n
}

// Host creates a host on the internet (creating the internet with its
// defaults if needed): a namespace with lo up and Uplink holding the next free
// IPv4 and IPv6 addresses. There is no default route: hosts on the internet
// reach each other on-link, and nothing else.
func (l *Lab) Host(name string) *Host {
	l.t.Helper()
	return l.Internet().Host(name)
}

// addNamespace creates the namespace <prefix>-<short> with lo up and records
// it for cleanup.
func (l *Lab) addNamespace(short string) (string, error) {
	ns := l.prefix + "-" + short
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return "", errors.New("lab already cleaned up")
	}
	if err := runTool("", "ip", "netns", "add", ns); err != nil {
		return "", err
	}
	l.mu.Lock()
	l.nsList = append(l.nsList, ns)
	l.mu.Unlock()
	if err := runTool("", "ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
		return "", err
	}
	return ns, nil
}

// cleanup stops the lab's processes, kills whatever else still runs in its
// namespaces, and deletes them with their /etc/netns directories. Every step
// is bounded in time.
func (l *Lab) cleanup() {
	l.mu.Lock()
	l.closed = true
	procs := append([]*Proc(nil), l.procs...)
	nss := append([]string(nil), l.nsList...)
	l.mu.Unlock()

	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	addErr := func(err error) {
		emu.Lock()
		errs = append(errs, err)
		emu.Unlock()
	}
	for _, p := range procs {
		wg.Go(func() {
			if err := p.Stop(); err != nil {
				addErr(err)
			}
		})
	}
	wg.Wait()
	if l.t.Failed() {
		for _, p := range procs {
			l.t.Logf("netns: output of %s (%v), last %d bytes:\n%s", p, p.exitErr(), logTail, tail(p.Output(), logTail))
		}
	}
	for i := len(nss) - 1; i >= 0; i-- {
		if err := removeNamespace(nss[i]); err != nil {
			addErr(err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		l.t.Errorf("netns: %s: cleanup: %v", l.prefix, err)
	}
}

// logTail is how much of each process's output a failed test logs.
const logTail = 4096

// removeNamespace kills every process in namespace ns, deletes it, and removes
// /etc/netns/<ns>.
func removeNamespace(ns string) error {
	var errs []error
	if err := killNamespace(ns); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
		if err := runTool("", "ip", "netns", "delete", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(etcNetnsDir, ns)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// runTool runs a setup command (ip, bridge, nft; each told which namespace to
// act in) with a time bound, feeding it stdin, and returns an error holding
// its output.
func runTool(stdin string, name string, args ...string) error {
	_, err := toolOutput(stdin, name, args...)
	return err
}

// toolOutput is runTool returning the command's standard output.
func toolOutput(stdin string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = killWait
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(tail([]byte(stderr.String()+string(out)), 512))))
	}
	return out, nil
}

// ipBatch runs the ip commands in lines (one per line, without "ip") in
// namespace ns with one ip process.
func ipBatch(ns string, lines ...string) error {
	if len(lines) == 0 {
		return nil
	}
	return runTool(strings.Join(lines, "\n")+"\n", "ip", "-n", ns, "-batch", "-")
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
