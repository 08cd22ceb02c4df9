package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/identity"
)

func TestIDCreatesThenReuses(t *testing.T) {
	dir := testState(t)
	path := filepath.Join(dir, identityFile)

	code, out, errOut := runCmd(t, "id")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if want := "created a new identity in " + path; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
	x, err := identity.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("identity mode %v", fi.Mode().Perm())
	}
	key := x.Public().String()
	for _, want := range []string{"key  " + key + "\n", "id   " + x.ID().String() + "\n", "i3net book add ", " " + key + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	code, out2, errOut := runCmd(t, "id")
	if code != 0 || errOut != "" || out2 != out {
		t.Fatalf("second run: exit %d, stderr %q, stdout\n%s\nwant\n%s", code, errOut, out2, out)
	}
}

func TestIDJSON(t *testing.T) {
	dir := testState(t)
	code, out, _ := runCmd(t, "id", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var info idInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	x, err := identity.Load(filepath.Join(dir, identityFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != x.Public() || info.ID != x.ID() || !info.Created || info.File != filepath.Join(dir, identityFile) ||
		!strings.HasSuffix(info.AddCommand, " "+x.Public().String()) {
		t.Fatalf("info %+v", info)
	}
}

func TestIDNew(t *testing.T) {
	dir := testState(t)
	path := filepath.Join(dir, identityFile)
	if code, _, errOut := runCmd(t, "id", "--new"); code != 0 || !strings.Contains(errOut, "created") {
		t.Fatalf("--new without an identity: exit %d, %s", code, errOut)
	}
	first, _ := identity.Load(path)

	code, _, errOut := runCmd(t, "id", "--new")
	if code != 1 || !strings.Contains(errOut, "already holds an identity") || !strings.Contains(errOut, "--new --force") ||
		!strings.Contains(errOut, "needs the new key") {
		t.Fatalf("--new over an identity: exit %d, %s", code, errOut)
	}
	if x, _ := identity.Load(path); x.Public() != first.Public() {
		t.Fatal("--new without --force replaced the identity")
	}

	code, out, errOut := runCmd(t, "id", "--new", "--force")
	if code != 0 || !strings.Contains(errOut, "replaced the identity") {
		t.Fatalf("--new --force: exit %d, %s", code, errOut)
	}
	x, _ := identity.Load(path)
	if x.Public() == first.Public() || !strings.Contains(out, x.Public().String()+" --replace") {
		t.Fatalf("--new --force: same key, or no --replace in\n%s", out)
	}

	if code, _, errOut := runCmd(t, "id", "--force"); code != 2 || !strings.Contains(errOut, "--force only goes with --new") {
		t.Fatalf("--force alone: exit %d, %s", code, errOut)
	}
}

func TestIDErrors(t *testing.T) {
	dir := testState(t)
	if code, _, _ := runCmd(t, "id", "extra"); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
	if err := os.WriteFile(filepath.Join(dir, identityFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd(t, "id"); code != 1 || !strings.Contains(errOut, "not an i3net identity") {
		t.Errorf("bad identity file: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "id", "--new"); code != 1 || !strings.Contains(errOut, "--new --force replaces it") {
		t.Errorf("--new over a bad file: exit %d, %s", code, errOut)
	}
	other := t.TempDir()
	if code, _, _ := runCmd(t, "id", "--state-dir", other); code != 0 {
		t.Errorf("--state-dir: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(other, identityFile)); err != nil {
		t.Errorf("--state-dir not used: %v", err)
	}
}

// TestIDSuggestedName is a regression test (issue 9): "i3net id" suggested
// "book add localhost …" or a container's id; a host name many hosts share
// gives a placeholder and a line saying to replace it.
func TestIDSuggestedName(t *testing.T) {
	testState(t)
	tests := []struct {
		host      string
		container bool
		want      string
	}{
		{"laptop.example.org", false, "laptop"},
		{"Web-1", false, "web-1"},
		{"localhost", false, namePlaceholder},
		{"localhost.localdomain", false, namePlaceholder},
		{"ubuntu", false, namePlaceholder},
		{"vm", false, namePlaceholder},
		{"3f2a1b9c0d4e", false, namePlaceholder},
		{"3f2a1b9c0d4e", true, namePlaceholder},
		{"a1b2", true, namePlaceholder},
		{"builder", true, "builder"},
		{"under_score", false, namePlaceholder},
	}
	oldHost, oldContainer := hostname, inContainer
	t.Cleanup(func() { hostname, inContainer = oldHost, oldContainer })
	for _, tt := range tests {
		hostname = func() (string, error) { return tt.host, nil }
		inContainer = func() bool { return tt.container }
		code, out, _ := runCmd(t, "id")
		note := strings.Contains(out, "(replace NAME with the name")
		if code != 0 || !strings.Contains(out, "  i3net book add "+tt.want+" i3pk1") || note != (tt.want == namePlaceholder) {
			t.Errorf("host %q (container %v): exit %d\n%s\nwant book add %s", tt.host, tt.container, code, out, tt.want)
		}
	}
}
