package nat

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/testwait"
)

// startVsftpd starts vsftpd in h, IPv4, active mode (PORT) only, anonymous
// downloads from a directory holding file, and returns the path of its
// protocol log. The configuration follows e2e/ftp_test.go's.
func startVsftpd(t *testing.T, h *netlab.Host, file string, data []byte) string {
	t.Helper()
	needProgram(t, "/usr/sbin/vsftpd")
	if _, err := user.Lookup("ftp"); err != nil {
		t.Skipf("skipping: vsftpd's anonymous user ftp does not exist (%v): reinstall vsftpd", err)
	}
	dir := t.TempDir()
	root, empty, log := filepath.Join(dir, "root"), filepath.Join(dir, "empty"), filepath.Join(dir, "vsftpd.log")
	for _, d := range []string{root, empty} {
		must(t, os.Mkdir(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(root, file), data, 0o644))
	conf := fmt.Sprintf(`# gateway/nat: vsftpd for one test
listen=YES
listen_ipv6=NO
listen_address=%s
listen_port=21
background=NO
anonymous_enable=YES
no_anon_password=YES
local_enable=NO
write_enable=NO
anon_root=%s
secure_chroot_dir=%s
seccomp_sandbox=NO
isolate_network=NO
pasv_enable=NO
port_enable=YES
port_promiscuous=NO
connect_from_port_20=NO
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file=%s
`, h.Addr4(), root, empty, log)
	confPath := filepath.Join(dir, "vsftpd.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o600))
	startDaemon(t, h, "/usr/sbin/vsftpd", confPath)
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Timeout)
	defer cancel()
	must(t, netlab.WaitListen(ctx, h, "tcp", 21))
	return log
}

// TestActiveFTP: the classic PORT client in the client lists and fetches a
// file from vsftpd in the intranet. The client's PORT names its pool
// address, which the intranet cannot reach; the kernel's FTP helper rewrites
// it to the gateway's address and lets the server's data connection back
// in as a related flow. vsftpd refuses a PORT naming another address than
// the control connection's, so the transfer works only if the rewrite did.
func TestActiveFTP(t *testing.T) {
	needProgram(t, "inetutils-ftp")
	tp := newTopo(t, false)
	r := tp.install(t)
	data := make([]byte, 100<<10)
	rand.Read(data)
	log := startVsftpd(t, tp.intranet, "data.bin", data)

	local := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := tp.client.Exec(ctx, "inetutils-ftp", "-4", "-n", "-v", "-d", tp.intranet.Addr4().String())
	cmd.Dir = local
	cmd.Stdin = strings.NewReader("user anonymous\nbinary\nls\nget data.bin\nquit\n")
	out, err := cmd.CombinedOutput()
	t.Logf("client$ inetutils-ftp -4 -n -v -d %v\n%s", tp.intranet.Addr4(), out)
	must(t, err)

	got, err := os.ReadFile(filepath.Join(local, "data.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("get data.bin: %v, %d of %d bytes arrived whole", err, len(got), len(data))
	}
	if n := strings.Count(string(out), "226 "); n < 2 {
		t.Errorf("want two completed transfers (ls, get: 226), got %d", n)
	}
	if !strings.Contains(string(out), "data.bin") {
		t.Errorf("ls did not list data.bin")
	}
	sent := "PORT " + strings.ReplaceAll(tp.clientAddr.String(), ".", ",") + ","
	if !strings.Contains(string(out), sent) {
		t.Errorf("the client did not send classic PORT with its pool address (%s…)", sent)
	}
	seen := "PORT " + strings.ReplaceAll(tp.gwLAN.String(), ".", ",") + ","
	vlog, _ := os.ReadFile(log)
	if !bytes.Contains(vlog, []byte(seen)) {
		t.Errorf("vsftpd did not receive %s… (the client's PORT rewritten to the gateway's address):\n%s", seen, vlog)
	}
	if c := counters(t, r); c.Unsolicited != 0 {
		t.Errorf("counters %+v: the server's data connections should have been let in as related", c)
	}
	t.Logf("active FTP through the gateway: client sent %s…, vsftpd got %s…, %d bytes fetched", sent, seen, len(got))
}
