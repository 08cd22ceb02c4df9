package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelp walks every command's help: each has a usage line naming it, a short
// help, and "--help" exits 0.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	if code := Run([]string{"help"}); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	root := out.String()
	for _, c := range commands {
		if !strings.Contains(root, "  "+c.Name+" ") {
			t.Errorf("root help does not list %q", c.Name)
		}
		if !strings.HasPrefix(c.ShortUsage, "i3net "+c.Name) || c.ShortHelp == "" {
			t.Errorf("%s: incomplete usage %q / %q", c.Name, c.ShortUsage, c.ShortHelp)
		}
		out.Reset()
		if code := Run([]string{c.Name, "--help"}); code != 0 {
			t.Errorf("%s --help: exit %d", c.Name, code)
		}
		if !strings.Contains(out.String(), "Usage: i3net "+c.Name) {
			t.Errorf("%s --help: %q", c.Name, out.String())
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	if code := Run([]string{"no-such-command"}); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(out.String(), `unknown command "no-such-command"`) || !strings.Contains(out.String(), "Run 'i3net help'") {
		t.Fatalf("output %q", out.String())
	}
}

// captureOutput sends the commands' output to w for the rest of the test.
func captureOutput(t *testing.T, w *bytes.Buffer) {
	oldOut, oldErr := Stdout, Stderr
	Stdout, Stderr = w, w
	t.Cleanup(func() { Stdout, Stderr = oldOut, oldErr })
}

// TestUsageErrorIsShort is a regression test (issue 9): a usage error prints
// the error and one line pointing at --help, not the whole help, for every
// command, and exits 2.
func TestUsageErrorIsShort(t *testing.T) {
	testState(t)
	for _, c := range commands {
		code, out, errOut := runCmd(t, c.Name, "--bogus")
		want := "i3net " + c.Name + ": flag provided but not defined: -bogus\nRun 'i3net " + c.Name + " --help' for usage.\n"
		if code != 2 || out != "" || errOut != want {
			t.Errorf("%s --bogus: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.Name, code, out, errOut, want)
		}
	}
	for _, sub := range bookSubs {
		code, _, errOut := runCmd(t, "book", sub.name, "--bogus")
		want := "i3net book: " + sub.name + ": flag provided but not defined: -bogus\nRun 'i3net book " + sub.name + " --help' for usage.\n"
		if code != 2 || errOut != want {
			t.Errorf("book %s --bogus: exit %d, stderr %q, want %q", sub.name, code, errOut, want)
		}
	}
	code, _, errOut := runCmd(t, "no-such-command")
	if code != 2 || strings.Count(errOut, "\n") != 2 {
		t.Errorf("unknown command: exit %d, %q", code, errOut)
	}
}
