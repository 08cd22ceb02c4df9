// Command capture records real packets for the seed corpus of FuzzDecode and
// for TestRealPackets: it opens a tun device, routes the test pools through it,
// makes the Linux kernel send every kind of packet the view decodes (TCP SYNs,
// UDP with and without checksum, fragments, IPv4 options, IPv6 extension
// headers, ICMP echo, MLD) and writes what the kernel hands the tun to
// ../fuzz/FuzzDecode/real-*.
//
// It needs root and changes the network, so run it in a namespace of its own,
// from the repository root:
//
//	unshare -n go run ./proxy/packet/testdata/capture
//
// It lives under testdata so that nothing builds it by accident; the package
// itself knows nothing of tun devices.
package main

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"

	"github.com/i3net/i3net/proxy/packet"
)

const (
	tunName   = "i3cap0"
	local4    = "100.64.1.2/10"
	remote4   = "100.100.7.9"
	local6    = "fd7a:115c:a1e0::1/48"
	remote6   = "fd7a:115c:a1e0:ab12::9"
	hop6      = "fd7a:115c:a1e0:ab12::7"
	mtu       = 1280
	perLabel  = 4 // packets kept per step at most
	outDir    = "proxy/packet/testdata/fuzz/FuzzDecode"
	tunsetiff = 0x400454ca
)

// step is one kind of packet to make the kernel send, named by label.
type step struct {
	label string
	run   func() error
}

func main() {
	log.SetFlags(0)
	tun, err := openTUN(tunName)
	if err != nil {
		log.Fatal(err)
	}
	configureTUN()
	pkts := make(chan []byte, 256)
	go read(tun, pkts)

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, s := range steps() {
		if err := s.run(); err != nil {
			log.Printf("%s: %v (keeping what was sent)", s.label, err)
		}
		time.Sleep(200 * time.Millisecond)
		saveQueued(s.label, pkts)
	}
}

// configureTUN brings lo and the tun up and gives the tun the local
// addresses, so that the remote addresses route through it.
func configureTUN() {
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "set", tunName, "mtu", fmt.Sprint(mtu), "up"},
		{"addr", "add", local4, "dev", tunName},
		{"-6", "addr", "add", local6, "dev", tunName, "nodad"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			log.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
}

// steps lists what the kernel is made to send, in order; "linkup" waits for
// what the kernel sends by itself when the link comes up.
func steps() []step {
	return []step{
		{"linkup", func() error { time.Sleep(1500 * time.Millisecond); return nil }},
		{"tcp4-syn", func() error { return dial("tcp4", remote4+":80") }},
		{"tcp6-syn", func() error { return dial("tcp6", "["+remote6+"]:443") }},
		{"udp4", func() error { return sendUDP("udp4", remote4+":53", 5, nil) }},
		{"udp4-nocsum", func() error {
			return sendUDP("udp4", remote4+":53", 5, func(fd int) error {
				return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_NO_CHECK, 1)
			})
		}},
		{"udp4-frag", func() error {
			return sendUDP("udp4", remote4+":4000", 3000, func(fd int) error {
				return syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_MTU_DISCOVER, syscall.IP_PMTUDISC_DONT)
			})
		}},
		{"udp6", func() error { return sendUDP("udp6", "["+remote6+"]:53", 5, nil) }},
		{"udp6-frag", func() error { return sendUDP("udp6", "["+remote6+"]:4000", 3000, nil) }},
		{"udp6-dstopts", func() error {
			return sendUDP("udp6", "["+remote6+"]:53", 5, sticky(syscall.IPV6_DSTOPTS, []byte{0, 0, 1, 4, 0, 0, 0, 0}))
		}},
		{"udp6-hopopts", func() error {
			return sendUDP("udp6", "["+remote6+"]:53", 5, sticky(syscall.IPV6_HOPOPTS, []byte{0, 0, 1, 4, 0, 0, 0, 0}))
		}},
		{"udp6-srh", func() error {
			// Segment routing header (type 4) with a segment left: the packet
			// goes to hop6 first, and its pseudo-header holds remote6.
			srh := append([]byte{0, 4, 4, 1, 1, 0, 0, 0}, netip.MustParseAddr(remote6).AsSlice()...)
			srh = append(srh, netip.MustParseAddr(hop6).AsSlice()...)
			return sendUDP("udp6", "["+remote6+"]:53", 5, sticky(syscall.IPV6_RTHDR, srh))
		}},
		{"icmp4-echo", func() error { return ping("-4", "-c1", "-W1", remote4) }},
		{"icmp4-rr", func() error { return ping("-4", "-R", "-c1", "-W1", remote4) }},
		{"icmp4-frag", func() error { return ping("-4", "-c1", "-W1", "-M", "dont", "-s", "3000", remote4) }},
		{"icmp6-echo", func() error { return ping("-6", "-c1", "-W1", remote6) }},
		{"icmp6-frag", func() error { return ping("-6", "-c1", "-W1", "-s", "3000", remote6) }},
	}
}

// saveQueued writes the packets queued in pkts as seeds named for label, at
// most perLabel of them, and drops the rest; it returns once pkts is empty.
func saveQueued(label string, pkts <-chan []byte) {
	n := 0
	for {
		select {
		case b := <-pkts:
			if n == perLabel {
				continue
			}
			var p packet.Parsed
			if err := p.Decode(b); err != nil {
				log.Printf("%s: kernel packet does not decode: %v", label, err)
			}
			if label != "linkup" && p.Src.Addr().IsLinkLocalUnicast() {
				continue // router solicitations and the like, not from this step
			}
			n++
			name := filepath.Join(outDir, fmt.Sprintf("real-%s-%d", label, n))
			seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(name, []byte(seed), 0o644); err != nil {
				log.Fatal(err)
			}
			log.Printf("%s: %v", name, &p)
		default:
			return
		}
	}
}

func openTUN(name string) (*os.File, error) {
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var ifr [40]byte
	copy(ifr[:], name)
	*(*uint16)(unsafe.Pointer(&ifr[16])) = syscall.IFF_TUN | syscall.IFF_NO_PI
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunsetiff, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return nil, fmt.Errorf("TUNSETIFF: %w", e)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "tun"), nil
}

func read(tun *os.File, out chan<- []byte) {
	buf := make([]byte, 65536)
	for {
		n, err := tun.Read(buf)
		if err != nil {
			log.Fatalf("read tun: %v", err)
		}
		out <- append([]byte(nil), buf[:n]...)
	}
}

func dial(network, addr string) error {
	c, err := net.DialTimeout(network, addr, 300*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err
}

// sendUDP sends n bytes to addr from a socket first set up by opt.
func sendUDP(network, addr string, n int, opt func(fd int) error) error {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		if opt == nil {
			return nil
		}
		var err error
		if cerr := c.Control(func(fd uintptr) { err = opt(int(fd)) }); cerr != nil {
			return cerr
		}
		return err
	}}
	c, err := d.Dial(network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	b := make([]byte, n)
	for i := range b {
		b[i] = "query "[i%6]
	}
	_, err = c.Write(b)
	return err
}

// sticky returns an option setter for an IPv6 extension header the kernel
// adds to everything the socket sends.
func sticky(opt int, hdr []byte) func(fd int) error {
	return func(fd int) error {
		return syscall.SetsockoptString(fd, syscall.IPPROTO_IPV6, opt, string(hdr))
	}
}

func ping(args ...string) error {
	out, err := exec.Command("ping", args...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return nil // no answer is expected: nothing is behind the tun
	}
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}
