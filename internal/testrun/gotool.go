package testrun

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// GoTool returns the go tool on PATH, else the one of this toolchain's
// GOROOT, and skips t (saying why) when there is neither.
func GoTool(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOROOT, "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("skipping: no go tool on PATH nor at %s", p)
	}
	return p
}
