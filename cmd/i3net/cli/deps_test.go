package cli

import (
	"context"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBinaryLinksNoTestCode lists the packages the i3net binary links (go list
// -deps) and fails if one of them is test support: the testing package (which
// adds its flags and code to every program that links it), testing/...,
// a *test package such as netlabtest, or the e2e tests. It skips when no go
// tool is at hand.
func TestBinaryLinksNoTestCode(t *testing.T) {
	goTool := findGoTool(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "list", "-deps", "github.com/i3net/i3net/cmd/i3net")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/i3net: %v", err)
	}
	for pkg := range strings.Lines(string(out)) {
		pkg = strings.TrimSpace(pkg)
		if pkg == "testing" || strings.HasPrefix(pkg, "testing/") ||
			strings.HasSuffix(pkg, "test") && strings.HasPrefix(pkg, "github.com/i3net/i3net/") ||
			strings.HasPrefix(pkg, "github.com/i3net/i3net/e2e") {
			t.Errorf("the i3net binary links %s, which is test support: move what it needs to a package that does not import testing", pkg)
		}
	}
}

// findGoTool returns the go tool on PATH or, failing that, the one of this
// toolchain's GOROOT, and skips t when there is neither.
func findGoTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOROOT, "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("skipping: no go tool on PATH nor at %s to list the binary's packages", p)
	}
	return p
}
