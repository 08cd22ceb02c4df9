package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/i3net/i3net/e2e/netns"
	"github.com/i3net/i3net/id"
)

// demoLab adapts the demo to netns.T: Fatalf ends the demo (through a panic
// that runDemoLab recovers), and cleanups run when the demo ends.
type demoLab struct {
	dir      string
	cleanups []func()
	failed   bool
	n        *narrator
}

type demoFatal struct{ msg string }

func (d *demoLab) Helper()                        {}
func (d *demoLab) Cleanup(f func())               { d.cleanups = append(d.cleanups, f) }
func (d *demoLab) Errorf(format string, a ...any) { d.failed = true; d.n.say("error: "+format, a...) }
func (d *demoLab) Fatalf(format string, a ...any) {
	d.failed = true
	panic(demoFatal{fmt.Sprintf(format, a...)})
}
func (d *demoLab) Logf(format string, a ...any) {}
func (d *demoLab) Failed() bool                 { return d.failed }
func (d *demoLab) TempDir() string {
	dir, err := os.MkdirTemp(d.dir, "t")
	if err != nil {
		d.Fatalf("demo: %v", err)
	}
	return dir
}

// demoNamespaces builds hosts out of network namespaces, joins three overlay
// servers into one ring, and has real programs reach a host behind a NAT by
// name through the proxies:
//
//	laptop  ──┐  "internet" bridge   ┌── nat ── home (192.168.1.0/24)
//	srv1..3 ──┘  198.18.0.0/15       ┘
func demoNamespaces(ctx context.Context, n *narrator) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("the demonstration builds network namespaces and needs root: run it as root (sudo ./scripts/demo), or see only the overlay with --overlay-only")
	}
	for _, tool := range []string{"ip", "nft", "curl", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the demonstration needs %s: run ./scripts/demo, which installs it", tool)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "i3net-demo-")
	if err != nil {
		return err
	}
	t := &demoLab{dir: dir, n: n}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(demoFatal)
			if !ok {
				panic(r)
			}
			err = errors.New(f.msg)
		}
		n.say("cleaning up: stopping every process and deleting every namespace the demo made")
		for i := len(t.cleanups) - 1; i >= 0; i-- {
			t.cleanups[i]()
		}
		os.RemoveAll(dir)
	}()

	n.chapter("Hosts made of network namespaces")
	lab := netns.NewLab(t)
	srvs := []*netns.Host{lab.Host("srv1"), lab.Host("srv2"), lab.Host("srv3")}
	laptop := lab.Host("laptop")
	nat := lab.NATHost("nat", netip.MustParsePrefix("192.168.1.0/24"), netns.NATCone)
	home := nat.Inside("home")
	n.say("srv1 %v, srv2 %v, srv3 %v and laptop %v on the internet; home %v behind a NAT (masquerade) at %v",
		srvs[0].Addr4(), srvs[1].Addr4(), srvs[2].Addr4(), laptop.Addr4(), home.Addr4(), nat.Addr4())

	n.chapter("Three overlay servers join into one ring")
	ov, err := startDemoRing(ctx, n, self, srvs)
	if err != nil {
		return err
	}
	srvAddr := ov.servers[0].data // srv1: the one address the proxies are given

	n.chapter("Identities and address books")
	keys := map[string]string{}
	ids := map[string]id.ID{}
	for _, h := range []string{"home", "laptop"} {
		out, err := exec.CommandContext(ctx, self, "id", "--state-dir", filepath.Join(dir, h), "--json").Output()
		if err != nil {
			return fmt.Errorf("i3net id for %s: %w", h, err)
		}
		var info struct{ Key, ID string }
		if err := json.Unmarshal(out, &info); err != nil {
			return err
		}
		keys[h] = info.Key
		if ids[h], err = id.Parse(info.ID); err != nil {
			return fmt.Errorf("i3net id for %s: %w", h, err)
		}
		n.say("%s's public key %s (public id %s…)", h, info.Key, info.ID[:8])
	}
	for _, c := range [][3]string{{"laptop", "home", keys["home"]}, {"home", "laptop", keys["laptop"]}} {
		if out, err := exec.CommandContext(ctx, self, "book", "add", c[1], c[2], "--state-dir", filepath.Join(dir, c[0])).CombinedOutput(); err != nil {
			return fmt.Errorf("i3net book add: %v: %s", err, out)
		}
	}
	n.say("laptop's book: home → home's key; home's book: laptop → laptop's key")
	for _, h := range []string{"home", "laptop"} {
		owner, replica := ov.owner(ids[h])
		n.say("%s's public id %s falls in %s's part of the ring: %s will hold %s's public trigger, %s a copy",
			h, ids[h].Short(), owner, owner, h, replica)
	}

	n.chapter("Proxies on both hosts, given srv1's address")
	for _, h := range []*netns.Host{home, laptop} {
		if _, err := h.Start(self, "proxy", "--server", srvAddr.String(), "--state-dir", filepath.Join(dir, h.Name()), "--log-level", "warn"); err != nil {
			return err
		}
	}
	for _, h := range []*netns.Host{home, laptop} {
		start := time.Now()
		if err := netns.Poll(ctx, 50*time.Millisecond, func() error {
			_, err := h.Run(ctx, self, "status", "--state-dir", filepath.Join(dir, h.Name()))
			return err
		}); err != nil {
			return fmt.Errorf("the proxy on %s did not come up: %w", h.Name(), err)
		}
		n.say("proxy up on %s after %v: tun device, DNS on the virtual pool, public trigger inserted", h.Name(), time.Since(start).Round(time.Millisecond))
	}

	n.chapter("A web server on home, behind the NAT")
	ln, err := home.Listen("tcp4", netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
	if err != nil {
		return err
	}
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from home, you are %s\n", r.RemoteAddr)
	}), ReadHeaderTimeout: 5 * time.Second}
	go web.Serve(ln)
	defer web.Close()
	n.say("serving http on home:80; nothing on the NAT forwards to it")

	n.chapter("laptop reaches home by name with unmodified programs")
	if _, err := laptop.Run(ctx, "curl", "-sS", "-m", "2", "http://"+home.Addr4().String()+"/"); err == nil {
		return fmt.Errorf("laptop reached home's private address %v directly: the NAT is not in the way", home.Addr4())
	}
	n.say("$ curl http://%v/   fails: home's own address is private, behind the NAT", home.Addr4())
	start := time.Now()
	out, err := laptop.Run(ctx, "curl", "-sS", "-m", "10", "http://home.i3/")
	if err != nil {
		return fmt.Errorf("curl http://home.i3/: %w", err)
	}
	n.say("$ curl http://home.i3/   (%v, first contact: DNS, private triggers, handshake)", time.Since(start).Round(time.Millisecond))
	n.say("  %s", strings.TrimSpace(string(out)))
	start = time.Now()
	if _, err := laptop.Run(ctx, "curl", "-sS", "-m", "10", "http://home.i3/"); err != nil {
		return err
	}
	n.say("again: %v (the session is up)", time.Since(start).Round(time.Millisecond))
	out, err = laptop.Run(ctx, "ping", "-c", "3", "-i", "0.2", "home.i3")
	if err != nil {
		return fmt.Errorf("ping home.i3: %w", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, "bytes from") || strings.Contains(l, "rtt") || strings.Contains(l, "transmitted") {
			n.say("  %s", l)
		}
	}

	n.chapter("What the servers did (their Prometheus counters)")
	if err := ov.report(ctx, n); err != nil {
		return err
	}

	n.chapter("What laptop's proxy knows (i3net status)")
	out, err = laptop.Run(ctx, self, "status", "--state-dir", filepath.Join(dir, "laptop"))
	if err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		n.say("  %s", l)
	}
	return nil
}
