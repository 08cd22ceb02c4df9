package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/i3net/i3net/internal/demo"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// beI3net, set in the environment, makes this test binary run its command
// line as i3net does (TestMain), for the processes the demo starts.
const beI3net = "I3NET_TEST_BE_I3NET"

func TestMain(m *testing.M) {
	if os.Getenv(beI3net) == "1" {
		os.Exit(Run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

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

// TestDemoNamespaces runs the whole demo, namespaces included (root only):
// the three servers join, the demo names the server holding home's trigger,
// curl reaches home, the counters show the hop, the gateway, the ingress and
// the middlebox chapters show what they should, and nothing is left behind.
func TestDemoNamespaces(t *testing.T) {
	netlabtest.RequireRoot(t)
	for _, p := range []string{"curl", "ping", "dig", "/usr/sbin/unbound"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("demo: skipping: %s is not installed", p)
		}
	}
	// The demo runs its own executable as "i3net server", "i3net proxy",
	// "i3net id"…: this test binary, which TestMain turns into i3net.
	t.Setenv(beI3net, "1")
	var out bytes.Buffer
	captureOutput(t, &out)
	if code := Run([]string{"demo"}); code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out.String())
	}
	for _, want := range []string{
		"srv1 starts the overlay", "srv2 joined through srv1's gossip address", "3 servers, each knows every other",
		"home's public id", "falls in srv", "hello from home", "sent on in one hop", "everything the demo started has stopped",
		// the gateway's chapters, and the middlebox's (its alert needs Suricata,
		// which scripts/deps installs)
		"says hello to 10.1.0.1", "fails after", "# laptop: through middlebox ids-mb",
		// the ingress's: phone resolves home through its resolver (a waypoint,
		// TTL 0), fetches its page (Host) and its daytime (the heuristic); an
		// unpublished name and port are refused; home sees phone's address
		"home.i3.example.net.\t0\tIN\tA\t198.19.255.1", "ingress  accepted",
		"(home's clock)", "→ NXDOMAIN", "which published no port 443",
		" → home.i3.example.net port 80 via ingress", " → home.i3.example.net port 13 via ingress",
		"# ingress for zone i3.example.net",
		// anonymity: two sessions, two ephemeral keys on home
		"cafe reaches home anonymously", "(on cafe, session 2)", "home's status: anonymous peer",
		// two overlays in one proxy; the lab's server killed, .i3 goes on
		"hello from build, in the lab overlay", "# overlay lab (.lab)", "the .i3 overlay did not notice",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestDemoInterrupted interrupts the demo (as Ctrl-C does, through its
// context) once its servers run in their namespaces, and checks that it says
// so and leaves no namespace behind (root only).
func TestDemoInterrupted(t *testing.T) {
	netlabtest.RequireRoot(t)
	for _, p := range []string{"curl", "ping"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("demo: skipping: %s is not installed", p)
		}
	}
	t.Setenv(beI3net, "1")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cancelOn{marker: "Identities and address books", cancel: cancel}
	oldOut := Stdout
	Stdout = out
	t.Cleanup(func() { Stdout = oldOut })

	err := runDemo(ctx, nil, demo.Options{})
	if err == nil || !strings.Contains(err.Error(), "interrupted; everything the demo started has stopped") {
		t.Fatalf("interrupted demo returned %v, want it to say it was interrupted\n%s", err, out)
	}
	if !strings.Contains(out.String(), "cleaning up") {
		t.Errorf("the demo did not say it cleaned up:\n%s", out)
	}
	if strings.Contains(out.String(), "output of ") {
		t.Errorf("an interrupted demo printed its processes' output, as for a failure:\n%s", out)
	}
	prefix := fmt.Sprintf("i3t-%d-", os.Getpid())
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			t.Errorf("namespace %s left after the interrupted demo", e.Name())
		}
	}
}

// cancelOn is a writer that calls cancel once what was written holds marker.
type cancelOn struct {
	marker string
	cancel func()
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return n, err
}

func (c *cancelOn) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
