package proxytest

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/book"
)

// waitTimeout bounds every wait of a Host.
const waitTimeout = 10 * time.Second

// Host is a proxy of a test: its identity, book, tun device and log.
type Host struct {
	Name  string
	Ident *identity.Identity
	Dir   string // state directory: book.toml, state.json
	Tun   *Tun
	// Raw, when set before Start, is the device instead of Tun alone: a
	// tun device with offloads the proxy reads and writes directly (Tun is
	// then Raw's, for the packets written through it).
	Raw  *RawTun
	Log  *LogBuffer
	PX   *proxy.Proxy
	done chan error
}

// NewHost returns a host with a new identity and an empty state directory.
func NewHost(t testing.TB, name string) *Host {
	t.Helper()
	ident, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return &Host{Name: name, Ident: ident, Dir: t.TempDir(), Log: &LogBuffer{}}
}

// BookPath is the file of h's address book.
func (h *Host) BookPath() string { return filepath.Join(h.Dir, "book.toml") }

// WriteBook writes h's address book: each peer under its name, the blocked
// ones marked so. A running proxy picks a change up within a few seconds.
func (h *Host) WriteBook(t testing.TB, peers map[string]*identity.Identity, blocked ...string) {
	t.Helper()
	var es []book.Entry
	for n, p := range peers {
		e := book.NewEntry(n, p.Public())
		for _, b := range blocked {
			e.Blocked = e.Blocked || b == n
		}
		es = append(es, e)
	}
	h.WriteEntries(t, es...)
}

// WriteEntries writes h's address book with the entries es.
func (h *Host) WriteEntries(t testing.TB, es ...book.Entry) {
	t.Helper()
	b, err := book.New(es...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Save(h.BookPath()); err != nil {
		t.Fatal(err)
	}
}

// Start runs h's proxy against servers until the end of the test (or Stop),
// with the configuration changed by mod, and waits for its public trigger.
func (h *Host) Start(t testing.TB, servers []netip.AddrPort, mod func(*proxy.Config)) {
	t.Helper()
	cfg := proxy.DefaultConfig()
	cfg.Identity = h.Ident
	cfg.BookPath = h.BookPath()
	cfg.StatePath = filepath.Join(h.Dir, "state.json")
	cfg.Servers = servers
	cfg.ListenAddr = netip.MustParseAddrPort("127.0.0.1:0")
	cfg.ResolvConf = ""
	// HandshakeTimeout stays the default (10 s): on a loaded machine a first
	// handshake can take seconds, and a failed one drops the test's packet.
	// Tests of failing handshakes set a short one.
	cfg.Logger = slog.New(slog.NewTextHandler(h.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.Tun = NewTun()
	cfg.Tun = h.Tun
	if h.Raw != nil {
		h.Tun, cfg.Tun = h.Raw.Tun, h.Raw
	}
	if mod != nil {
		mod(&cfg)
	}
	px, err := proxy.New(cfg)
	if err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
	h.PX = px
	h.done = make(chan error, 1)
	ups := len(h.Log.Lines("proxy up"))
	go func() { h.done <- px.Run(context.Background()) }()
	t.Cleanup(func() { h.Stop(t) })
	deadline := time.Now().Add(waitTimeout)
	for len(h.Log.Lines("proxy up")) == ups {
		select {
		case err := <-h.done:
			h.PX = nil // Run has returned: nothing for Stop to wait for
			t.Fatalf("%s: proxy stopped: %v\n%s", h.Name, err, h.Log)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no public trigger within %v:\n%s", h.Name, waitTimeout, h.Log)
		}
	}
}

// Stop closes h's proxy and waits for its Run to return.
func (h *Host) Stop(t testing.TB) {
	if h.PX == nil {
		return
	}
	h.PX.Close()
	select {
	case <-h.done:
	case <-time.After(waitTimeout):
		t.Errorf("%s: proxy Run did not return after Close", h.Name)
	}
	h.PX = nil
}

// Counter returns one of h's proxy counters.
func (h *Host) Counter(name string) uint64 {
	c, ok := h.PX.Status().Counters[name]
	if !ok {
		panic("no proxy counter " + name)
	}
	return c
}

// Addr returns h's own IPv4 tun address.
func (h *Host) Addr() netip.Addr { return h.PX.Status().Self.Addr4 }

// Self returns h's own tun addresses.
func (h *Host) Self() (v4, v6 netip.Addr) {
	st := h.PX.Status()
	return st.Self.Addr4, st.Self.Addr6
}
