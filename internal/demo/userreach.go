package demo

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The userspace part's last chapters: laptop reaches home's web server by
// name through its front door, fails to reach a name nobody has, and shows
// what its proxy knows.

// reachHome fetches home's page from laptop through laptop's SOCKS5 proxy
// (the name resolved by the proxy), then through its HTTP proxy.
func (u *userDemo) reachHome(ctx context.Context) error {
	u.n.chapter("laptop reaches home by name through its SOCKS5 and HTTP proxy")
	if note := u.fetch.note(); note != "" {
		u.n.say("%s", note)
	}
	target := fmt.Sprintf("http://home.i3:%d/", u.port)
	for i, socks := range []bool{true, false} {
		start := time.Now()
		body, err := u.fetch.fetch(ctx, socks, u.front["laptop"], target)
		if err != nil {
			return fmt.Errorf("%s: %w", u.fetch.command(socks, u.front["laptop"], target), err)
		}
		why := "first contact: the name, private triggers, the handshake"
		if i > 0 {
			why = "the session is up"
		}
		u.n.say("$ %s   (%v, %s)", u.fetch.command(socks, u.front["laptop"], target), time.Since(start).Round(time.Millisecond), why)
		u.n.say("  %s", strings.TrimSpace(body))
	}
	return nil
}

// unknownName asks laptop's SOCKS5 proxy for a name that is not in its
// address book: the proxy answers "host unreachable" (0x04).
func (u *userDemo) unknownName(ctx context.Context) error {
	u.n.chapter("A name nobody has: the SOCKS5 error")
	target := "http://nowhere.i3/"
	cmd := u.fetch.command(true, u.front["laptop"], target)
	body, err := u.fetch.fetch(ctx, true, u.front["laptop"], target)
	if err == nil {
		return fmt.Errorf("%s answered %q: a name in no address book reached something", cmd, strings.TrimSpace(body))
	}
	u.n.say("$ %s   fails:", cmd)
	u.n.say("  %v", err)
	u.n.say("  laptop's proxy knows no nowhere.i3 and answers SOCKS5 reply 0x04, host unreachable")
	return nil
}

// proxyStatus shows "i3net status" of laptop.
func (u *userDemo) proxyStatus(ctx context.Context) error {
	u.n.chapter("What laptop's proxy knows (i3net status)")
	out, err := u.status(ctx, "laptop")
	if err != nil {
		return err
	}
	u.ids.sayLines(strings.Split(string(out), "\n"))
	return nil
}
