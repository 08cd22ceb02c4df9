package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// ftpServer is vsftpd running in a host: anonymous logins, uploads into
// incoming/, active mode (PORT) only.
// ftpServer is vsftpd in a lab host (netlab.StartVsftpd).
type ftpServer struct {
	*netlab.FTPServer
}

// startVsftpd starts vsftpd in h in the foreground, IPv4, active mode only,
// with anonymous uploads into a temporary directory, stopped at the test's
// end.
func startVsftpd(t *testing.T, h *netlab.Host) *ftpServer {
	t.Helper()
	if missing := netlab.VsftpdMissing(); missing != "" {
		t.Skipf("e2e: skipping: %s missing (scripts/deps installs it)", missing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := h.StartVsftpd(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return &ftpServer{s}
}

// ftpClient runs inetutils-ftp on h against host (IPv4, the classic PORT
// client) with script on standard input, from directory dir, and returns
// its output. The client exits 0 whatever the server answered: callers
// check the output and the files.
func ftpClient(t *testing.T, ctx context.Context, h *netlab.Host, dir, host, script string) string {
	t.Helper()
	cmd := h.Exec(ctx, "inetutils-ftp", "-4", "-n", "-v", host)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(script)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("%s$ inetutils-ftp -4 -n -v %s <<EOF\n%sEOF  (%v)\n%s", h.Name(), host, script, time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("inetutils-ftp: %v", err)
	}
	return string(out)
}

// testFTPActive uploads a file from laptop to vsftpd on home in active mode
// (the client sends PORT with its own address, and home's vsftpd connects
// back to it) and downloads it again: it works because both ends see the
// same addresses (headers preserved, §3.3).
func testFTPActive(t *testing.T, w *world) {
	needProgram(t, "inetutils-ftp")
	s := startVsftpd(t, w.home.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	local := t.TempDir()
	data := make([]byte, 200<<10)
	rand.Read(data)
	writeFile(t, filepath.Join(local, "up.bin"), data, 0o644)
	out := ftpClient(t, ctx, w.laptop.Host, local, "home.i3",
		"user anonymous\nbinary\ncd incoming\nput up.bin\nget up.bin back.bin\nquit\n")

	stored, err := os.ReadFile(filepath.Join(s.Root, "incoming", "up.bin"))
	if err != nil || !bytes.Equal(stored, data) {
		t.Errorf("the upload did not arrive whole on home (%v, %d of %d bytes)", err, len(stored), len(data))
	}
	back, err := os.ReadFile(filepath.Join(local, "back.bin"))
	if err != nil || !bytes.Equal(back, data) {
		t.Errorf("the download did not come back whole (%v, %d of %d bytes)", err, len(back), len(data))
	}
	if strings.Count(out, "226 ") < 2 {
		t.Errorf("want two transfers completed (226), got:\n%s", out)
	}
	// The client sent classic PORT with laptop's own virtual address, which
	// vsftpd accepted because the control connection came from it too.
	log := s.ProtocolLog()
	port := portArg(w.laptop.self.Addr4.String())
	if !strings.Contains(log, "PORT "+port) {
		t.Errorf("vsftpd's log shows no PORT %s… (laptop's own address): PORT was not used, or carried another address:\n%s", port, tail([]byte(log), 2048))
	}
	if !strings.Contains(log, "Client \""+w.laptop.self.Addr4.String()+"\"") {
		t.Errorf("vsftpd did not see the client as laptop's own virtual address %v:\n%s", w.laptop.self.Addr4, tail([]byte(log), 2048))
	}
	t.Logf("active FTP: %d bytes up and back, PORT %s… accepted (headers preserved)", len(data), port)
}

// portArg returns the address part of an FTP PORT argument: "a,b,c,d".
func portArg(addr4 string) string { return strings.ReplaceAll(addr4, ".", ",") }

// TestFTPCollision forces a virtual address collision: home's proxy reserves
// the address laptop derives for itself, so home maps laptop elsewhere and
// rewrites addresses (§3.3). The FTP control connection (plain TCP) still
// works through the rewriting; the active-mode data transfer does not,
// because the PORT command carries laptop's own address inside the payload,
// which is not rewritten and is not the address vsftpd sees the client at.
func TestFTPCollision(t *testing.T) {
	needProgram(t, "inetutils-ftp")
	t.Parallel()
	w := newWorld(t, topoOptions{homeProxyArgsFn: func(w *world) []string {
		return []string{"--reserve-addr", w.laptop.derived4().String()}
	}})
	if w.laptop.self.Addr4 != w.laptop.derived4() {
		t.Fatalf("laptop's own address is %v, derived from its id %v", w.laptop.self.Addr4, w.laptop.derived4())
	}
	s := startVsftpd(t, w.home.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	local := t.TempDir()
	writeFile(t, filepath.Join(local, "up.bin"), []byte("this upload cannot work\n"), 0o644)
	out := ftpClient(t, ctx, w.laptop.Host, local, "home.i3",
		"user anonymous\npwd\ncd incoming\npwd\nput up.bin\nquit\n")

	// Home maps laptop at another address and rewrites.
	st := w.home.mustStatus(t)
	p, ok := peerNamed(st, "laptop")
	if !ok {
		t.Fatalf("home's status lists no laptop: %+v", st.Peers)
	}
	if p.Preserved || p.Addr4 == w.laptop.self.Addr4 {
		t.Fatalf("home maps laptop at %v (preserved %v), laptop's own address is %v: the collision was not forced", p.Addr4, p.Preserved, w.laptop.self.Addr4)
	}
	t.Logf("collision: laptop is %v to itself, %v to home (rewritten)", w.laptop.self.Addr4, p.Addr4)

	// The control connection works: login and pwd through rewriting.
	if !strings.Contains(out, "230 ") || !strings.Contains(out, "257 \"/incoming\"") {
		t.Errorf("the FTP control connection did not work through rewriting (want 230 login and 257 \"/incoming\"):\n%s", out)
	}
	// The data connection does not: PORT carries laptop's own address.
	log := s.ProtocolLog()
	if _, err := os.Stat(filepath.Join(s.Root, "incoming", "up.bin")); err == nil {
		t.Errorf("the active-mode upload arrived despite the collision: headers were not rewritten?")
	}
	if !strings.Contains(log, "Client \""+p.Addr4.String()+"\"") {
		t.Errorf("vsftpd did not see the client at the rewritten address %v:\n%s", p.Addr4, tail([]byte(log), 2048))
	}
	var proto []string
	for l := range strings.Lines(log) {
		if strings.Contains(l, "FTP command") || strings.Contains(l, "FTP response") || strings.Contains(l, "CONNECT") {
			proto = append(proto, strings.TrimSpace(l))
		}
	}
	t.Logf("vsftpd's protocol log on home:\n%s", strings.Join(proto, "\n"))
	port := portArg(w.laptop.self.Addr4.String())
	switch {
	case strings.Contains(log, "PORT "+port) && strings.Contains(out, "500 Illegal PORT command"):
		t.Logf("as expected, the data transfer failed: the client sent PORT %s… (its own address, inside the payload, not rewritten); "+
			"vsftpd sees the client at %v and refused it with 500 Illegal PORT command", port, p.Addr4)
	case strings.Contains(out, "425 "):
		t.Logf("as expected, the data transfer failed: vsftpd could not open the data connection (425)")
	default:
		t.Errorf("want the active-mode transfer refused (500 Illegal PORT command, or 425); client:\n%s\nvsftpd:\n%s", out, tail([]byte(log), 2048))
	}
}
