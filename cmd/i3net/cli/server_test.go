package cli

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServerHelperProcess is the i3net binary for TestServerCommand: it runs
// the command line in I3NET_TEST_SERVER_ARGS when I3NET_TEST_SERVER_HELPER is set.
func TestServerHelperProcess(t *testing.T) {
	if os.Getenv("I3NET_TEST_SERVER_HELPER") != "1" {
		t.Skip("the i3net process of TestServerCommand")
	}
	os.Exit(Run(strings.Fields(os.Getenv("I3NET_TEST_SERVER_ARGS"))))
}

// TestServerCommand runs "i3net server" as a process: it prints its ready line,
// echoes a ping, serves its counters on /metrics, and exits 0 on SIGINT.
func TestServerCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metrics := ln.Addr().String()
	ln.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestServerHelperProcess$")
	cmd.Env = append(os.Environ(), "I3NET_TEST_SERVER_HELPER=1",
		"I3NET_TEST_SERVER_ARGS=server --listen 127.0.0.1:0 --metrics "+metrics+" --log-level warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed when the process has exited
	var exitErr error
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	})

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
		exitErr = cmd.Wait()
		close(exited)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(10 * time.Second):
		t.Fatalf("no ready line; stderr: %s", stderr.String())
	}
	addrText, ok := strings.CutPrefix(line, "i3net server listening on ")
	if !ok {
		t.Fatalf("ready line %q; stderr: %s", line, stderr.String())
	}
	addr, err := netip.ParseAddrPort(addrText)
	if err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}

	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ping := []byte{0x11, 'h', 'i'}
	c.Write(ping)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	if n, err := c.Read(buf); err != nil || !bytes.Equal(buf[:n], ping) {
		t.Fatalf("ping echo %x, %v", buf[:n], err)
	}

	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"i3net_server_pings_total 1", `i3net_server_drops_total{reason="version"} 0`, "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Errorf("exit: %v; stderr: %s", exitErr, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGINT")
	}
}

func TestServerCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "server.toml")
	os.WriteFile(bad, []byte("trigger_ttl = \"20s\"\nmax_trigers = 5\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown key in the file", []string{"server", "--config", bad}, 1, bad + `:2: unknown key "max_trigers" (did you mean "max_triggers"?)`},
		{"missing file", []string{"server", "--config", filepath.Join(dir, "none.toml")}, 1, "none.toml"},
		{"bad advertise", []string{"server", "--advertise", "somewhere"}, 2, `--advertise "somewhere": want IP:PORT`},
		{"bad log level", []string{"server", "--log-level", "loud"}, 2, `--log-level "loud"`},
		{"bad listen", []string{"server", "--listen", "nowhere:1"}, 1, "listen_addr"},
		{"bad ttl", []string{"server", "--listen", "127.0.0.1:0", "--trigger-ttl", "-1s"}, 1, "trigger_ttl = -1s: must be positive"},
		{"argument", []string{"server", "now"}, 2, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			captureOutput(t, &out)
			if code := Run(tt.args); code != tt.code {
				t.Errorf("exit %d, want %d; output %s", code, tt.code, out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output %q lacks %q", out.String(), tt.want)
			}
		})
	}
}

// TestServerConfigPrecedence: defaults, then the file, then the flags given.
func TestServerConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.toml")
	os.WriteFile(path, []byte("listen_addr = \"127.0.0.1:5611\"\ntrigger_ttl = \"20s\"\ninsert_rate = 7\n"), 0o600)
	a := serverArgs{config: path, ttl: 40 * time.Second, advertise: "198.18.0.1:5610", allowUnsigned: true,
		set: map[string]bool{"trigger-ttl": true, "advertise": true}}
	cfg, err := serverConfig(a)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != "127.0.0.1:5611" || cfg.TriggerTTL != 40*time.Second || cfg.InsertRate != 7 ||
		cfg.PublicAddr != netip.MustParseAddrPort("198.18.0.1:5610") || cfg.RequireSignedPublic {
		t.Errorf("config %+v", cfg)
	}
}
