package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/controlsock"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server/servertest"
)

// saveIdentity gives the state directory dir an identity.
func saveIdentity(t *testing.T, dir string) *identity.Identity {
	t.Helper()
	x, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Save(filepath.Join(dir, identityFile)); err != nil {
		t.Fatal(err)
	}
	return x
}

// In a network namespace of its own, with a real server on its loopback,
// doctor finds nothing to fix: every line is ok or warn, the server answers
// and no NAT is in front; it exits 0.
func TestDoctorInNamespace(t *testing.T) {
	lab := netlabtest.New(t)
	h := lab.Internet().Host("doc")
	dir := testState(t)
	saveIdentity(t, dir)
	var (
		code    int
		out, eo string
		srvAddr string
	)
	err := h.Do(func() error {
		srv := servertest.Start(t, nil) // its socket on this namespace's loopback
		srvAddr = srv.Addr().String()
		if !srv.Addr().Addr().IsLoopback() {
			return fmt.Errorf("server on %v, not loopback", srv.Addr())
		}
		code, out, eo = runCmd(t, "doctor", "--server", srvAddr, "--no-resolv-conf")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out, eo)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("line %q", line)
		}
		check := f[1]
		if check == "server" {
			check += " " + f[2]
		}
		got[check] = f[0]
	}
	for _, c := range []string{"os", "tun", "capabilities", "pools", "identity", "book", "server " + srvAddr, "nat"} {
		if got[c] != "ok" {
			t.Errorf("%s: %q, want ok, in:\n%s", c, got[c], out)
		}
	}
	if !strings.Contains(out, "no NAT") {
		t.Errorf("no NAT line in:\n%s", out)
	}
	if strings.Contains(out, "fail") {
		t.Errorf("a check failed:\n%s", out)
	}
}

// With no identity and a server that never answers, doctor exits 1, and
// --json gives each check with its level and remedy.
func TestDoctorFailsJSON(t *testing.T) {
	testState(t)
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	code, out, eo := runCmd(t, "doctor", "--json", "--server", silent.LocalAddr().String(), "--timeout", "200ms", "--no-resolv-conf")
	if code != 1 || !strings.Contains(eo, "checks failed") {
		t.Fatalf("exit %d, stderr %q", code, eo)
	}
	var rs []struct {
		Check, Level, Detail, Fix string
	}
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	levels := map[string]string{}
	for _, r := range rs {
		levels[r.Check] = r.Level
		if r.Level != "ok" && r.Fix == "" && r.Check != "nat" {
			t.Errorf("%s: %s without a remedy", r.Check, r.Level)
		}
	}
	if levels["identity"] != "fail" || levels["server "+silent.LocalAddr().String()] != "fail" || levels["nat"] != "warn" {
		t.Errorf("levels %v", levels)
	}
}

func TestDoctorBadFlags(t *testing.T) {
	testState(t)
	if code, _, eo := runCmd(t, "doctor", "--pool4", "nonsense"); code != 2 || !strings.Contains(eo, "pool4") {
		t.Errorf("exit %d, %q", code, eo)
	}
	if code, _, eo := runCmd(t, "doctor", "--timeout", "0s"); code != 2 || !strings.Contains(eo, "--timeout") {
		t.Errorf("exit %d, %q", code, eo)
	}
}

// With a proxy running in the namespace (a process of its own), doctor says
// so and takes the pools routed into its tun device for what they are.
func TestDoctorWithProxyRunning(t *testing.T) {
	lab := netlabtest.New(t)
	h := lab.Internet().Host("doc")
	dir := testState(t)
	saveIdentity(t, dir)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var srvAddr string
	err = h.Do(func() error {
		srvAddr = servertest.Start(t, nil).Addr().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(beI3net, "1") // the child runs as i3net (TestMain)
	if _, err := h.Start(self, "proxy", "--state-dir", dir, "--server", srvAddr, "--no-resolv-conf"); err != nil {
		t.Fatal(err)
	}
	testwait.Within(t, 20*time.Second, "the proxy's control socket answers", func() bool {
		return controlsock.InUse(controlPath(dir))
	})
	var code int
	var out, eo string
	err = h.Do(func() error {
		code, out, eo = runCmd(t, "doctor", "--server", srvAddr, "--no-resolv-conf")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.Contains(out, "a proxy runs with this state directory") ||
		!strings.Contains(out, "routed into the tun device of the proxy that runs") {
		t.Fatalf("exit %d:\n%s%s", code, out, eo)
	}
}

// doctor --config checks the pools and resolver mode the file gives the
// proxy, unless a flag says otherwise.
func TestDoctorFilePools(t *testing.T) {
	path := writeProxyFile(t, "pool4 = \"100.96.0.0/12\"\npool6 = \"off\"\ndns_mode = \"off\"\n")
	f, _, err := loadProxyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	a := &doctorArgs{flags: fs, pool4: "100.64.0.0/10", pool6: "fd00::/64"}
	a.fileHost(f.hostFile)
	if a.pool4 != "100.96.0.0/12" || a.pool6 != "off" || !a.noResolv {
		t.Errorf("from the file: pool4 %s pool6 %s no resolv %v", a.pool4, a.pool6, a.noResolv)
	}
	fs.StringVar(&a.pool4, "pool4", "", "")
	if err := fs.Parse([]string{"--pool4", "100.80.0.0/12"}); err != nil {
		t.Fatal(err)
	}
	a.fileHost(f.hostFile)
	if a.pool4 != "100.80.0.0/12" {
		t.Errorf("--pool4 lost to the file: %s", a.pool4)
	}
}
