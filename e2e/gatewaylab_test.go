package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/proxy/vaddr"
)

// The intranets of the gateway's tests (issue 10): a LAN 10.1.0.0/24 behind
// a router namespace that runs "i3net gateway" (a NATNone NAT: the gateway
// process does its own NAT), with
//
//	server 10.1.0.10  nginx (port 80), and on demand sshd and vsftpd
//	dns    10.1.0.53  dnsmasq, the intranet's resolver (the gateway's)
//
// The hosts' default route points at the router, but 100.64.0.0/10 and the
// IPv6 pool are unreachable from them: whatever reaches them from a laptop
// must come NATed to a gateway's LAN address.

var (
	intranetLAN  = netip.MustParsePrefix("10.1.0.0/24")
	serverAddr   = netip.MustParseAddr("10.1.0.10")
	intraDNSAddr = netip.MustParseAddr("10.1.0.53")
	// outsideAddr is what dnsmasq answers for outside.<domain>: an address
	// outside every gateway's serve_cidrs.
	outsideAddr = netip.MustParseAddr("192.0.2.7")
)

// bigFileSize is the size of the file a large transfer fetches: far more
// than any window, in full-sized segments, so an MTU black hole shows.
const bigFileSize = 20 << 20

// intranet is one LAN behind a router host, with its servers.
type intranet struct {
	domain  string // e.g. "corp.example"
	gw      *netlabtest.NAT
	server  *netlab.Host
	dns     *netlab.Host
	web     *nginx
	content []byte // nginx's index page, distinct per intranet
	dnsLog  *netlab.Proc
}

// newIntranet builds an intranet whose router is host gwName, server and
// DNS hosts prefix+"srv" and prefix+"dns", serving names under domain. With
// big, nginx also serves big.bin, bigFileSize random bytes.
func newIntranet(t *testing.T, lab *netlabtest.Lab, gwName, prefix, domain string, big bool) *intranet {
	t.Helper()
	needProgram(t, "/usr/sbin/nginx", "/usr/sbin/dnsmasq")
	in := &intranet{domain: domain}
	in.gw = lab.NATHost(gwName, intranetLAN, netlab.NATNone)
	in.server = in.gw.InsideAt(prefix+"srv", serverAddr)
	in.dns = in.gw.InsideAt(prefix+"dns", intraDNSAddr)
	for _, h := range []*netlab.Host{in.server, in.dns} {
		for _, p := range []netip.Prefix{vaddr.DefaultPool4, vaddr.DefaultPool6} {
			mustRun(t, context.Background(), h, "ip", "route", "add", "unreachable", p.String())
		}
	}
	in.content = fmt.Appendf(nil, "the %s intranet's wiki, %s\n", domain, rand.Text())
	in.web = startNginx(t, in.server, in.content, big)
	in.dnsLog = startDnsmasq(t, in.dns, domain)
	return in
}

// name returns host + "." + the intranet's domain.
func (in *intranet) name(host string) string { return host + "." + in.domain }

// dnsmasqRecords returns dnsmasq's flags for domain: wiki, ftp, ssh and
// secret under it at the server, outside at outsideAddr, also.elsewhere.example
// at the server (a name no gateway serves), and NXDOMAIN for every other name
// under both domains.
func dnsmasqRecords(domain string) []string {
	var args []string
	for _, h := range []string{"wiki", "ftp", "ssh", "secret"} {
		args = append(args, fmt.Sprintf("--host-record=%s.%s,%s", h, domain, serverAddr))
	}
	return append(args,
		fmt.Sprintf("--address=/outside.%s/%s", domain, outsideAddr),
		fmt.Sprintf("--host-record=also.elsewhere.example,%s", serverAddr),
		"--local=/"+domain+"/", "--local=/elsewhere.example/")
}

// startDnsmasq runs dnsmasq in h in the foreground, authoritative for its
// records only (no upstream, no /etc/hosts), logging every query.
func startDnsmasq(t *testing.T, h *netlab.Host, domain string) *netlab.Proc {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
		"--user=root", "--pid-file=" + filepath.Join(dir, "dnsmasq.pid"),
		"--listen-address=" + h.Addr4().String(), "--bind-interfaces",
		"--log-queries", "--log-facility=-", "--cache-size=0"}
	p := startDaemon(t, h, "/usr/sbin/dnsmasq", append(args, dnsmasqRecords(domain)...)...)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := netlab.WaitUDP(ctx, h, 53); err != nil {
		t.Fatalf("dnsmasq in %s: %v\n%s", h.Name(), err, p.Output())
	}
	return p
}

// nginx is an nginx serving a directory in one host.
type nginx struct {
	root      string
	accessLog string
	bigSum    string // hex sha256 of big.bin, empty without it
}

// startNginx runs nginx in h on port 80, in the foreground, one process,
// serving index.html (content) and, with big, big.bin.
func startNginx(t *testing.T, h *netlab.Host, content []byte, big bool) *nginx {
	t.Helper()
	dir := t.TempDir()
	n := &nginx{root: filepath.Join(dir, "www"), accessLog: filepath.Join(dir, "access.log")}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(n.root, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(n.root, "index.html"), content, 0o644)
	if big {
		data := make([]byte, bigFileSize)
		rand.Read(data)
		sum := sha256.Sum256(data)
		n.bigSum = hex.EncodeToString(sum[:])
		writeFile(t, filepath.Join(n.root, "big.bin"), data, 0o644)
	}
	conf := fmt.Sprintf(`# e2e: nginx for one test
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr info;
events { worker_connections 256; }
http {
	access_log %[2]s;
	client_body_temp_path %[1]s/tmp/body;
	proxy_temp_path %[1]s/tmp/proxy;
	fastcgi_temp_path %[1]s/tmp/fastcgi;
	default_type application/octet-stream;
	server {
		listen 80;
		root %[3]s;
	}
}
`, dir, n.accessLog, n.root)
	confPath := filepath.Join(dir, "nginx.conf")
	writeFile(t, confPath, []byte(conf), 0o644)
	startDaemon(t, h, "/usr/sbin/nginx", "-e", "stderr", "-p", dir, "-c", confPath)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := netlab.WaitListen(ctx, h, "tcp", 80); err != nil {
		t.Fatal(err)
	}
	return n
}

// clients returns the client address of each request in nginx's access log,
// in order.
func (n *nginx) clients() []string { return firstFields(n.accessLog) }

// firstFields returns the first field of each line of the file at path (an
// access log's client addresses), in order.
func firstFields(path string) []string {
	b, _ := os.ReadFile(path)
	var out []string
	for l := range strings.Lines(string(b)) {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// nftCounter installs, in h, a counter of the IPv4 packets arriving on its
// uplink that match match (nft syntax, e.g. "tcp dport 80"), and returns a
// function that reads it.
func nftCounter(t *testing.T, h *netlab.Host, match string) func() int {
	t.Helper()
	rules := fmt.Sprintf(`table inet e2e_seen {
	counter seen {}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname %q meta nfproto ipv4 %s counter name seen
	}
}
`, netlab.Uplink, match)
	if err := h.Nft(rules); err != nil {
		t.Fatal(err)
	}
	return func() int {
		out := mustRun(t, context.Background(), h, "nft", "list", "counter", "inet", "e2e_seen", "seen")
		m := nftPackets.FindSubmatch(out)
		if m == nil {
			t.Fatalf("nft list counter: no packet count in %q", out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
}

var nftPackets = regexp.MustCompile(`packets (\d+)`)

// digIn runs dig for name (type A) in h with one try and returns its output
// and the status and query time it reports.
func digIn(t *testing.T, h *netlab.Host, name string, extra ...string) (out, status string, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"+tries=1", "+time=5"}, extra...)
	b, err := run(t, ctx, h, "dig", append(args, name, "A")...)
	out = string(b)
	if status = digStatus(out); status == "" && err != nil {
		status = "ERROR: " + err.Error()
	}
	took, _ = digQueryTime(out)
	return out, status, took
}

// digA matches an A record of dig's answer section.
var digA = regexp.MustCompile(`(?m)IN\s+A\s+([0-9.]+)\s*$`)

// digAddrs returns the A records in dig's output.
func digAddrs(out string) []string {
	var a []string
	for _, m := range digA.FindAllStringSubmatch(out, -1) {
		a = append(a, m[1])
	}
	return a
}

// curlGet fetches url in h with curl and returns the body.
func curlGet(t *testing.T, ctx context.Context, h *netlab.Host, url string, extra ...string) ([]byte, error) {
	t.Helper()
	return run(t, ctx, h, "curl", append([]string{"-sS", "--fail", "-m", "30"}, append(extra, url)...)...)
}

// fileSHA256 returns the hex sha256 of the file at path.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
