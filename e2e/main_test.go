// Package e2e holds the end-to-end tests of the legacy proxy (GitHub issue 3):
// real, unmodified programs (curl, ssh and sshd, ping, an active-mode FTP
// client and vsftpd, dig, python3's http.server) between a laptop on the
// internet and a home host behind a NAT, talking through i3net proxies and an
// overlay server, all inside network namespaces built by e2e/netlab.
//
// The tests need root and skip, saying so, without it. TestMain builds the
// i3net binary once; every test builds its own lab (topology_test.go) and
// cleans it up through t.Cleanup.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// i3netBin is the i3net binary TestMain built; empty when the tests will skip.
var i3netBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: not root: every end-to-end test will skip (they build network namespaces; CI runs them as root)")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "i3net-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := buildI3net(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot build the i3net binary the tests run: %v\n", err)
		return 1
	}
	i3netBin = bin
	// The tests spend their time waiting (on trigger refreshes, timers,
	// programs), not computing: let more than GOMAXPROCS of them run at
	// once unless -parallel says otherwise.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "8")
	}
	return m.Run()
}

// buildI3net builds ./cmd/i3net into dir with the go tool on PATH or, failing
// that, the one of this toolchain's GOROOT. I3NET_E2E_RACE=1 builds it with
// the race detector (slower; finds races under real traffic).
func buildI3net(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(build.Default.GOROOT, "bin", "go")
		if _, serr := os.Stat(goTool); serr != nil {
			return "", fmt.Errorf("no go tool: not in PATH (%v) nor at %s", err, goTool)
		}
	}
	bin := filepath.Join(dir, "i3net")
	args := []string{"build", "-o", bin}
	if os.Getenv("I3NET_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/i3net")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = ".." // the module root: this package is e2e/
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s %v: %w\n%s", goTool, args, err, out)
	}
	return bin, nil
}
