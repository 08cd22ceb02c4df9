package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestLabNeedsLinux: on another system the lab part says that it needs Linux
// and how to see the rest.
func TestLabNeedsLinux(t *testing.T) {
	for _, goos := range []string{"darwin", "windows", "freebsd"} {
		err := checkLab(goos)
		if err == nil || !strings.Contains(err.Error(), "needs Linux") || !strings.Contains(err.Error(), "--overlay-only") {
			t.Errorf("checkLab(%q) = %v, want it to say it needs Linux and point at --overlay-only", goos, err)
		}
	}
}

// TestInterruptedOverlay: a demo whose context ends says it was interrupted
// rather than printing the error of the step cut short.
func TestInterruptedOverlay(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out bytes.Buffer
	err := Run(ctx, Options{Out: &out, OverlayOnly: true})
	if err == nil || err.Error() != "interrupted; everything the demo started has stopped" {
		t.Fatalf("Run with an ended context = %v, want the interruption said plainly\n%s", err, out.String())
	}
}
