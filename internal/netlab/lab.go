package netlab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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

// Tools are the programs a lab runs to build itself; Check looks for them.
var Tools = []string{"ip", "bridge", "nft"}

// Lab is a set of network namespaces: an internet, hosts on it, NATs with
// hosts behind them, and the processes started inside them. Close stops every
// process and deletes every namespace.
//
// Methods that build or change the topology (Internet, Host, NATHost, MoveTo,
// Renumber, SetLinkUp, ...) belong to one goroutine, the lab's owner. Methods
// that act inside a host (Run, Start, Do, Dial, ...) may be called from any
// goroutine.
type Lab struct {
	prefix    string // NamePrefix + "<pid>-<n>"
	logDir    string // process output files
	ownLogDir bool   // logDir is the lab's, removed by Close

	mu      sync.Mutex
	inet    *Net
	names   map[string]bool // host names taken
	nsList  []string        // every namespace created, in creation order
	procs   []*Proc
	procSeq int
	closed  bool
}

// Options tunes a lab; the zero value is the default.
type Options struct {
	// LogDir holds the output of the processes Host.Start starts, one file
	// each. Empty means a new temporary directory that Close removes.
	LogDir string
	// Logf, if not nil, is told what New could not tidy up: leftovers of
	// earlier runs that CleanupStale failed to remove.
	Logf func(format string, args ...any)
}

// Check returns nil when this process can build a lab: it runs on Linux, as
// root, with ip, bridge and nft in PATH. Otherwise its error says what is
// missing and how to get it.
func Check() error {
	if runtime.GOOS != "linux" {
		return ErrNeedsLinux
	}
	if os.Geteuid() != 0 {
		return errors.New("netlab: creating network namespaces needs root")
	}
	for _, tool := range Tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("netlab: %s is not in PATH (scripts/deps installs it, with the packages of internal/netlab/APT_PACKAGES.txt)", tool)
		}
	}
	return nil
}

// ErrNeedsLinux is New's error on systems other than Linux.
var ErrNeedsLinux = errors.New("netlab: network namespaces need Linux")

// New returns an empty lab. The first lab of a process also removes the
// namespaces of dead earlier runs (CleanupStale). New does not check for root
// or tools (Check does): without them, building the first host fails.
func New(opt Options) (*Lab, error) {
	if runtime.GOOS != "linux" {
		return nil, ErrNeedsLinux
	}
	staleOnce.Do(func() {
		if err := CleanupStale(); err != nil && opt.Logf != nil {
			opt.Logf("netlab: removing leftovers of earlier runs: %v", err)
		}
	})
	l := &Lab{
		prefix: fmt.Sprintf("%s%d-%d", NamePrefix, os.Getpid(), labCounter.Add(1)),
		logDir: opt.LogDir,
		names:  make(map[string]bool),
	}
	if l.logDir == "" {
		dir, err := os.MkdirTemp("", "i3net-netlab-")
		if err != nil {
			return nil, fmt.Errorf("netlab: a directory for process output: %w", err)
		}
		l.logDir, l.ownLogDir = dir, true
	}
	return l, nil
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

// Procs returns the processes Host.Start started, in start order.
func (l *Lab) Procs() []*Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Proc(nil), l.procs...)
}

// Internet returns the lab's internet, creating it on first use: a bridge br0
// in its own namespace (<prefix>-inet) that hosts attach to. prefixes gives at
// most one IPv4 and one IPv6 prefix; a family not given gets its default,
// 198.18.0.0/15 and 2001:db8:1::/64. Prefixes can only be chosen before the
// internet exists, that is before the first Host or NATHost.
func (l *Lab) Internet(prefixes ...netip.Prefix) (*Net, error) {
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
		return nil, fmt.Errorf("netlab: %s: Internet(%v): the internet exists already, with %v and %v", l.prefix, prefixes, inet.p4, inet.p6)
	}
	if inet != nil {
		return inet, nil
	}
	n, err := l.newInternet(p4, p6)
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: internet: %w", l.prefix, err)
	}
	return n, nil
}

// Host creates a host on the internet (creating the internet with its
// defaults if needed): a namespace with lo up and Uplink holding the next free
// IPv4 and IPv6 addresses. There is no default route: hosts on the internet
// reach each other on-link, and nothing else.
func (l *Lab) Host(name string) (*Host, error) {
	inet, err := l.Internet()
	if err != nil {
		return nil, err
	}
	return inet.Host(name)
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

// Close stops the lab's processes (SIGTERM, SIGKILL after StopGrace), kills
// whatever else still runs in its namespaces, deletes them with their
// /etc/netns directories and, if the lab made it, the directory of process
// output. Every step is bounded in time. Later calls do nothing and return
// nil; the lab builds nothing more after Close.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
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
	for i := len(nss) - 1; i >= 0; i-- {
		if err := removeNamespace(nss[i]); err != nil {
			addErr(err)
		}
	}
	if l.ownLogDir {
		if err := os.RemoveAll(l.logDir); err != nil {
			addErr(err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netlab: %s: cleanup: %w", l.prefix, err)
	}
	return nil
}

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
