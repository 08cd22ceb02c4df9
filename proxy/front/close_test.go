package front

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestNewAndServeErrors(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Router") {
		t.Errorf("New without a Router: %v, want an error naming it", err)
	}
	if _, err := New(Config{Router: newFakeRouter(), UDPTimeout: -1}); err == nil {
		t.Error("New with a negative timeout: no error")
	}
	s, err := New(Config{Router: newFakeRouter()})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != ErrServerClosed {
		t.Errorf("Serve after Close: %v, want ErrServerClosed", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("Serve after Close left its listener open")
	}
}

func TestHTTPConnectFailures(t *testing.T) {
	_, addr := startServer(t, Config{})
	for target, want := range map[string]string{
		"nowhere.i3:443":           "502 Bad Gateway: front: cannot resolve nowhere.i3",
		"home.i3:" + closedPort(t): "502 Bad Gateway: front: cannot connect to home.i3",
		"home.i3:99999":            "400 Bad Request: front: CONNECT bad destination",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("CONNECT %s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if got := resp.Status + ": " + string(body); !strings.HasPrefix(got, want) {
			t.Errorf("CONNECT %s: %q, want %q...", target, got, want)
		}
		c.Close()
	}
}

// TestCloseWaitsForEverything: with an idle keep-alive HTTP connection, an
// HTTP CONNECT tunnel, a SOCKS5 tunnel, a UDP association and a half-done
// handshake open, Close returns only when no goroutine of the package runs.
func TestCloseWaitsForEverything(t *testing.T) {
	s, addr := startServer(t, Config{})
	webPort := startWeb(t, "hi")
	proxyURL, _ := url.Parse("http://" + addr)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL)}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://home.i3:" + webPort + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()

	tunnel, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tunnel.Close()
	io.WriteString(tunnel, "CONNECT home.i3:"+webPort+" HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(tunnel), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	c := socksDial(t, addr)
	if code, _ := socksRequest(t, c, cmdConnect, socksDest{name: "home.i3", port: mustPort(t, webPort)}); code != repSucceeded {
		t.Fatalf("SOCKS CONNECT: %#x", code)
	}
	echo := startUDPEcho(t)
	_, uc, relay := associate(t, addr)
	exchange(t, uc, relay, socksDest{addr: echo.Addr(), port: echo.Port()}, "x")
	half, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	half.Write([]byte{5, 1})

	t.Logf("before Close: %d goroutines of the package", len(packageGoroutines()))
	s.Close()
	if stacks := packageGoroutines(); len(stacks) > 0 {
		t.Errorf("goroutines of the package still running after Close:\n%s", strings.Join(stacks, "\n\n"))
	}
}

// packageGoroutines returns the stacks running code of the package's
// non-test files.
func packageGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			line = strings.TrimSpace(line)
			if strings.Contains(line, "/proxy/front/") && !strings.Contains(line, "_test.go") {
				found = append(found, g)
				break
			}
		}
	}
	return found
}

func TestDialTimeout(t *testing.T) {
	_, addr := startServer(t, Config{DialTimeout: 100 * time.Millisecond})
	c := socksDial(t, addr)
	if code, _ := socksRequest(t, c, cmdConnect, socksDest{name: "slow.i3", port: 80}); code != repHostUnreachable {
		t.Errorf("SOCKS CONNECT past DialTimeout: %#x, want host unreachable", code)
	}
	proxyURL, _ := url.Parse("http://" + addr)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL)}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://slow.i3/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "slow.i3") {
		t.Errorf("GET past DialTimeout: %d %q, want 504 naming slow.i3", resp.StatusCode, body)
	}
}
