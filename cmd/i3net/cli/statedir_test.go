package cli

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

// testState points the commands at a fresh state directory through
// $I3NET_STATE_DIR and returns it, so no test touches /var/lib/i3net.
func testState(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(stateDirEnv, dir)
	return dir
}

// runCmd runs the command line args and returns the exit status and what the
// command wrote to stdout and to stderr.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	oldOut, oldErr := Stdout, Stderr
	Stdout, Stderr = &out, &errOut
	defer func() { Stdout, Stderr = oldOut, oldErr }()
	code = Run(args)
	return code, out.String(), errOut.String()
}

func TestStateFlags(t *testing.T) {
	parse := func(args ...string) stateFlags {
		var st stateFlags
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		st.addDirFlag(fs)
		st.addBookFlag(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return st
	}
	t.Setenv(stateDirEnv, "")
	if st := parse(); st.identityPath() != "/var/lib/i3net/identity.pem" || st.bookPath() != "/var/lib/i3net/book.toml" {
		t.Errorf("defaults: %q, %q", st.identityPath(), st.bookPath())
	}
	t.Setenv(stateDirEnv, "/env")
	if st := parse(); st.identityPath() != filepath.Join("/env", identityFile) || st.bookPath() != "/env/book.toml" {
		t.Errorf("from $%s: %q, %q", stateDirEnv, st.identityPath(), st.bookPath())
	}
	if st := parse("--state-dir", "/flag"); st.identityPath() != "/flag/identity.pem" || st.bookPath() != "/flag/book.toml" {
		t.Errorf("--state-dir over $%s: %q, %q", stateDirEnv, st.identityPath(), st.bookPath())
	}
	if st := parse("--book", "/etc/my.toml"); st.identityPath() != "/env/identity.pem" || st.bookPath() != "/etc/my.toml" {
		t.Errorf("--book: %q, %q", st.identityPath(), st.bookPath())
	}
}

// TestStateDirDocumented: every command that reads the state directory says
// in its --help that $I3NET_STATE_DIR sets it for all of them, and honours it.
func TestStateDirDocumented(t *testing.T) {
	dir := testState(t)
	n := 0
	for _, c := range commands {
		fs, _ := c.Flags()
		f := fs.Lookup("state-dir")
		if f == nil {
			continue
		}
		n++
		if f.DefValue != dir {
			t.Errorf("%s: --state-dir defaults to %q, not $%s (%q)", c.Name, f.DefValue, stateDirEnv, dir)
		}
		if _, help, _ := runCmd(t, c.Name, "--help"); !strings.Contains(help, "$"+stateDirEnv+" sets it for every command") {
			t.Errorf("%s --help does not mention $%s:\n%s", c.Name, stateDirEnv, help)
		}
	}
	if n < 4 { // id, book, proxy, status
		t.Fatalf("%d commands take --state-dir, want at least 4", n)
	}
	if _, help, _ := runCmd(t, "help"); !strings.Contains(help, stateDirEnv) {
		t.Errorf("root help does not mention $%s", stateDirEnv)
	}
}
