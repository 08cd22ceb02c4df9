package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/book"
)

// CheckIdentity checks that the host's identity at path loads; stateDir is
// named in the remedy.
func CheckIdentity(path, stateDir string) Result {
	x, err := identity.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("identity", path+" is missing", "create one with: i3net id --state-dir "+stateDir)
	case errors.Is(err, fs.ErrPermission):
		return fail("identity", path+" is not readable here", "run as root, or name your own directory with --state-dir")
	case err != nil:
		return fail("identity", err.Error(), "move it aside and create a new one with: i3net id --state-dir "+stateDir)
	}
	return ok("identity", fmt.Sprintf("%s (id %s)", path, x.ID().Short()))
}

// CheckBook checks that the address book at path reads (a missing file is
// an empty book) and reports its warnings.
func CheckBook(path string) Result {
	b, err := book.Load(path)
	if err != nil {
		return fail("book", err.Error(), "fix the line it names (i3net book --help), or move the file aside")
	}
	if w := b.Warnings(); len(w) > 0 {
		return warn("book", fmt.Sprintf("%s: %d names, %d warnings, first: %v", path, b.Len(), len(w), w[0]), "fix the line it names")
	}
	return ok("book", fmt.Sprintf("%s: %d names", path, b.Len()))
}

// CheckPools checks the proxy's pools against this host's routes
// (proxy.CheckPools); check is that function, replaced in tests.
func CheckPools(pool4, pool6 netip.Prefix, check func(pool4, pool6 netip.Prefix) error) Result {
	if check == nil {
		check = proxy.CheckPools
	}
	pools := pool4.String()
	if pool6.IsValid() {
		pools += " and " + pool6.String()
	}
	if err := check(pool4, pool6); err != nil {
		return fail("pools", err.Error(), "choose other pools with --pool4/--pool6 (pool4, pool6 in the proxy's --config file), or stop the proxy that holds them")
	}
	return ok("pools", pools+" clash with no route of this host")
}

// CheckRunning reports whether a proxy answers on the control socket at
// controlPath (inUse is controlsock.InUse, replaced in tests). One that runs
// holds its pools: pools then reports the clash with its own tun device as
// expected (RunningPools).
func CheckRunning(controlPath string, inUse func(string) bool) (Result, bool) {
	if inUse(controlPath) {
		return ok("proxy", "a proxy runs with this state directory (i3net status shows it)"), true
	}
	return ok("proxy", "none runs with this state directory"), false
}

// RunningPools turns the pools' clash with the tun device of the proxy that
// runs (CheckRunning) into what it is: no fault.
func RunningPools(r Result) Result {
	if r.Level == Fail && strings.Contains(r.Detail, "already routed into tun device") {
		return ok("pools", "routed into the tun device of the proxy that runs")
	}
	return r
}
