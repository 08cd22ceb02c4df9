package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// TestUserspace is issue 13's "Must show": laptop's proxy runs as nobody in
// userspace mode (no tun device), home's as root with one. As nobody on
// laptop: curl through the SOCKS5 and the HTTP proxy of the front door,
// ssh through nc's SOCKS5, git clone through http_proxy, all to home.i3,
// and a host on the internet reached directly through the front door. The
// other way round, from home: curl, git clone and ssh-keyscan to services on
// laptop's loopback that laptop exposes, a port it does not expose refused,
// and ping laptop.i3 answered by the userspace stack. ci runs a proxy as
// nobody without --userspace: it picks userspace mode by itself.
func TestUserspace(t *testing.T) {
	t.Parallel()
	needProgram(t, "curl", "git", "nc", "ssh", "ping", "/usr/bin/python3")
	w := newUserspaceWorld(t)
	checkModes(t, w)

	homeWeb := []byte(fmt.Sprintf("home's page, served over i3 %s\n", rand.Text()))
	web := startNginx(t, w.home.Host, homeWeb, false)
	makeBareRepo(t, web.root, homeWeb)
	t.Run("socks5-curl", func(t *testing.T) { t.Parallel(); testSOCKSCurl(t, w, homeWeb) })
	t.Run("http-proxy-curl", func(t *testing.T) { t.Parallel(); testHTTPProxyCurl(t, w, homeWeb) })
	t.Run("ssh-nc-socks5", func(t *testing.T) { t.Parallel(); testSSHThroughSOCKS(t, w) })
	t.Run("git-clone-http-proxy", func(t *testing.T) { t.Parallel(); testGitThroughProxy(t, w, homeWeb) })
	t.Run("direct", func(t *testing.T) { t.Parallel(); testFrontDirect(t, w) })
	t.Run("home-to-exposed", func(t *testing.T) { t.Parallel(); testHomeToExposed(t, w) })
	t.Run("home-ssh-to-exposed", func(t *testing.T) { t.Parallel(); testHomeSSHToExposed(t, w) })
	t.Run("ping4-laptop", func(t *testing.T) { t.Parallel(); testPingUserspace(t, w, "-4") })
	t.Run("ping6-laptop", func(t *testing.T) { t.Parallel(); testPingUserspace(t, w, "-6") })
	t.Run("chosen-by-itself", func(t *testing.T) { t.Parallel(); testChosenByItself(t, w, homeWeb) })
	t.Cleanup(func() {
		// Every request nginx on home served came from laptop's or ci's
		// virtual address: the userspace stack speaks with the host's own
		// overlay address, as the tun does.
		for _, c := range web.clients() {
			if c != w.laptop.self.Addr4.String() && c != w.laptop.self.Addr6.String() &&
				c != w.ci.self.Addr4.String() && c != w.ci.self.Addr6.String() {
				t.Errorf("nginx on home served a request from %s: want laptop's or ci's virtual address", c)
			}
		}
	})
}

// checkModes checks that laptop's proxy runs as nobody in userspace mode
// with no tun device in its namespace, and home's in tun mode.
func checkModes(t *testing.T, w *usWorld) {
	waitOutput(t, w.laptop.proxy, "userspace mode")
	st := w.laptop.mustStatus(t)
	if st.Self.Mode != "userspace" || !slices.Equal(st.Self.Exposed, []uint16{laptopWebPort, laptopSSHPort}) {
		t.Errorf("laptop's status: mode %q exposing %v, want userspace exposing [%d %d]", st.Self.Mode, st.Self.Exposed, laptopWebPort, laptopSSHPort)
	}
	if m := w.home.mustStatus(t).Self.Mode; m != "tun" {
		t.Errorf("home's status: mode %q, want tun", m)
	}
	links := string(mustRun(t, context.Background(), w.laptop.Host, "ip", "-d", "-o", "link", "show"))
	if strings.Contains(links, "i3net0") || strings.Contains(links, " tun ") {
		t.Errorf("laptop (userspace mode) has a tun device:\n%s", links)
	}
	homeLinks := string(mustRun(t, context.Background(), w.home.Host, "ip", "-d", "-o", "link", "show"))
	if !strings.Contains(homeLinks, "i3net0") {
		t.Errorf("home (tun mode) has no i3net0 device:\n%s", homeLinks)
	}
	// The proxy is nobody's process.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.laptop.proxy.PID()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), fmt.Sprintf("\nUid:\t%d\t%d\t%d\t%d\n", nobody, nobody, nobody, nobody)) ||
		!strings.Contains(string(b), "\nCapEff:\t0000000000000000\n") {
		t.Errorf("laptop's proxy is not nobody's, without capabilities:\n%s", b)
	}
	t.Logf("laptop's proxy (pid %d) runs as nobody in userspace mode; %s", w.laptop.proxy.PID(), firstLine(w.laptop.proxy.Output(), "userspace mode"))
}

// firstLine returns the first line of out holding s.
func firstLine(out []byte, s string) string {
	for l := range strings.Lines(string(out)) {
		if strings.Contains(l, s) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func userCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testSOCKSCurl: curl --socks5-hostname (the name resolved by the proxy).
func testSOCKSCurl(t *testing.T, w *usWorld, want []byte) {
	start := time.Now()
	got := w.user.mustRun(t, userCtx(t), w.laptop.Host, nil, "curl", "-sS", "--fail", "-m", "30",
		"--socks5-hostname", laptopFront, "http://home.i3/")
	if !bytes.Equal(got, want) {
		t.Fatalf("curl --socks5-hostname %s http://home.i3/: got %q, want %q", laptopFront, got, want)
	}
	t.Logf("curl through SOCKS5, as nobody: home's page in %v", time.Since(start).Round(time.Millisecond))
}

// testHTTPProxyCurl: curl -x http://FRONT (an absolute-form GET), twice on
// one connection (keep-alive).
func testHTTPProxyCurl(t *testing.T, w *usWorld, want []byte) {
	got := w.user.mustRun(t, userCtx(t), w.laptop.Host, nil, "curl", "-sS", "--fail", "-m", "30",
		"-x", "http://"+laptopFront, "http://home.i3/", "http://home.i3/index.html")
	if !bytes.Equal(got, append(slices.Clone(want), want...)) {
		t.Fatalf("curl -x http://%s http://home.i3/ (twice): got %q, want %q twice", laptopFront, got, want)
	}
}

// testSSHThroughSOCKS: ssh with ProxyCommand nc -X 5 to home.i3, the key
// nobody's; sshd sees laptop's virtual address.
func testSSHThroughSOCKS(t *testing.T, w *usWorld) {
	s := startSSHD(t, w.home.Host)
	key := filepath.Join(w.user.home, "ssh_client_key")
	b, err := os.ReadFile(s.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, key, b, 0o600)
	w.user.chownTree(t, key)
	us := *s
	us.clientKey = key
	proxyCmd := "ProxyCommand=nc -X 5 -x " + laptopFront + " %h %p"
	out := w.user.mustRun(t, userCtx(t), w.laptop.Host, nil, "ssh", us.args("home.i3", "echo hello; echo $SSH_CONNECTION", proxyCmd)...)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 || lines[len(lines)-2] != "hello" {
		t.Fatalf("ssh home.i3 through nc -X 5: got %q, want hello", out)
	}
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 4 || (f[0] != w.laptop.self.Addr4.String() && f[0] != w.laptop.self.Addr6.String()) {
		t.Errorf("on home, SSH_CONNECTION is %q: want it from laptop's virtual address (%v or %v)", lines[len(lines)-1], w.laptop.self.Addr4, w.laptop.self.Addr6)
	}
}

// testGitThroughProxy: git clone http://home.i3/repo.git with http_proxy.
func testGitThroughProxy(t *testing.T, w *usWorld, want []byte) {
	dst := filepath.Join(w.user.home, "clone-from-home")
	env := []string{"http_proxy=http://" + laptopFront, "GIT_TERMINAL_PROMPT=0"}
	w.user.mustRun(t, userCtx(t), w.laptop.Host, env, "git", "clone", "-q", "http://home.i3/repo.git", dst)
	got, err := os.ReadFile(filepath.Join(dst, "README"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the clone's README: %q (%v), want %q", got, err, want)
	}
}

// testFrontDirect: an address outside the overlay goes directly from
// laptop, through both kinds of front door.
func testFrontDirect(t *testing.T, w *usWorld) {
	dir := t.TempDir()
	body := []byte("web, on the internet " + rand.Text() + "\n")
	writeFile(t, filepath.Join(dir, "file"), body, 0o644)
	p := startDaemon(t, w.web, "/usr/bin/python3", "-m", "http.server", fmt.Sprint(webDirectPort),
		"--bind", w.web.Addr4().String(), "--directory", dir)
	ctx := userCtx(t)
	if err := netlab.WaitListen(ctx, w.web, "tcp", webDirectPort); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s:%d/file", w.web.Addr4(), webDirectPort)
	for _, via := range [][]string{{"--socks5-hostname", laptopFront}, {"-x", "http://" + laptopFront}} {
		got := w.user.mustRun(t, ctx, w.laptop.Host, nil, "curl", append([]string{"-sS", "--fail", "-m", "30"}, append(via, url)...)...)
		if !bytes.Equal(got, body) {
			t.Errorf("curl %s %s: got %q, want %q", strings.Join(via, " "), url, got, body)
		}
	}
	// http.server logs each request with its client: laptop's own address.
	waitOutput(t, p, w.laptop.Addr4().String()+" - - ")
}

// testHomeToExposed: from home (tun mode), curl and git clone to the web
// server nobody runs on laptop's loopback, which laptop exposes; a port it
// does not expose is refused.
func testHomeToExposed(t *testing.T, w *usWorld) {
	dir := filepath.Join(w.user.home, "www")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := []byte("laptop's loopback, exposed " + rand.Text() + "\n")
	writeFile(t, filepath.Join(dir, "file"), body, 0o644)
	makeBareRepo(t, dir, body)
	w.user.chownTree(t, dir)
	w.user.start(t, w.laptop.Host, "/usr/bin/python3", "-m", "http.server", fmt.Sprint(laptopWebPort),
		"--bind", "127.0.0.1", "--directory", dir)
	ctx := userCtx(t)
	if err := netlab.WaitListen(ctx, w.laptop.Host, "tcp", laptopWebPort); err != nil {
		t.Fatal(err)
	}
	got, err := curlGet(t, ctx, w.home.Host, fmt.Sprintf("http://laptop.i3:%d/file", laptopWebPort))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("home$ curl http://laptop.i3:%d/file: %q (%v), want %q", laptopWebPort, got, err, body)
	}
	dst := filepath.Join(t.TempDir(), "clone-from-laptop")
	mustRun(t, ctx, w.home.Host, "env", "GIT_TERMINAL_PROMPT=0", "git", "clone", "-q",
		fmt.Sprintf("http://laptop.i3:%d/repo.git", laptopWebPort), dst)
	if got, err := os.ReadFile(filepath.Join(dst, "README")); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("home's clone of laptop's repository: README %q (%v), want %q", got, err, body)
	}
	// Not exposed: refused at once (a reset from the userspace stack), even
	// though a server listens there on laptop's loopback.
	w.user.start(t, w.laptop.Host, "/usr/bin/python3", "-m", "http.server", fmt.Sprint(laptopClosedPort),
		"--bind", "127.0.0.1", "--directory", dir)
	if err := netlab.WaitListen(ctx, w.laptop.Host, "tcp", laptopClosedPort); err != nil {
		t.Fatal(err)
	}
	out, err := curlGet(t, ctx, w.home.Host, fmt.Sprintf("http://laptop.i3:%d/file", laptopClosedPort), "--connect-timeout", "10")
	if err == nil {
		t.Errorf("home reached laptop's loopback port %d, which laptop does not expose: %q", laptopClosedPort, out)
	} else {
		t.Logf("port %d, not exposed: %v", laptopClosedPort, err)
	}
}

// testHomeSSHToExposed: from home, ssh-keyscan of the sshd nobody runs on
// laptop's loopback (exposed): a full SSH key exchange that shows its host
// key.
func testHomeSSHToExposed(t *testing.T, w *usWorld) {
	hostKey := startUserSSHD(t, w.laptop.Host, w.user)
	out := mustRun(t, userCtx(t), w.home.Host, "ssh-keyscan", "-T", "15", "-t", "ed25519", "-p", fmt.Sprint(laptopSSHPort), "laptop.i3")
	if !strings.Contains(string(out), hostKey) {
		t.Fatalf("home$ ssh-keyscan -p %d laptop.i3: %q, want the host key of the sshd on laptop's loopback, %q", laptopSSHPort, out, hostKey)
	}
}

// testPingUserspace: home pings laptop.i3; laptop's userspace stack answers
// three echoes. ping sends on until three came back (-c 3 with -w): on a
// loaded machine the proxies' queue limit may drop one (CoDel, by design),
// which is logged with the counters that say so, not failed.
func testPingUserspace(t *testing.T, w *usWorld, family string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := run(t, ctx, w.home.Host, "ping", family, "-c", "3", "-i", "0.2", "-W", "5", "-w", "20", "laptop.i3")
	t.Logf("%s", out)
	m := pingSummary.FindStringSubmatch(string(out))
	if err != nil || m == nil || m[2] != "3" {
		t.Fatalf("home$ ping %s laptop.i3 (laptop in userspace mode): want 3 echoes answered by its stack: %v", family, err)
	}
	if m[1] != "3" {
		t.Logf("%s of %s echoes answered; drops: laptop %v, home %v", m[2], m[1],
			dropCounters(w.laptop.mustStatus(t).Counters), dropCounters(w.home.mustStatus(t).Counters))
	}
}

// dropCounters returns the non-zero drop and queue counters of a proxy.
func dropCounters(c map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range c {
		if v != 0 && (strings.HasPrefix(k, "drop_") || strings.HasPrefix(k, "queue_")) {
			out[k] = v
		}
	}
	return out
}

// testChosenByItself: ci's proxy, run as nobody without --userspace, says
// it cannot make a tun device and runs in userspace mode, with its front
// door on the default port and the port --expose gave open to home.
func testChosenByItself(t *testing.T, w *usWorld, want []byte) {
	waitOutput(t, w.ci.proxy, "no tun device can be made here")
	waitOutput(t, w.ci.proxy, "userspace mode")
	if st := w.ci.mustStatus(t); st.Self.Mode != "userspace" || !slices.Equal(st.Self.Exposed, []uint16{laptopWebPort}) {
		t.Errorf("ci's status: mode %q exposing %v, want userspace exposing [%d]", st.Self.Mode, st.Self.Exposed, laptopWebPort)
	}
	ctx := userCtx(t)
	got := w.user.mustRun(t, ctx, w.ci.Host, nil, "curl", "-sS", "--fail", "-m", "30",
		"--socks5-hostname", ciFront, "http://home.i3/")
	if !bytes.Equal(got, want) {
		t.Fatalf("ci: curl --socks5-hostname %s http://home.i3/: got %q, want %q", ciFront, got, want)
	}
	t.Logf("ci: %s", firstLine(w.ci.proxy.Output(), "no tun device"))

	dir := filepath.Join(w.user.home, "ci-www")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := []byte("ci's loopback, exposed " + rand.Text() + "\n")
	writeFile(t, filepath.Join(dir, "file"), body, 0o644)
	w.user.start(t, w.ci.Host, "/usr/bin/python3", "-m", "http.server", fmt.Sprint(laptopWebPort),
		"--bind", "127.0.0.1", "--directory", dir)
	if err := netlab.WaitListen(ctx, w.ci.Host, "tcp", laptopWebPort); err != nil {
		t.Fatal(err)
	}
	got, err := curlGet(t, ctx, w.home.Host, fmt.Sprintf("http://ci.i3:%d/file", laptopWebPort))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("home$ curl http://ci.i3:%d/file: %q (%v), want %q", laptopWebPort, got, err, body)
	}
}
