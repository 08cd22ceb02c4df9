package soak

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/proxy/vaddr"
)

// Ports of the servers on their host's address: data (the overlay), data+1
// (gossip) and metrics.
const (
	dataPort    = 5610
	metricsPort = 9610
)

// daemon is one server or proxy process of the world, restartable.
type daemon struct {
	name   string
	server bool
	host   *netlab.Host
	args   func() []string // the command line, made at each start
	mu     sync.Mutex      // guards proc: the kills replace it, the sampler reads it
	proc   *netlab.Proc
	starts int
}

// current returns d's latest process.
func (d *daemon) current() *netlab.Proc {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.proc
}

// world is the lab, its daemons and what the traffic needs to know.
type world struct {
	self    string // the i3net executable
	dir     string // state directories, the ring key
	lab     *netlab.Lab
	servers []*daemon
	proxies []*daemon // laptop, home
	laptop  *netlab.Host
	home    *netlab.Host
	homeV4  netip.Addr // home's virtual address at laptop (derived from its id)
}

// newWorld builds the hosts, the ring and the two proxies, and returns once
// laptop's proxy answers for home.i3.
func newWorld(ctx context.Context, self, dir string, dropPercent int) (*world, error) {
	lab, err := netlab.New(netlab.Options{LogDir: filepath.Join(dir, "logs")})
	if err != nil {
		return nil, err
	}
	w := &world{self: self, dir: dir, lab: lab}
	if err := w.build(ctx, dropPercent); err != nil {
		lab.Close()
		return nil, err
	}
	return w, nil
}

func (w *world) build(ctx context.Context, dropPercent int) error {
	if err := os.MkdirAll(filepath.Join(w.dir, "logs"), 0o755); err != nil {
		return err
	}
	keyFile, err := w.writeRingKey()
	if err != nil {
		return err
	}
	for i := range 3 {
		h, err := w.lab.Host(fmt.Sprintf("srv%d", i+1))
		if err != nil {
			return err
		}
		w.servers = append(w.servers, &daemon{name: h.Name(), server: true, host: h})
	}
	for i, s := range w.servers {
		s.args = w.serverArgs(s, keyFile, i == 0)
		if err := w.start(ctx, s); err != nil {
			return err
		}
	}
	if err := w.waitMembers(ctx, len(w.servers)); err != nil {
		return err
	}
	w.servers[0].args = w.serverArgs(w.servers[0], keyFile, false) // a restart joins the others
	if w.laptop, err = w.lab.Host("laptop"); err != nil {
		return err
	}
	if w.home, err = w.lab.Host("home"); err != nil {
		return err
	}
	if err := w.identities(ctx); err != nil {
		return err
	}
	for _, h := range []*netlab.Host{w.home, w.laptop} {
		if err := h.SetResolvConf("nameserver 127.0.0.1\n"); err != nil {
			return err
		}
		d := &daemon{name: h.Name(), host: h, args: w.proxyArgs(h)}
		w.proxies = append(w.proxies, d)
		if err := w.start(ctx, d); err != nil {
			return err
		}
	}
	return w.dropRules(dropPercent)
}

// writeRingKey writes the servers' shared ring key and returns its path.
func (w *world) writeRingKey() (string, error) {
	key := make([]byte, 32)
	rand.Read(key)
	file := filepath.Join(w.dir, "ring.key")
	return file, os.WriteFile(file, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600)
}

func (w *world) dataAddr(s *daemon) netip.AddrPort {
	return netip.AddrPortFrom(s.host.Addr4(), dataPort)
}

func (w *world) metricsAddr(s *daemon) netip.AddrPort {
	return netip.AddrPortFrom(s.host.Addr4(), metricsPort)
}

// serverArgs is the command line of server s: the first starts the ring,
// the others (and every restart) join through the other servers' gossip.
func (w *world) serverArgs(s *daemon, keyFile string, first bool) func() []string {
	return func() []string {
		args := []string{"server", "--listen", w.dataAddr(s).String(), "--ring", "--ring-preset", "lan",
			"--ring-key-file", keyFile, "--metrics", w.metricsAddr(s).String(), "--log-level", "warn"}
		if first {
			return args
		}
		for _, o := range w.servers {
			if o != s && o.args != nil {
				args = append(args, "--join", netip.AddrPortFrom(o.host.Addr4(), dataPort+1).String())
			}
		}
		return args
	}
}

// proxyArgs is the command line of h's proxy: every server, the nearest used.
func (w *world) proxyArgs(h *netlab.Host) func() []string {
	return func() []string {
		args := []string{"proxy", "--state-dir", w.stateDir(h.Name()), "--log-level", "warn"}
		for _, s := range w.servers {
			args = append(args, "--server", w.dataAddr(s).String())
		}
		return args
	}
}

func (w *world) stateDir(host string) string { return filepath.Join(w.dir, host) }

// identities gives laptop and home an identity and a book naming the other,
// and derives home's virtual address at laptop.
func (w *world) identities(ctx context.Context) error {
	keys := map[string]string{}
	for _, h := range []string{"laptop", "home"} {
		out, err := exec.CommandContext(ctx, w.self, "id", "--state-dir", w.stateDir(h), "--json").Output()
		if err != nil {
			return fmt.Errorf("i3net id for %s: %w", h, err)
		}
		var info struct{ Key, ID string }
		if err := json.Unmarshal(out, &info); err != nil {
			return fmt.Errorf("i3net id --json for %s: %w", h, err)
		}
		keys[h] = info.Key
		if h == "home" {
			x, err := id.Parse(info.ID)
			if err != nil {
				return err
			}
			w.homeV4 = vaddr.Derive(vaddr.DefaultPool4, x)
		}
	}
	for _, c := range [][2]string{{"laptop", "home"}, {"home", "laptop"}} {
		out, err := exec.CommandContext(ctx, w.self, "book", "add", c[1], keys[c[1]], "--state-dir", w.stateDir(c[0])).CombinedOutput()
		if err != nil {
			return fmt.Errorf("i3net book add %s on %s: %v: %s", c[1], c[0], err, out)
		}
	}
	return nil
}

// dropRules makes every host drop percent % of the overlay datagrams it
// receives: servers those to their data port, proxies those from it.
func (w *world) dropRules(percent int) error {
	for _, d := range append(append([]*daemon{}, w.servers...), w.proxies...) {
		match := fmt.Sprintf("udp sport %d", dataPort)
		if d.server {
			match = fmt.Sprintf("udp dport %d", dataPort)
		}
		rules := fmt.Sprintf(`table inet soak {
	chain input {
		type filter hook input priority -10; policy accept;
		%[1]s counter name overlay
		%[1]s numgen random mod 100 < %[2]d counter name dropped drop
	}
	counter overlay {}
	counter dropped {}
}
`, match, percent)
		if err := d.host.Nft(rules); err != nil {
			return err
		}
	}
	return nil
}

// start starts d and waits (bounded) until it answers: a server its
// metrics, a proxy "i3net status".
func (w *world) start(ctx context.Context, d *daemon) error {
	p, err := d.host.Start(w.self, d.args()...)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.proc, d.starts = p, d.starts+1
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	err = netlab.Poll(ctx, 100*time.Millisecond, func() error {
		select {
		case <-p.Done():
			return fmt.Errorf("exited: %s", p.Report(2000))
		default:
		}
		return w.ready(ctx, d)
	})
	if err != nil {
		return fmt.Errorf("%s did not come up: %w", d.name, err)
	}
	return nil
}

// ready reports whether d answers: a server its metrics, a proxy its status.
func (w *world) ready(ctx context.Context, d *daemon) error {
	if d.server {
		_, err := d.host.Metrics(ctx, w.metricsAddr(d))
		return err
	}
	_, err := d.host.Run(ctx, w.self, "status", "--state-dir", w.stateDir(d.name))
	return err
}

// waitMembers waits (bounded) until every live server counts n members.
func (w *world) waitMembers(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for _, s := range w.servers {
		err := netlab.Poll(ctx, 100*time.Millisecond, func() error {
			m, err := s.host.Metrics(ctx, w.metricsAddr(s))
			if err != nil {
				return err
			}
			if got := m["i3net_server_ring_members"]; got != float64(n) {
				return fmt.Errorf("%v members", got)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s does not count %d servers: %w", s.name, n, err)
		}
	}
	return nil
}

func (w *world) daemons() []*daemon { return append(append([]*daemon{}, w.servers...), w.proxies...) }
