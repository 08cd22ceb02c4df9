package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/proxy"
)

// The anonymity chapter (docs/anonymity.md, the paper's §6.3): a host cafe
// on the internet runs a proxy whose book marks home anonymous, with
// sessions rotating after a second. It fetches home's page twice, a
// rotation apart: home's web server, which prints the client's address,
// sees two addresses, neither cafe's own, and home's status two keys,
// neither cafe's; each session's relay is a server other than cafe's first
// hop.

// anonRotate is how old cafe's anonymous session may get before a pause
// ends it.
const anonRotate = time.Second

// anonymousVisitor runs the chapter.
func (d *labDemo) anonymousVisitor(ctx context.Context) error {
	d.n.chapter("cafe reaches home anonymously (§6.3): no key, no stable address")
	cafe, err := d.lab.Host("cafe")
	if err != nil {
		return err
	}
	if err := d.newIdentity(ctx, cafe.Name()); err != nil {
		return err
	}
	out, err := cafeRun(ctx, d, cafe, "book", "add", "home", d.keys["home"], "--anonymous")
	if err != nil {
		return fmt.Errorf("i3net book add home --anonymous on cafe: %v: %s", err, out)
	}
	d.n.say("$ i3net book add home KEY --anonymous   (on cafe %v; home's book does not name cafe)", cafe.Addr4())
	args := []string{"proxy", "--server", d.ring.servers[0].data.String(), "--state-dir", d.stateDir(cafe.Name()),
		"--anonymous-rotate", anonRotate.String(), "--log-level", "warn"}
	if _, err := cafe.Start(d.self, args...); err != nil {
		return err
	}
	if err := d.waitStatus(ctx, cafe, func(string) bool { return true }); err != nil {
		return fmt.Errorf("the proxy on cafe did not come up: %w", err)
	}
	self, err := d.statusOf(ctx, cafe)
	if err != nil {
		return err
	}
	d.n.say("cafe's proxy is up (--anonymous-rotate %v); its own address is %v, its key %s…", anonRotate, self.Self.Addr4, d.keys["cafe"][:14])
	for i := 1; i <= 2; i++ {
		if err := d.anonymousFetch(ctx, cafe, i); err != nil {
			return err
		}
	}
	return d.sayAnonymousOnHome(ctx, cafe)
}

// anonymousFetch fetches home's page from cafe through session i, after
// waiting (for i > 1) until the last one is due for rotation and quiet.
func (d *labDemo) anonymousFetch(ctx context.Context, cafe *netlab.Host, i int) error {
	if i > 1 {
		start := time.Now()
		err := netlab.Poll(ctx, 100*time.Millisecond, func() error {
			p, err := d.peerOf(ctx, cafe, "home")
			if err != nil {
				return err
			}
			if p.SessionAge <= anonRotate || time.Since(p.LastUse) < 2500*time.Millisecond {
				return fmt.Errorf("cafe's session with home: age %v, last use %v ago", p.SessionAge, time.Since(p.LastUse))
			}
			return nil
		})
		if err != nil {
			return err
		}
		d.n.say("waited %v: the session is older than %v and quiet for 2 s, so the next use starts a new one",
			time.Since(start).Round(time.Millisecond), anonRotate)
	}
	out, err := cafe.Run(ctx, "curl", "-sS", "-m", "10", "http://home.i3/")
	if err != nil {
		return fmt.Errorf("curl http://home.i3/ from cafe: %w", err)
	}
	p, err := d.peerOf(ctx, cafe, "home")
	if err != nil {
		return err
	}
	d.n.say("$ curl http://home.i3/   (on cafe, session %d)", i)
	d.n.say("  %s", strings.TrimSpace(string(out)))
	d.n.say("  cafe's status: ephemeral key %s…, seen as %v; relay %v, picked at random avoiding %v (the first hop then, and the last session's relay)",
		truncate(p.AnonKey, 14), p.AnonAddr4, p.Relay, p.RelayAvoided)
	return nil
}

// sayAnonymousOnHome shows home's view: the anonymous peers in its status,
// none with cafe's own key or address.
func (d *labDemo) sayAnonymousOnHome(ctx context.Context, cafe *netlab.Host) error {
	st, err := d.statusOf(ctx, d.home)
	if err != nil {
		return err
	}
	own, err := d.statusOf(ctx, cafe)
	if err != nil {
		return err
	}
	n := 0
	for _, p := range st.Peers {
		if p.Key == d.keys["cafe"] || p.Addr4 == own.Self.Addr4 {
			return fmt.Errorf("home's status names cafe's own key or address: %+v", p)
		}
		if p.Anonymous {
			n++
			d.n.say("home's status: anonymous peer %s…, address %v: cafe's key and address appear nowhere", truncate(p.Key, 14), p.Addr4)
		}
	}
	if n < 2 {
		return fmt.Errorf("home's status shows %d anonymous peers, want one per session (2)", n)
	}
	return nil
}

// statusOf reads "i3net status --json" on h.
func (d *labDemo) statusOf(ctx context.Context, h *netlab.Host) (proxy.Status, error) {
	var st proxy.Status
	out, err := h.Run(ctx, d.self, "status", "--json", "--state-dir", d.stateDir(h.Name()))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("i3net status --json on %s: %w", h.Name(), err)
	}
	return st, nil
}

// peerOf returns the peer named name in h's status.
func (d *labDemo) peerOf(ctx context.Context, h *netlab.Host, name string) (proxy.PeerStatus, error) {
	st, err := d.statusOf(ctx, h)
	if err != nil {
		return proxy.PeerStatus{}, err
	}
	for _, p := range st.Peers {
		if p.Name == name {
			return p, nil
		}
	}
	return proxy.PeerStatus{}, fmt.Errorf("%s's status has no peer %s yet", h.Name(), name)
}

// cafeRun runs an i3net command with h's state directory.
func cafeRun(ctx context.Context, d *labDemo, h *netlab.Host, args ...string) ([]byte, error) {
	return h.Run(ctx, d.self, append(args, "--state-dir", d.stateDir(h.Name()))...)
}

// truncate is s cut to n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
