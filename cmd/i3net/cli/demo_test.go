package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemoOverlay runs the overlay chapter of the demo end to end: every step
// must complete and be narrated.
func TestDemoOverlay(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	if code := Run([]string{"demo", "--overlay-only"}); code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out.String())
	}
	for _, want := range []string{
		"inserted trigger", `home received "hello, home"`, `member 3 received "to everyone"`,
		`the longest match received "any one of you"`, "the shorter match received nothing",
		`home received "[transcoded] raw media"`, "64 bytes home → server → home", "done in",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
