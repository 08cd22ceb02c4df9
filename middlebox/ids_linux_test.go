package middlebox

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/middlebox/pass"
)

// In a network namespace of its own, the middlebox makes its IDS tun
// device, up, without an address, closed to the kernel's routing; a packet
// socket on it (what Suricata's af-packet mode opens) reads the plaintext
// frames' IP packets, addresses as the hosts wrote them.
func TestIDSDevice(t *testing.T) {
	lab := netlabtest.New(t)
	h := lab.Host("mb")
	a := newIdent(t)
	cfg := DefaultConfig()
	cfg.Servers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}
	cfg.Hosts = []HostConfig{{Name: "a", Key: a.Public()}}
	cfg.IDSTun = "i3ids0"
	m, err := newMiddlebox(cfg, Options{Identity: newIdent(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var sock int
	err = h.Do(func() error {
		if err := m.openIDS(); err != nil {
			return err
		}
		if err := checkIsolated("i3ids0"); err != nil {
			return err
		}
		var err error
		sock, err = packetSocket("i3ids0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.closeIDS()
	defer unix.Close(sock)
	frame, pkt := plaintextFrame(t, addrA, addrB, 1)
	trig := pass.HostTrigger(m.self, a.Public(), 0)
	m.inspect(m.hostOf(trig), frame)
	m.writeIDS()
	if m.stats.toIDS.Load() != 1 || m.stats.idsWriteErrors.Load() != 0 {
		t.Fatalf("to_ids %d, errors %d", m.stats.toIDS.Load(), m.stats.idsWriteErrors.Load())
	}
	buf := make([]byte, 65536)
	for range 16 { // the kernel may show the IDS a packet of its own first
		n, _, err := unix.Recvfrom(sock, buf, 0)
		if err != nil {
			t.Fatalf("packet socket: %v", err)
		}
		if bytes.Equal(buf[:n], pkt) {
			return
		}
		t.Logf("skipped %d bytes: %x", n, buf[:min(n, 40)])
	}
	t.Fatal("the IDS never read the packet")
}

// checkIsolated checks the device's sysctls and that it has no address.
func checkIsolated(name string) error {
	for path, want := range map[string]string{
		"/proc/sys/net/ipv4/conf/" + name + "/forwarding":   "0",
		"/proc/sys/net/ipv4/conf/" + name + "/rp_filter":    "1",
		"/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6": "1",
	} {
		b, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(b)) != want {
			return fmt.Errorf("%s = %q (%v), want %s", path, b, err, want)
		}
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return err
	}
	addrs, err := ifi.Addrs()
	if err != nil || len(addrs) != 0 || ifi.Flags&net.FlagUp == 0 {
		return fmt.Errorf("%s: flags %v, addresses %v (%v): want up, none", name, ifi.Flags, addrs, err)
	}
	return nil
}

// packetSocket opens a packet socket bound to device name, as an IDS does.
func packetSocket(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return -1, err
	}
	proto := int(htons(unix.ETH_P_ALL))
	s, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, proto)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(s, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(s)
		return -1, err
	}
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	if err := unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(s)
		return -1, err
	}
	return s, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
