package netlab

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Link changes take effect asynchronously in the kernel: a veth's carrier,
// and with it its bridge port's forwarding state, follows a moment after
// "ip link set up" returns (link watch), and an IPv6 address joins its
// solicited-node group only when its (skipped) duplicate address detection
// completes (which, with nodad, sets no "tentative" flag meanwhile). A packet sent in that moment is lost, and ARP and neighbour
// discovery retry only after a second, so every change of a link waits here
// until the link carries traffic.

const (
	// readyTimeout bounds the wait for a link to come up.
	readyTimeout = 5 * time.Second
	// readyEvery is the interval between two looks at a link.
	readyEvery = 10 * time.Millisecond
)

// waitReady waits until h's Uplink is up with every address usable and, if
// h is attached to a net, its bridge port forwards and the bridge is up.
func (h *Host) waitReady() error {
	l := h.lab
	l.mu.Lock()
	n, port, a6 := h.net, h.port, h.addr6
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return Poll(ctx, readyEvery, func() error {
		if err := linkReady(h.ns, Uplink); err != nil {
			return err
		}
		if err := solicitedJoined(h.ns, Uplink, a6); err != nil {
			return err
		}
		if n == nil {
			return nil
		}
		if err := portForwarding(n.ns, port); err != nil {
			return err
		}
		if err := linkReady(n.ns, n.bridge); err != nil {
			return err
		}
		return solicitedJoined(n.ns, n.bridge, n.gw6)
	})
}

// solicitedJoined returns nil when dev in namespace ns has joined the
// solicited-node multicast group of IPv6 address a (or a is not IPv6): only
// then does it answer neighbour solicitations for a. The kernel joins it
// asynchronously after the address is added, even with nodad, and an address
// shows no "tentative" flag meanwhile.
func solicitedJoined(ns, dev string, a netip.Addr) error {
	if !a.Is6() {
		return nil
	}
	var table []byte
	err := doIn(ns, func() error {
		var err error
		table, err = os.ReadFile("/proc/thread-self/net/igmp6")
		return err
	})
	if err != nil {
		return err
	}
	if !hasGroup(table, dev, solicitedNode(a)) {
		return fmt.Errorf("%s: %s has not joined the solicited-node group of %v yet", ns, dev, a)
	}
	return nil
}

// solicitedNode returns the solicited-node multicast address of a
// (ff02::1:ffXX:XXXX with a's last 24 bits, RFC 4291 §2.7.1).
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	g := [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]}
	return netip.AddrFrom16(g)
}

// hasGroup reports whether a /proc/net/igmp6 table lists dev as a member of
// group. Its lines read "index device group(32 hex digits) users flags timer".
func hasGroup(table []byte, dev string, group netip.Addr) bool {
	g := group.As16()
	want := hex.EncodeToString(g[:])
	for line := range strings.Lines(string(table)) {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == dev && f[2] == want {
			return true
		}
	}
	return false
}

// linkReady returns nil when dev in namespace ns is operationally up and
// none of its addresses is tentative.
func linkReady(ns, dev string) error {
	out, err := toolOutput("", "ip", "-n", ns, "-j", "addr", "show", "dev", dev)
	if err != nil {
		return err
	}
	var links []struct {
		Operstate string `json:"operstate"`
		AddrInfo  []struct {
			Local     string `json:"local"`
			Tentative bool   `json:"tentative"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return fmt.Errorf("ip -j addr show dev %s: %w", dev, err)
	}
	if len(links) != 1 {
		return fmt.Errorf("%s: no link %s", ns, dev)
	}
	if s := links[0].Operstate; s != "UP" {
		return fmt.Errorf("%s: %s is %s", ns, dev, s)
	}
	for _, a := range links[0].AddrInfo {
		if a.Tentative {
			return fmt.Errorf("%s: %s: address %s is tentative", ns, dev, a.Local)
		}
	}
	return nil
}

// portForwarding returns nil when bridge port port in namespace ns is in the
// forwarding state.
func portForwarding(ns, port string) error {
	out, err := toolOutput("", "bridge", "-n", ns, "-j", "link", "show", "dev", port)
	if err != nil {
		return err
	}
	var ports []struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(out, &ports); err != nil {
		return fmt.Errorf("bridge -j link show dev %s: %w", port, err)
	}
	if len(ports) != 1 || ports[0].State != "forwarding" {
		return fmt.Errorf("%s: bridge port %s is not forwarding (%s)", ns, port, out)
	}
	return nil
}
