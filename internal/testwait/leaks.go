package testwait

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs the tests of m and then waits, up to Timeout, for every goroutine
// they started to end; one still running then fails the package, with its
// stack (go.uber.org/goleak, whose own wait, under half a second, is too short
// for memberlist's probes on a busy machine). A package uses it as its
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		var err error
		if !Poll(Timeout, func() bool { err = goleak.Find(); return err == nil }) {
			fmt.Fprintf(os.Stderr, "goroutines outlived the tests (after %v): %v\n", Timeout, err)
			code = 1
		}
	}
	os.Exit(code)
}
