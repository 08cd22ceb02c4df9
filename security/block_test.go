package security

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/cmd/i3net/cli"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/server/servertest"
)

// Defence 7 (paper §4.1): a host cuts a peer off by dropping the private
// trigger it gave it. Home and laptop talk; home's user runs "i3net book
// block laptop". Within seconds home's proxy removes laptop's private trigger
// from the server, so the overlay drops laptop's packets (TRIGGER_NOT_PRESENT
// to laptop) before they reach home; laptop's proxy, told so, handshakes
// again, and home refuses the handshake (counted, peers_refused); laptop
// marks home unreachable and drops its packets. "i3net book unblock laptop"
// restores it: laptop's next handshake is accepted and its packets arrive.
func TestBlockCutsPeerOff(t *testing.T) {
	srv := servertest.Start(t, nil)
	via := []netip.AddrPort{srv.Addr()}
	laptop, home := newHost(t, "laptop"), newHost(t, "home")
	laptop.WriteBook(t, map[string]*identity.Identity{"home": home.Ident})
	home.WriteBook(t, map[string]*identity.Identity{"laptop": laptop.Ident})
	home.Start(t, via, nil)
	laptop.Start(t, via, func(c *proxy.Config) { c.HandshakeTimeout = time.Second })
	l4 := laptop.Addr()

	var seq uint32
	// send makes laptop's program send one packet to home and returns its
	// sequence number. It resolves home.i3 first, as the program's DNS
	// lookup would (TestFlowResumesAfterUnblock in proxy/ covers a flow
	// that does not).
	send := func() uint32 {
		v4, _, ok := laptop.PX.ResolveOverlay("home")
		if !ok {
			t.Fatal("home does not resolve at laptop")
		}
		seq++
		laptop.Tun.Send(udp(t, l4, v4, seq))
		return seq
	}
	// arrivedSince reports whether home's program got a packet numbered
	// first or later.
	arrivedSince := func(first uint32) bool {
		for _, b := range home.Tun.Packets() {
			if len(b) >= 32 && binary.BigEndian.Uint32(b[28:32]) >= first && bytes.HasSuffix(b, []byte("i3net security test packet")) {
				return true
			}
		}
		return false
	}
	// reaches sends a packet at every poll until one arrives.
	reaches := func(what string) {
		t.Helper()
		first := seq + 1
		testwait.For(t, what, func() bool {
			send()
			return arrivedSince(first)
		})
	}
	book := func(verb string) {
		t.Helper()
		var out, errOut strings.Builder
		oldOut, oldErr := cli.Stdout, cli.Stderr
		cli.Stdout, cli.Stderr = &out, &errOut
		code := cli.Run([]string{"book", verb, "--book", filepath.Join(home.Dir, "book.toml"), "laptop"})
		cli.Stdout, cli.Stderr = oldOut, oldErr
		if code != 0 {
			t.Fatalf("i3net book %s laptop: exit %d: %s", verb, code, errOut.String())
		}
		t.Logf("i3net book %s laptop: %s", verb, strings.TrimSpace(out.String()))
	}

	reaches("laptop's packets to reach home")
	before := srv.Stats()

	book("block")
	testwait.For(t, "home to remove laptop's private trigger", func() bool { return srv.Stats().Removals > before.Removals })
	if lines := home.Log.Lines("peer blocked by the address book"); len(lines) != 1 {
		t.Fatalf("home logged %d block lines:\n%s", len(lines), home.Log)
	}
	// Laptop's packets now end at the server; laptop is told, handshakes
	// again, and is refused.
	written := home.Tun.Written()
	testwait.For(t, "home to refuse laptop's new handshake", func() bool {
		send()
		return home.Counter("peers_refused") > 0
	})
	testwait.For(t, "laptop to give up", func() bool { return laptop.Counter("handshakes_failed") > 0 })
	settle(t, srv.Addr())
	st := srv.Stats()
	if got := home.Tun.Written() - written; got != 0 {
		t.Fatalf("%d packets of blocked laptop reached home's program", got)
	}
	if st.NotPresent == before.NotPresent || laptop.Counter("not_present") == 0 {
		t.Fatalf("the server answered no packet of laptop with TRIGGER_NOT_PRESENT (server %d, laptop %d)",
			st.NotPresent-before.NotPresent, laptop.Counter("not_present"))
	}
	if len(laptop.Log.Lines("private trigger is gone")) == 0 {
		t.Fatalf("laptop did not notice home's trigger was gone:\n%s", laptop.Log)
	}
	refused := home.Log.Lines("is blocked in the address book")
	t.Logf("blocked: the server answered %d of laptop's packets with TRIGGER_NOT_PRESENT; home refused %d handshake(s) "+
		"(peers_refused), e.g. %q; laptop: handshakes_failed %d",
		st.NotPresent-before.NotPresent, home.Counter("peers_refused"), firstOr(refused), laptop.Counter("handshakes_failed"))
	if st.Triggers > before.Triggers {
		t.Fatalf("triggers in the table grew from %d to %d while laptop was blocked", before.Triggers, st.Triggers)
	}

	book("unblock")
	reaches("laptop's packets to reach home again after unblock")
	t.Logf("unblocked: laptop's packets reach home again; server: %d triggers", srv.Stats().Triggers)
}

func firstOr(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[0]
}
