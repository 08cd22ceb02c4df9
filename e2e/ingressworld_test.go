package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// The ingress's world (issue 12): legacy hosts that run nothing of ours
// resolve names of the zone i3.example.net through a real recursive
// resolver (unbound) that follows example.net's delegation to the ingress,
// and reach overlay hosts behind NATs through the ingress's waypoints:
//
//	legacy1, legacy2, legacy3 ──┐                   ┌── nat ── home  (nginx 80 PROXY/443/8080, sshd)
//	resolver (unbound, recursive)┤ "internet" bridge├── nat2 ── home2 (nginx 80/443/8080)
//	parent (unbound, example.net)┤                  │
//	srv1 (i3net server) ─────────┘                  └── ing (i3net ingress: DNS on its address,
//	                                                     waypoints 198.19.255.10 and .11)

const (
	ingZone    = "i3.example.net"
	ingName    = "ing" // the ingress's name in the overlay hosts' books
	home2LAN   = "192.168.2.0/24"
	ingBurst   = 100 // client_burst: the rate-limit test sends more
	ingRateStr = "50.0"
)

// ingWaypoints are the ingress's waypoints: addresses of its host on the
// internet's prefix, far above those netlab hands out.
var ingWaypoints = []netip.Addr{netip.MustParseAddr("198.19.255.10"), netip.MustParseAddr("198.19.255.11")}

// ingWorld is the ingress's world, up: every daemon started, home and home2
// publishing, the resolver answering their names.
type ingWorld struct {
	*world
	ing                       *node // runs "i3net ingress"
	home2                     *node
	parent, resolver          *netlab.Host
	resolverU                 *netlab.Unbound
	legacy1, legacy2, legacy3 *netlab.Host
	caPath                    string // the test CA that signed home's and home2's certificates
	web, web2                 *ingNginx
}

// fqdn returns NAME.i3.example.net.
func ingFQDN(name string) string { return name + "." + ingZone }

// newIngressWorld builds and starts the ingress's world. It skips t unless
// root and unless unbound, nginx and curl are installed.
func newIngressWorld(t *testing.T) *ingWorld {
	t.Helper()
	needProgram(t, "/usr/sbin/unbound", "/usr/sbin/nginx", "curl", "dig")
	lab := netlabtest.New(t)
	start := time.Now()
	w := &ingWorld{world: &world{t: t, lab: lab}}
	w.srv = lab.Host("srv1")
	ingHost := lab.Host("ing")
	w.parent, w.resolver = lab.Host("parent"), lab.Host("resolver")
	w.legacy1, w.legacy2, w.legacy3 = lab.Host("legacy1"), lab.Host("legacy2"), lab.Host("legacy3")
	w.nat = lab.NATHost("nat", netip.MustParsePrefix(homeLAN), netlab.NATCone)
	nat2 := lab.NATHost("nat2", netip.MustParsePrefix(home2LAN), netlab.NATCone)
	w.home = &node{Host: w.nat.Inside("home"), w: w.world}
	w.home2 = &node{Host: nat2.Inside("home2"), w: w.world}
	w.ing = &node{Host: ingHost, w: w.world}
	for _, wp := range ingWaypoints {
		mustRun(t, context.Background(), ingHost, "ip", "addr", "add", netip.PrefixFrom(wp, netlab.DefaultInternet4.Bits()).String(), "dev", netlab.Uplink)
	}
	w.startResolvers()
	resolv := fmt.Sprintf("# e2e: the recursive resolver\nnameserver %s\noptions timeout:2 attempts:2\n", w.resolver.Addr4())
	for _, h := range []*netlab.Host{w.legacy1, w.legacy2, w.legacy3, w.home.Host, w.home2.Host} {
		if err := h.SetResolvConf(resolv); err != nil {
			t.Fatal(err)
		}
	}
	w.home.resolvConf, w.home2.resolvConf = resolv, resolv
	t.Cleanup(w.checkDaemons)
	w.startServer()
	w.makeCerts()
	w.web = startIngressNginx(t, w.home.Host, "home", w.caPath, true)
	w.web2 = startIngressNginx(t, w.home2.Host, "home2", w.caPath, false)

	for _, n := range []*node{w.ing, w.home, w.home2} {
		n.dir = filepath.Join(t.TempDir(), n.Name())
		n.makeIdentity()
	}
	w.ing.bookAdd("home", w.home.key)
	w.ing.bookAdd("home2", w.home2.key)
	w.home.bookAdd(ingName, w.ing.key)
	w.home2.bookAdd(ingName, w.ing.key)
	w.startIngress()
	w.publish(w.home, "home", "22")
	w.publish(w.home, "home", "80", "--proxy-protocol")
	w.publish(w.home, "home", "443")
	w.publish(w.home2, "home2", "80")
	w.publish(w.home2, "home2", "443")
	w.publish(w.home2, "home2", "8080")
	for _, n := range []*node{w.home, w.home2} {
		n.startProxy(t)
		n.waitProxy(t)
	}
	w.waitPublished("home")
	w.waitPublished("home2")
	t.Logf("ingress world up in %v: ingress %v (waypoints %v), resolver %v, parent %v, legacy %v %v %v, home %v (virtual %v), home2 %v",
		time.Since(start).Round(time.Millisecond), ingHost.Addr4(), ingWaypoints, w.resolver.Addr4(), w.parent.Addr4(),
		w.legacy1.Addr4(), w.legacy2.Addr4(), w.legacy3.Addr4(), w.home.Addr4(), w.home.self.Addr4, w.home2.Addr4())
	return w
}

// startResolvers starts unbound in parent (authoritative for example.net,
// delegating i3.example.net to the ingress's address) and in resolver
// (recursive, example.net as a stub zone at parent).
func (w *ingWorld) startResolvers() {
	t := w.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	zone := netlab.ParentZone("example.net", w.parent.Addr4(),
		netlab.Delegation{Child: ingZone, NSName: "ns1." + ingZone, Addrs: []netip.Addr{w.ing.Addr4()}})
	pu, err := w.parent.StartUnbound(ctx, netlab.UnboundConfig{Dir: t.TempDir(), Auth: []netlab.UnboundAuthZone{{Name: "example.net", Text: zone}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pu.Stop() })
	w.resolverU, err = w.resolver.StartUnbound(ctx, netlab.UnboundConfig{Dir: t.TempDir(),
		Stubs: []netlab.UnboundStub{{Name: "example.net", Servers: []netip.Addr{w.parent.Addr4()}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the resolver's log:\n%s", w.resolverU.LogTail(8192))
		}
		w.resolverU.Stop()
	})
}

// ingressConf is the ingress's ingress.toml: %[1]s the overlay server,
// %[2]s its DNS address, %[3]s its waypoints.
const ingressConf = `# e2e: the ingress of i3.example.net
servers = [%[1]q]
zone = "i3.example.net"
dns_listen = ["%[2]s:53"]
waypoints = [%[3]s]
http_ports = [80]
tls_ports = [443]
heuristic_window = "1s"
binding_timeout = "10m"
client_rate = ` + ingRateStr + `
client_burst = %[4]d
dns_rate = 1000.0
dns_burst = 2000
dial_timeout = "10s"
sniff_timeout = "5s"
tun = "i3ing0"

[[nameserver]]
name = "ns1.i3.example.net"
addresses = ["%[2]s"]
`

// startIngress writes ingress.toml and starts "i3net ingress", waiting until
// it answers "i3net status" and listens for DNS.
func (w *ingWorld) startIngress() {
	t := w.t
	t.Helper()
	var wps []string
	for _, a := range ingWaypoints {
		wps = append(wps, fmt.Sprintf("%q", a.String()))
	}
	conf := filepath.Join(w.ing.dir, "ingress.toml")
	writeFile(t, conf, fmt.Appendf(nil, ingressConf, w.srvAddr, w.ing.Addr4(), strings.Join(wps, ", "), ingBurst), 0o600)
	p, err := w.ing.Start(i3netBin, "ingress", "--config", conf, "--state-dir", w.ing.dir, "--log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	w.ing.proxy = p
	w.daemons = append(w.daemons, p)
	waitAnswers(t, "the ingress", p, func(ctx context.Context) error {
		_, err := readStatus[map[string]any](ctx, w.world, w.ing.dir)
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := netlab.WaitUDP(ctx, w.ing.Host, 53); err != nil {
		t.Fatalf("the ingress does not listen for DNS: %v\n%s", err, tail(p.Output(), 2048))
	}
}

// publish runs "i3net publish add ing NAME PORT [flags]" for n.
func (w *ingWorld) publish(n *node, name, port string, flags ...string) {
	t := w.t
	t.Helper()
	args := append([]string{"publish", "add", ingName, name, port}, flags...)
	if _, err := w.i3net(context.Background(), append(args, "--state-dir", n.dir)...); err != nil {
		t.Fatal(err)
	}
}

// waitPublished waits, bounded, until the ingress answers NAME.i3.example.net
// with a waypoint (asked directly, from the resolver's host).
func (w *ingWorld) waitPublished(name string) {
	t := w.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var last string
	err := netlab.Poll(ctx, 100*time.Millisecond, func() error {
		rcode, addrs, err := dnsAsk(ctx, w.resolver, netip.AddrPortFrom(w.ing.Addr4(), 53), ingFQDN(name))
		last = fmt.Sprintf("%s %v %v", rcode, addrs, err)
		if err == nil && rcode == "NOERROR" && len(addrs) > 0 {
			return nil
		}
		return fmt.Errorf("the ingress answers %s", last)
	})
	if err != nil {
		t.Fatalf("%s was not published within %v: %v\ningress:\n%s", ingFQDN(name), startTimeout, err, tail(w.ing.proxy.Output(), 4096))
	}
}

// dnsAsk asks server, from h, for name's A records over UDP and returns the
// answer's rcode and addresses.
func dnsAsk(ctx context.Context, h *netlab.Host, server netip.AddrPort, name string) (string, []netip.Addr, error) {
	conn, err := h.Dial(ctx, "udp", server)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close()
	c := &mdns.Client{Timeout: 5 * time.Second}
	q := new(mdns.Msg).SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	r, _, err := c.ExchangeWithConnContext(ctx, q, &mdns.Conn{Conn: conn})
	if err != nil {
		return "", nil, err
	}
	var addrs []netip.Addr
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A); ok {
				addrs = append(addrs, ip.Unmap())
			}
		}
	}
	return mdns.RcodeToString[r.Rcode], addrs, nil
}

// isWaypoint reports whether a is one of the ingress's waypoints.
func isWaypoint(a netip.Addr) bool { return slices.Contains(ingWaypoints, a) }

// ingPage is the page nginx serves for name on its published ports, and
// ingPage8080 the page of its unpublished port 8080.
func ingPage(name string) string     { return "the page of " + name + "\n" }
func ingPage8080(name string) string { return "the unpublished page of " + name + "\n" }

// ingNginx is nginx in an overlay host: HTTP on 80 (with PROXY protocol
// when asked), HTTPS on 443 with a certificate for NAME.i3.example.net, and
// HTTP on 8080.
type ingNginx struct {
	accessLog string // port 80: "$proxy_protocol_addr $remote_addr $host $status"
}

// ingNginxConf: %[1]s the directory, %[2]s " proxy_protocol" or "".
const ingNginxConf = `# e2e: nginx of an overlay host behind the ingress
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr info;
events { worker_connections 1024; }
http {
	log_format real '$proxy_protocol_addr $remote_addr $host $status';
	client_body_temp_path %[1]s/tmp/body;
	proxy_temp_path %[1]s/tmp/proxy;
	fastcgi_temp_path %[1]s/tmp/fastcgi;
	default_type text/plain;
	server {
		listen 80%[2]s;
		access_log %[1]s/access80.log real;
		root %[1]s/www;
	}
	server {
		listen 443 ssl;
		ssl_certificate %[1]s/cert.pem;
		ssl_certificate_key %[1]s/key.pem;
		access_log %[1]s/access443.log;
		root %[1]s/www;
	}
	server {
		listen 8080;
		access_log %[1]s/access8080.log;
		root %[1]s/www8080;
	}
}
`

// startIngressNginx starts nginx in h serving name's pages, with a
// certificate for NAME.i3.example.net signed by the CA in caDir (the
// directory of caPath), and waits until it listens on 80, 443 and 8080.
func startIngressNginx(t *testing.T, h *netlab.Host, name, caPath string, proxyProtocol bool) *ingNginx {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"tmp", "www", "www8080"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "www", "index.html"), []byte(ingPage(name)), 0o644)
	writeFile(t, filepath.Join(dir, "www8080", "index.html"), []byte(ingPage8080(name)), 0o644)
	issueCert(t, filepath.Dir(caPath), dir, ingFQDN(name))
	pp := ""
	if proxyProtocol {
		pp = " proxy_protocol"
	}
	conf := filepath.Join(dir, "nginx.conf")
	writeFile(t, conf, fmt.Appendf(nil, ingNginxConf, dir, pp), 0o644)
	startDaemon(t, h, "/usr/sbin/nginx", "-e", "stderr", "-p", dir, "-c", conf)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for _, port := range []uint16{80, 443, 8080} {
		if err := netlab.WaitListen(ctx, h, "tcp", port); err != nil {
			t.Fatal(err)
		}
	}
	return &ingNginx{accessLog: filepath.Join(dir, "access80.log")}
}

// realClients returns the PROXY protocol client address of each request in
// the port-80 log, in order.
func (n *ingNginx) realClients() []string { return firstFields(n.accessLog) }

// makeCerts makes the test CA (ca.pem, ca-key.pem) in a directory of its
// own; caPath is its certificate, the one curl's --cacert trusts.
func (w *ingWorld) makeCerts() {
	t := w.t
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "i3net e2e test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", der)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "ca-key.pem"), "EC PRIVATE KEY", kb)
	w.caPath = filepath.Join(dir, "ca.pem")
}

// issueCert writes into dir cert.pem and key.pem: a server certificate for
// dnsName signed by the CA in caDir.
func issueCert(t *testing.T, caDir, dir, dnsName string) {
	t.Helper()
	caCert, caKey := readCA(t, caDir)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "cert.pem"), "CERTIFICATE", der)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "key.pem"), "EC PRIVATE KEY", kb)
}

// readCA reads the CA makeCerts wrote in dir.
func readCA(t *testing.T, dir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM block", name)
		}
		return blk.Bytes
	}
	cert, err := x509.ParseCertificate(read("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParseECPrivateKey(read("ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// writePEM writes one PEM block to path.
func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	writeFile(t, path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
