package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// TestSuricataLive checks the Suricata harness alone, without i3net: a tun
// in a namespace, Suricata capturing on it, and the test writing into it the
// IP packets of an HTTP GET and of an FTP upload of eggdrop, as the
// middlebox writes what it forwards. Suricata must log the HTTP request with
// its addresses and raise both rules' alerts.
func TestSuricataLive(t *testing.T) {
	needProgram(t, "suricata")
	t.Parallel()
	lab := netlabtest.New(t)
	ids := lab.Host("ids")
	tun := openTun(t, ids, "i3ids0")
	s := startSuricata(t, ids, "i3ids0", idsRules)

	client := netip.MustParseAddr("100.64.1.2")
	server := netip.MustParseAddr("100.64.7.9")
	http := tcpExchange{src: client, dst: server, sport: 40001, dport: 80}
	http.write(t, tun,
		"GET /ids-probe HTTP/1.1\r\nHost: home.i3\r\nUser-Agent: e2e\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
	ftp := tcpExchange{src: client, dst: server, sport: 40002, dport: 21}
	ftp.write(t, tun, "", "220 e2e\r\n", "USER anonymous\r\n", "230 ok\r\n", "STOR eggdrop\r\n", "150 ok\r\n")

	e := s.waitEvent(t, 20*time.Second, "http event for /ids-probe", func(e eveEvent) bool {
		return e.EventType == "http" && e.HTTP.URL == "/ids-probe"
	})
	if e.SrcIP != client.String() || e.DestIP != server.String() || e.DestPort != 80 || e.HTTP.Method != "GET" || e.HTTP.Status != 200 {
		t.Errorf("http event %v: want %v -> %v:80", e, client, server)
	}
	for _, sid := range []int{3100001, 3100002} {
		s.waitEvent(t, 20*time.Second, fmt.Sprintf("alert %d", sid), func(e eveEvent) bool {
			return e.EventType == "alert" && e.Alert.SignatureID == sid
		})
	}
	t.Logf("suricata's eve.json:\n%s", s.describe())
}

// openTun creates the tun device name in h (no packet information header),
// brings it up and returns its file, closed with the test.
func openTun(t *testing.T, h *netlab.Host, name string) *os.File {
	t.Helper()
	var f *os.File
	err := h.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		var req [unix.IFNAMSIZ + 64]byte
		copy(req[:], name)
		*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF %s: %w", name, errno)
		}
		f = os.NewFile(uintptr(fd), "/dev/net/tun")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	mustRun(t, ctx, h, "ip", "link", "set", name, "up")
	return f
}

// tcpExchange writes a whole TCP connection's packets, both ways, into a
// tun: handshake, the payloads in turn (client first; an empty string is a
// turn with nothing to say), each acknowledged, then FIN both ways.
type tcpExchange struct {
	src, dst     netip.Addr
	sport, dport uint16
}

func (x tcpExchange) write(t *testing.T, tun *os.File, turns ...string) {
	t.Helper()
	const syn, fin, psh, ack = 0x02, 0x01, 0x08, 0x10
	cseq, sseq := uint32(1000), uint32(5000)
	c2s := func(flags byte, payload string) []byte {
		return ipv4TCP(x.src, x.dst, x.sport, x.dport, cseq, sseq, flags, []byte(payload))
	}
	s2c := func(flags byte, payload string) []byte {
		return ipv4TCP(x.dst, x.src, x.dport, x.sport, sseq, cseq, flags, []byte(payload))
	}
	var pkts [][]byte
	pkts = append(pkts, ipv4TCP(x.src, x.dst, x.sport, x.dport, cseq-1, 0, syn, nil))
	pkts = append(pkts, ipv4TCP(x.dst, x.src, x.dport, x.sport, sseq-1, cseq, syn|ack, nil))
	pkts = append(pkts, c2s(ack, ""))
	for i, p := range turns {
		if p == "" {
			continue
		}
		if i%2 == 0 {
			pkts = append(pkts, c2s(psh|ack, p))
			cseq += uint32(len(p))
			pkts = append(pkts, s2c(ack, ""))
		} else {
			pkts = append(pkts, s2c(psh|ack, p))
			sseq += uint32(len(p))
			pkts = append(pkts, c2s(ack, ""))
		}
	}
	pkts = append(pkts, c2s(fin|ack, ""))
	cseq++
	pkts = append(pkts, s2c(fin|ack, ""))
	sseq++
	pkts = append(pkts, c2s(ack, ""))
	for _, p := range pkts {
		if _, err := tun.Write(p); err != nil {
			t.Fatalf("write into the tun: %v", err)
		}
	}
}

// ipv4TCP builds an IPv4 packet holding a TCP segment, with checksums.
func ipv4TCP(src, dst netip.Addr, sport, dport uint16, seq, ackn uint32, flags byte, payload []byte) []byte {
	tcp := make([]byte, 20+len(payload))
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ackn)
	tcp[12] = 5 << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	copy(tcp[20:], payload)
	s4, d4 := src.As4(), dst.As4()
	pseudo := append(append(append([]byte{}, s4[:]...), d4[:]...), 0, 6, byte(len(tcp)>>8), byte(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], inetChecksum(append(pseudo, tcp...)))

	ip := make([]byte, 20, 20+len(tcp))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
	ip[6] = 0x40 // don't fragment
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], inetChecksum(ip))
	return append(ip, tcp...)
}

// inetChecksum is the Internet checksum (RFC 1071) of b.
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
