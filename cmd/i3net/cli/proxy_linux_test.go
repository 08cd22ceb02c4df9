package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobodyEnv, set, makes TestHelperProxyAsNobody run the proxy command.
const nobodyEnv = "I3NET_TEST_PROXY_AS_NOBODY"

// Bug 2: without root, "i3net proxy" panicked instead of saying it needs
// root. The test binary runs itself again as nobody in a network namespace of
// its own (so no tun device could touch this host's), where the proxy must
// fail on its tun device with that message.
func TestProxyWithoutRootSaysSo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs the proxy as nobody in a network namespace of its own")
	}
	var out bytes.Buffer
	captureOutput(t, &out)
	dir := t.TempDir()
	if code := Run([]string{"id", "--state-dir", dir}); code != 0 {
		t.Fatalf("i3net id: exit %d: %s", code, out.String())
	}
	// The test binary, copied where nobody may run it (the build's own
	// directory is root's alone).
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cli.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	err = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, 65534, 65534)
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperProxyAsNobody$", "-test.count=1")
	cmd.Env = append(os.Environ(), nobodyEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET,
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
	}
	got, err := cmd.CombinedOutput()
	msg := string(got)
	if err == nil || strings.Contains(msg, "panic") || !strings.Contains(msg, "needs root or CAP_NET_ADMIN") {
		t.Fatalf("i3net proxy as nobody: %v\n%s\nwant a failure saying it needs root or CAP_NET_ADMIN", err, msg)
	}
}

// TestHelperProxyAsNobody is the child of TestProxyWithoutRootSaysSo.
func TestHelperProxyAsNobody(t *testing.T) {
	dir := os.Getenv(nobodyEnv)
	if dir == "" {
		t.Skip("run by TestProxyWithoutRootSaysSo")
	}
	code := Run([]string{"proxy", "--state-dir", dir, "--server", "127.0.0.1:9", "--no-resolv-conf"})
	os.Exit(code)
}
