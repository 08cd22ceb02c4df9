package cli

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testrun"
)

// TestBinaryLinksNoTestCode lists the packages the i3net binary links (go list
// -deps) and fails if one of them is test support: the testing package (which
// adds its flags and code to every program that links it), testing/...,
// a *test package such as netlabtest, or the e2e tests. It skips when no go
// tool is at hand.
func TestBinaryLinksNoTestCode(t *testing.T) {
	goTool := testrun.GoTool(t)
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
