package session

import (
	"os"
	"testing"
)

// TestMain makes the handshakes of the tests the same bytes on every machine:
// the hardware flag (FlagAESGCM) would otherwise differ between CPUs, and
// the fuzz seed corpora are the fixture's frames (TestFuzzCorpus).
// TestDataCipher sets it both ways.
func TestMain(m *testing.M) {
	hasAESGCM = false
	os.Exit(m.Run())
}
