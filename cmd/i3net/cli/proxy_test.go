package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bug 2: a start-up failure of "i3net proxy" panicked (Close on a nil
// Proxy). Here the address book is damaged, which New finds before it
// touches the network: the command must say so and exit non-zero.
func TestProxyStartFailureIsAMessage(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	dir := t.TempDir()
	if code := Run([]string{"id", "--state-dir", dir}); code != 0 {
		t.Fatalf("i3net id: exit %d: %s", code, out.String())
	}
	if err := os.WriteFile(filepath.Join(dir, bookFile), []byte("[[peer]\nname = "), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	code := Run([]string{"proxy", "--state-dir", dir, "--server", "127.0.0.1:9", "--no-resolv-conf", "--tun", "i3nettest0"})
	if code == 0 {
		t.Fatalf("i3net proxy with a damaged book: exit 0: %s", out.String())
	}
	if msg := out.String(); !strings.Contains(msg, "book") || strings.Contains(msg, "panic") {
		t.Fatalf("i3net proxy with a damaged book: %q; want a message naming the book", msg)
	}
}

// TestProxyNoExtensions: --no-extensions reaches the overlay client, which
// then refuses the proxy's signed public trigger with a message saying why.
func TestProxyNoExtensions(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	dir := t.TempDir()
	if code := Run([]string{"id", "--state-dir", dir}); code != 0 {
		t.Fatalf("i3net id: exit %d: %s", code, out.String())
	}
	out.Reset()
	code := Run([]string{"proxy", "--state-dir", dir, "--server", pingServer(t).String(), "--no-extensions",
		"--userspace", "--front", "127.0.0.1:0", "--no-resolv-conf"})
	if code == 0 || !strings.Contains(out.String(), "NoExtensions") {
		t.Fatalf("i3net proxy --no-extensions: exit %d: %q; want a failure naming NoExtensions", code, out.String())
	}
}
