package front

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/proxy"
)

func TestCurlSOCKS5Hostname(t *testing.T) {
	curl := needTool(t, "curl")
	s, addr := startServer(t, Config{})
	port := startWeb(t, "hello from home")
	out, err := run(t, curl, "-sS", "--max-time", "20", "--socks5-hostname", addr, "http://home.i3:"+port+"/")
	if err != nil || out != "hello from home" {
		t.Fatalf("curl --socks5-hostname: %q, %v", out, err)
	}
	if st := s.Stats(); st.SOCKSConns != 1 || st.ConnectOK != 1 {
		t.Errorf("stats %+v, want one SOCKS connection and one CONNECT", st)
	}
}

func TestCurlHTTPProxyKeepAlive(t *testing.T) {
	curl := needTool(t, "curl")
	s, addr := startServer(t, Config{})
	url := "http://home.i3:" + startWeb(t, "hello from home") + "/"
	out, err := run(t, curl, "-sS", "--max-time", "20", "-x", "http://"+addr, url, url, url)
	if err != nil || out != strings.Repeat("hello from home", 3) {
		t.Fatalf("curl -x with three URLs: %q, %v", out, err)
	}
	if st := s.Stats(); st.HTTPConns != 1 {
		t.Errorf("stats %+v: want the three requests on one client connection", st)
	}
}

func TestCurlHTTPSThroughCONNECT(t *testing.T) {
	curl := needTool(t, "curl")
	_, addr := startServer(t, Config{})
	ws := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret home")
	}))
	defer ws.Close()
	url := "https://home.i3:" + portOf(t, ws.Listener.Addr().String()) + "/"
	out, err := run(t, curl, "-sS", "-k", "--max-time", "20", "-x", "http://"+addr, url)
	if err != nil || out != "secret home" {
		t.Fatalf("curl -x https: %q, %v", out, err)
	}
}

func TestCurlHTTPErrors(t *testing.T) {
	curl := needTool(t, "curl")
	_, addr := startServer(t, Config{})
	for _, tc := range []struct{ url, want string }{
		{"http://nowhere.i3/", "502 front: cannot resolve nowhere.i3"},
		{"http://home.i3:" + closedPort(t) + "/", "502 front: cannot connect to home.i3"},
	} {
		out, err := run(t, curl, "-sS", "--max-time", "20", "-w", "%{http_code} ", "-o", "/dev/null", "-x", "http://"+addr, tc.url)
		if err != nil {
			t.Fatalf("curl %s: %v", tc.url, err)
		}
		body, _ := run(t, curl, "-sS", "--max-time", "20", "-x", "http://"+addr, tc.url)
		if got := out + strings.TrimSpace(body); !strings.HasPrefix(got, tc.want) || strings.Count(body, "\n") != 1 {
			t.Errorf("curl -x %s: %q, want %q... on one line", tc.url, got, tc.want)
		}
	}
}

func TestHTTPNotAProxyRequest(t *testing.T) {
	s, addr := startServer(t, Config{})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "not a proxy request") {
		t.Errorf("GET / on the proxy: %d %q, want 400 explaining", resp.StatusCode, body)
	}
	if s.Stats().BadRequests != 1 {
		t.Errorf("stats %+v, want one bad request", s.Stats())
	}
}

func TestXNetSOCKS5Client(t *testing.T) {
	_, addr := startServer(t, Config{})
	port := startWeb(t, "hello via x/net")
	dialer, err := proxy.SOCKS5("tcp", addr, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	cd := dialer.(proxy.ContextDialer)
	client := &http.Client{Transport: &http.Transport{DialContext: cd.DialContext}}
	defer client.CloseIdleConnections()
	for _, host := range []string{"home.i3", "127.0.0.1"} {
		resp, err := client.Get("http://" + host + ":" + port + "/")
		if err != nil {
			t.Fatalf("GET via x/net/proxy to %s: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello via x/net" {
			t.Errorf("body %q", body)
		}
	}
	if _, err := cd.DialContext(context.Background(), "tcp", "nowhere.i3:80"); err == nil ||
		!strings.Contains(err.Error(), "host unreachable") {
		t.Errorf("dial nowhere.i3: %v, want host unreachable", err)
	}
}

func TestNetcatSOCKS5(t *testing.T) {
	nc := needTool(t, "nc")
	if out, _ := exec.Command(nc, "-h").CombinedOutput(); !strings.Contains(string(out), "-X") {
		t.Skip("nc is not OpenBSD netcat (no -X proxy option)")
	}
	_, addr := startServer(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			io.WriteString(c, "SSH-2.0-fake\r\n")
			c.Close()
		}
	}()
	out, err := run(t, nc, "-X", "5", "-x", addr, "home.i3", portOf(t, ln.Addr().String()))
	if err != nil || out != "SSH-2.0-fake\r\n" {
		t.Fatalf("nc -X 5: %q, %v", out, err)
	}
}

func TestGitCloneThroughHTTPProxy(t *testing.T) {
	git := needTool(t, "git")
	execPath, err := exec.Command(git, "--exec-path").Output()
	if err != nil {
		t.Skipf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("git http-backend is not installed (%v): cannot serve a repository over HTTP", err)
	}
	root := t.TempDir()
	makeRepo(t, git, root)
	ws := httptest.NewServer(&cgi.Handler{Path: backend, Root: "/",
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	defer ws.Close()
	_, addr := startServer(t, Config{})
	dst := filepath.Join(t.TempDir(), "clone")
	url := "http://git.i3:" + portOf(t, ws.Listener.Addr().String()) + "/repo.git"
	if _, err := run(t, git, "-c", "http.proxy=http://"+addr, "clone", "-q", url, dst); err != nil {
		t.Fatalf("git clone %s through the proxy: %v", url, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "README")); err != nil || string(b) != "over the overlay\n" {
		t.Errorf("cloned README: %q, %v", b, err)
	}
}

// makeRepo makes root/repo.git, a bare repository with one commit.
func makeRepo(t *testing.T, git, root string) {
	t.Helper()
	work := filepath.Join(root, "work")
	os.MkdirAll(work, 0o755)
	os.WriteFile(filepath.Join(work, "README"), []byte("over the overlay\n"), 0o644)
	for _, args := range [][]string{
		{"-C", work, "init", "-q"},
		{"-C", work, "add", "README"},
		{"-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one"},
		{"clone", "-q", "--bare", work, filepath.Join(root, "repo.git")},
	} {
		if _, err := run(t, git, args...); err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
	}
}
