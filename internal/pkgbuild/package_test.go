package pkgbuild

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testrun"
	"github.com/i3net/i3net/server"
)

// builtPackage is the package the install test builds once, and where.
type builtPackage struct {
	binary string // the i3net binary packaged
	deb    string // the .deb
	root   string // the scratch root it is installed into
}

// TestPackageInstallsAndUnitsVerify builds the .deb from a fresh i3net
// binary, installs it with dpkg into a scratch root, and checks the installed
// files, the default configurations (with the server's loader), the manual
// pages (man -l) and the units (systemd-analyze verify).
func TestPackageInstallsAndUnitsVerify(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: installing a package with dpkg needs root")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: no %s on PATH to install the package", tool)
		}
	}
	p := buildPackage(t)
	installPackage(t, p)
	t.Run("files", func(t *testing.T) { checkInstalledFiles(t, p) })
	t.Run("configs", func(t *testing.T) { checkServerConfig(t, filepath.Join(p.root, "etc/i3net/server.toml")) })
	t.Run("man", func(t *testing.T) { checkManPages(t, p) })
	t.Run("units", func(t *testing.T) { checkUnitsVerify(t, p) })
}

// buildPackage builds cmd/i3net and packages it with Build.
func buildPackage(t *testing.T) builtPackage {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "i3net")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testrun.GoTool(t), "build", "-o", bin, "./cmd/i3net")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/i3net: %v\n%s", err, out)
	}
	deb, err := Build(ctx, Options{
		Binary: bin, Packaging: "../../packaging", OutDir: filepath.Join(dir, "dist"),
		Version: "0.0~test", Arch: runtime.GOARCH, Date: time.Unix(1767225600, 0),
	})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if want := "i3net_0.0~test_" + runtime.GOARCH + ".deb"; filepath.Base(deb) != want {
		t.Errorf("package file %s, want %s", filepath.Base(deb), want)
	}
	return builtPackage{binary: bin, deb: deb, root: filepath.Join(dir, "root")}
}

// installPackage runs "dpkg --root" on an empty dpkg database in p.root. The
// maintainer scripts run outside the root (--force-script-chrootless: the
// root has no shell), with DPKG_ROOT set, which makes them leave systemd be.
func installPackage(t *testing.T, p builtPackage) {
	t.Helper()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"} {
		if err := os.MkdirAll(filepath.Join(p.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(p.root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "dpkg", "--root="+p.root, "--force-script-chrootless", "-i", p.deb)
	status := run(t, "dpkg-query", "--root="+p.root, "-W", "-f=${Status} ${Version}", "i3net")
	if status != "install ok installed 0.0~test" {
		t.Fatalf("dpkg-query says %q, want installed 0.0~test", status)
	}
}

func checkInstalledFiles(t *testing.T, p builtPackage) {
	want := map[string]os.FileMode{
		"usr/bin/i3net": 0o755,
		"usr/lib/systemd/system/i3net-server.service": 0o644,
		"usr/lib/systemd/system/i3net-proxy.service":  0o644,
		"etc/i3net/server.toml":                       0o644,
		"etc/i3net/proxy.toml":                        0o644,
		"usr/share/man/man1/i3net.1.gz":               0o644,
		"var/lib/i3net":                               os.ModeDir | 0o700,
	}
	for _, name := range commandNames(mustHelp(t, p.binary)) {
		want["usr/share/man/man1/i3net-"+name+".1.gz"] = 0o644
	}
	for path, mode := range want {
		fi, err := os.Stat(filepath.Join(p.root, path))
		if err != nil {
			t.Errorf("installed root lacks /%s: %v", path, err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("/%s has mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	if a, b := fileSize(t, p.binary), fileSize(t, filepath.Join(p.root, "usr/bin/i3net")); a != b {
		t.Errorf("installed /usr/bin/i3net is %d bytes, the built binary %d", b, a)
	}
	conffiles := run(t, "dpkg-query", "--root="+p.root, "-W", "-f=${Conffiles}", "i3net")
	for _, c := range []string{"/etc/i3net/server.toml", "/etc/i3net/proxy.toml"} {
		if !strings.Contains(conffiles, c) {
			t.Errorf("%s is not a conffile (kept on upgrade): %q", c, conffiles)
		}
	}
}

// checkServerConfig loads the packaged server.toml with the server's loader,
// as shipped and with every commented-out key set.
func checkServerConfig(t *testing.T, path string) {
	cfg, err := server.LoadConfig(path, server.DefaultConfig())
	if err != nil {
		t.Fatalf("the packaged server.toml does not load: %v", err)
	}
	if cfg.ListenAddr != "0.0.0.0:5610" || !cfg.RequireSignedPublic {
		t.Errorf("server.toml loads as listen %s, signed public %v; want the defaults", cfg.ListenAddr, cfg.RequireSignedPublic)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "ring.key")
	if err := os.WriteFile(key, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	all := filepath.Join(dir, "server-all.toml")
	text := strings.ReplaceAll(string(uncomment(t, path)), "/etc/i3net/ring.key", key)
	if err := os.WriteFile(all, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := server.LoadConfig(all, server.DefaultConfig()); err != nil {
		t.Errorf("server.toml with its commented keys set does not load: %v", err)
	}
}

// commentedKey is a commented-out TOML line of an example: "# key = value"
// or "# [[table]]".
var commentedKey = regexp.MustCompile(`^# ([a-z_]+ = .*|\[\[[a-z_]+\]\])$`)

// uncomment returns the file at path with its commented-out keys set.
func uncomment(t *testing.T, path string) []byte {
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		if commentedKey.MatchString(l) {
			lines[i] = strings.TrimPrefix(l, "# ")
		}
	}
	return []byte(strings.Join(lines, "\n"))
}
