package cli

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// How many threads run the proxy's Go code at once (GOMAXPROCS;
// docs/proxy.md, "Threads"; measured in docs/benchmarks.md, "Fourth
// sitting"): --procs, or procs in the --config file; 0 or nothing is the
// default below in tun mode, Go's own in userspace mode (whose network stack
// runs goroutines of its own, unmeasured here). A GOMAXPROCS in the
// environment wins over the default, never over --procs or the file.

// autoProcs is the default: per overlay, 1 thread on a host where Go found
// at most 3 CPUs for the process (its cgroup's limit included), 2 on larger
// ones, never more than it found. The proxy's data path is two goroutines
// (the tun device's reader and the overlay socket's); every spare thread
// beyond what they use costs wake-ups of idle threads that find nothing to
// do, and on a small host the applications the proxy serves need the
// other CPUs.
func autoProcs(cpus, overlays int) int {
	per := 2
	if cpus <= 3 {
		per = 1
	}
	return max(1, min(cpus, per*max(1, overlays)))
}

// optProcs is --procs: a count of threads, or 0 for the default.
type optProcs struct {
	n   int
	set bool
}

func (o *optProcs) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.Itoa(o.n)
}

func (o *optProcs) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return fmt.Errorf("want a number of threads, e.g. 2, or 0 for the default")
	}
	o.n, o.set = n, true
	return nil
}

// addProcsFlags defines --procs on fs.
func (a *proxyArgs) addProcsFlags(fs *flag.FlagSet) {
	fs.Var(&a.procs, "procs", "how many `THREADS` run the proxy at once (GOMAXPROCS); 0: 1 per overlay on a host with up to "+
		"3 CPUs, 2 on larger ones, or GOMAXPROCS from the environment, or Go's own in userspace mode; procs in the --config file")
}

// fileProcs takes the configuration file's procs; the flag wins.
func (a *proxyArgs) fileProcs(f proxyFile) {
	if !a.procs.set && f.Procs != nil {
		a.procs = optProcs{n: *f.Procs, set: true}
	}
}

// applyProcs sets how many threads run Go code for a proxy of overlays
// overlays, in userspace mode or not, and logs it.
func (a *proxyArgs) applyProcs(overlays int, userspace bool, log *slog.Logger) {
	// What Go found, or GOMAXPROCS from the environment.
	n, from := a.procsFor(runtime.GOMAXPROCS(0), overlays, userspace, os.Getenv("GOMAXPROCS") != "")
	runtime.GOMAXPROCS(n)
	log.Debug("threads", "procs", n, "cpus", runtime.NumCPU(), "from", from)
}

// procsFor is how many threads: --procs or procs in the file when given and
// not 0; else cpus (Go's GOMAXPROCS) when the environment set it or in
// userspace mode; else autoProcs. It also says which.
func (a *proxyArgs) procsFor(cpus, overlays int, userspace, env bool) (int, string) {
	switch {
	case a.procs.set && a.procs.n > 0:
		return a.procs.n, "--procs"
	case env:
		return cpus, "GOMAXPROCS"
	case userspace:
		return cpus, "Go's, in userspace mode"
	}
	return autoProcs(cpus, overlays), "default"
}
