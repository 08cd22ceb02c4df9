package bench

import (
	"bufio"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// wgEnd is one end of the wireguard-go tunnel BenchmarkPerf compares with.
type wgEnd struct {
	host *netlab.Host
	dev  string // the interface (and UAPI socket) name
	addr string // its address in 10.77.0.0/24
	key  *ecdh.PrivateKey
}

func newWGEnd(b *testing.B, h *netlab.Host, dev, addr string) wgEnd {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return wgEnd{host: h, dev: dev, addr: addr, key: k}
}

// wgPort is the UDP port both ends listen on.
const wgPort = 51820

// start runs wireguard-go in the foreground in e's host, configures it to
// reach peer over the lab's network and gives the interface its address.
func (e wgEnd) start(b *testing.B, pl *pathsLab, bin string, peer wgEnd) *netlab.Proc {
	p := mustStartProc(b, e.host, bin, "-f", e.dev)
	sock := filepath.Join("/var/run/wireguard", e.dev+".sock")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("wireguard-go made no UAPI socket %s within 10 s", sock)
		}
		time.Sleep(20 * time.Millisecond) // polling for a file: bounded by the deadline
	}
	conf := fmt.Sprintf("set=1\nprivate_key=%s\nlisten_port=%d\npublic_key=%s\nendpoint=%s:%d\nallowed_ip=%s/32\n\n",
		hex.EncodeToString(e.key.Bytes()), wgPort, hex.EncodeToString(peer.key.PublicKey().Bytes()),
		peer.host.Addr4(), wgPort, peer.addr)
	if err := wgConfigure(sock, conf); err != nil {
		b.Fatalf("configure %s: %v", e.dev, err)
	}
	for _, args := range [][]string{{"addr", "add", e.addr + "/24", "dev", e.dev}, {"link", "set", e.dev, "mtu", "1420", "up"}} {
		if out, err := e.host.Run(pl.ctx, "ip", args...); err != nil {
			b.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	return p
}

// wgConfigure writes conf to wireguard-go's UAPI socket and checks the answer.
func wgConfigure(sock, conf string) error {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(conf)); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "errno=0" {
		return fmt.Errorf("wireguard-go answered %q", strings.TrimSpace(line))
	}
	return nil
}
