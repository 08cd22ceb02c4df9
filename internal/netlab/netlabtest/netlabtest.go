// Package netlabtest adapts internal/netlab to tests: New skips a test that
// cannot build namespaces (not Linux, not root, tools missing), closes the lab
// at the end of the test, and logs the output of the lab's processes when the
// test failed; the topology methods of Lab, Net and NAT call t.Fatal instead
// of returning errors. Everything else (hosts, processes, Poll, WaitListen, …)
// is netlab's own.
package netlabtest

import (
	"net/netip"
	"testing"

	"github.com/i3net/i3net/internal/netlab"
)

// logTail is how much of each process's output a failed test logs.
const logTail = 4096

// Lab is a netlab.Lab owned by a test.
type Lab struct {
	*netlab.Lab
	t testing.TB
}

// RequireRoot skips t, saying why, unless it can build a lab (netlab.Check).
func RequireRoot(t testing.TB) {
	t.Helper()
	if err := netlab.Check(); err != nil {
		t.Skipf("skipping: %v (tests that build network namespaces run as root on Linux, as CI does)", err)
	}
}

// New returns an empty lab for t, or skips t when RequireRoot would. The lab
// is closed when t ends; if t failed, the output of every process started in
// it is logged first.
func New(t testing.TB) *Lab {
	t.Helper()
	RequireRoot(t)
	l, err := netlab.New(netlab.Options{LogDir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := l.Close()
		if t.Failed() {
			for _, p := range l.Procs() {
				t.Logf("netlab: output of %s", p.Report(logTail))
			}
		}
		if err != nil {
			t.Error(err)
		}
	})
	return &Lab{Lab: l, t: t}
}

// Internet is netlab.Lab.Internet, failing t on error.
func (l *Lab) Internet(prefixes ...netip.Prefix) *Net {
	l.t.Helper()
	n, err := l.Lab.Internet(prefixes...)
	if err != nil {
		l.t.Fatal(err)
	}
	return &Net{Net: n, t: l.t}
}

// Host is netlab.Lab.Host, failing t on error.
func (l *Lab) Host(name string) *netlab.Host {
	l.t.Helper()
	h, err := l.Lab.Host(name)
	if err != nil {
		l.t.Fatal(err)
	}
	return h
}

// NATHost is netlab.Lab.NATHost, failing t on error.
func (l *Lab) NATHost(name string, lan netip.Prefix, kind netlab.NATKind) *NAT {
	l.t.Helper()
	nat, err := l.Lab.NATHost(name, lan, kind)
	if err != nil {
		l.t.Fatal(err)
	}
	return &NAT{NAT: nat, t: l.t}
}

// Net is a netlab.Net of a test's lab.
type Net struct {
	*netlab.Net
	t testing.TB
}

// Host is netlab.Net.Host, failing t on error.
func (n *Net) Host(name string) *netlab.Host {
	n.t.Helper()
	h, err := n.Net.Host(name)
	if err != nil {
		n.t.Fatal(err)
	}
	return h
}

// NAT is a netlab.NAT of a test's lab.
type NAT struct {
	*netlab.NAT
	t testing.TB
}

// Inside is netlab.NAT.Inside, failing t on error.
func (n *NAT) Inside(name string) *netlab.Host {
	n.t.Helper()
	h, err := n.NAT.Inside(name)
	if err != nil {
		n.t.Fatal(err)
	}
	return h
}

// InsideAt is netlab.NAT.InsideAt, failing t on error.
func (n *NAT) InsideAt(name string, addr netip.Addr) *netlab.Host {
	n.t.Helper()
	h, err := n.NAT.InsideAt(name, addr)
	if err != nil {
		n.t.Fatal(err)
	}
	return h
}

// AddRouter is netlab.NAT.AddRouter, failing t on error.
func (n *NAT) AddRouter(name string) *netlab.Router {
	n.t.Helper()
	r, err := n.NAT.AddRouter(name)
	if err != nil {
		n.t.Fatal(err)
	}
	return r
}

// Start starts a program in h and stops it when the test ends (an error
// stopping it fails the test).
func Start(t testing.TB, h *netlab.Host, name string, args ...string) *netlab.Proc {
	t.Helper()
	p, err := h.Start(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})
	return p
}
