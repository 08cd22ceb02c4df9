package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/book"
)

// bookTestKey returns the public key of the identity whose seed is 32 bytes of n.
func bookTestKey(t *testing.T, n byte) string {
	t.Helper()
	x, err := identity.FromSeed(bytes.Repeat([]byte{n}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return x.Public().String()
}

func TestBookCommands(t *testing.T) {
	dir := testState(t)
	path := filepath.Join(dir, bookFile)
	k1, k2, k3 := bookTestKey(t, 1), bookTestKey(t, 2), bookTestKey(t, 3)
	steps := []struct {
		args   []string
		code   int
		stdout []string // each must appear
		stderr []string
	}{
		{args: []string{"book", "ls"}, stdout: []string{"# the book is empty: add a host with i3net book add"}},
		{args: []string{"book", "add", "home", k1, "--shortcut"}, stdout: []string{"added home (id ", "reach it as home.i3"}},
		{args: []string{"book", "add", "--plaintext", "--comment", "the IDS", "Web.Office", k2, "--no-preserve-headers"},
			stdout: []string{"added web.office"}},
		{args: []string{"book", "add", "house", k1, "--shortcut"}, stdout: []string{"added house", "# the same key is also named home"}},
		{args: []string{"book", "ls"}, stdout: []string{
			"NAME        ID         KEY",
			"home        " + mustParseKey(t, k1).ID().Short() + "  " + k1 + "  shortcut\n",
			"web.office  ",
			"plaintext,no-preserve-headers\n",
			"# 3 name(s) in " + path + "\n",
		}},
		{args: []string{"book", "show", "WEB.office"}, stdout: []string{"name     web.office (web.office.i3)\n", "key      " + k2 + "\n",
			"options  plaintext,no-preserve-headers\n", "comment  the IDS\n", "file     " + path + "\n"}},
		{args: []string{"book", "show", "home"}, stdout: []string{"aliases  house\n"}},

		// Refusals: exit 1, the file unchanged.
		{args: []string{"book", "add", "home", k3}, code: 1, stderr: []string{"home is already in " + path + ", with key " + k1 + ": --replace replaces it"}},
		{args: []string{"book", "add", "hut", k1}, code: 1, stderr: []string{`host "hut" has the same key as host "home" but differs in shortcut`}},
		{args: []string{"book", "rm", "nobody"}, code: 1, stderr: []string{`no host named "nobody" in ` + path}},
		{args: []string{"book", "show", "nobody"}, code: 1, stderr: []string{`no host named "nobody"`}},
		{args: []string{"book", "block", "nobody"}, code: 1, stderr: []string{`no host named "nobody"`}},

		// Bad usage: exit 2.
		{args: []string{"book", "add", "web_1", k3}, code: 2, stderr: []string{"i3net book: bad name \"web_1\": '_' is not allowed: use letters, digits and hyphens, with dots between labels\nRun 'i3net book add --help' for usage.\n"}},
		{args: []string{"book", "add", "x", "i3pk1:abc"}, code: 2, stderr: []string{`i3net book: KEY: not an i3net public key: "i3pk1:abc"`, `"i3net id" on that host prints its key`}},
		{args: []string{"book", "add", "x.i3", k3}, code: 2, stderr: []string{`name "x.i3" ends in the overlay suffix: give the name without it (x)`}},
		{args: []string{"book", "add", "x"}, code: 2, stderr: []string{"i3net book: add wants NAME KEY, have 1 argument(s) [\"x\"]\nRun 'i3net book add --help' for usage.\n"}},
		{args: []string{"book", "add", "x", k3, "--frob"}, code: 2, stderr: []string{"i3net book: add: flag provided but not defined: -frob\nRun 'i3net book add --help' for usage.\n"}},
		{args: []string{"book", "ls", "extra"}, code: 2, stderr: []string{`i3net book: ls takes no arguments, have ["extra"]`}},
		{args: []string{"book", "frob"}, code: 2, stderr: []string{`unknown subcommand "frob": want one of add, rm, ls, show, block, unblock`}},
		{args: []string{"book"}, code: 2, stderr: []string{"i3net book: missing subcommand: one of add, rm, ls, show, block, unblock\nRun 'i3net book --help' for usage.\n"}},

		// Changes.
		{args: []string{"book", "add", "home", k3, "--replace"}, stdout: []string{"replaced home"}},
		{args: []string{"book", "block", "web.office"}, stdout: []string{"blocked web.office (key " + k2 + ")", "a running proxy applies it within seconds"}},
		{args: []string{"book", "block", "web.office"}, stdout: []string{"web.office is already blocked"}},
		{args: []string{"book", "ls"}, stdout: []string{"plaintext,no-preserve-headers,blocked\n", "# 3 name(s) in " + path + ", 1 blocked\n"}},
		{args: []string{"book", "unblock", "web.office"}, stdout: []string{"unblocked web.office", "accepts the host again"}},
		{args: []string{"book", "rm", "house"}, stdout: []string{"removed house (key " + k1 + ") from " + path}},
	}
	for _, s := range steps {
		before, _ := os.ReadFile(path)
		code, out, errOut := runCmd(t, s.args...)
		name := strings.Join(s.args, " ")
		if code != s.code {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", name, code, s.code, out, errOut)
			continue
		}
		for _, want := range s.stdout {
			if !strings.Contains(out, want) {
				t.Errorf("%s: stdout lacks %q:\n%s", name, want, out)
			}
		}
		for _, want := range s.stderr {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", name, want, errOut)
			}
		}
		if after, _ := os.ReadFile(path); code != 0 && !bytes.Equal(before, after) {
			t.Errorf("%s: failed, but changed the file", name)
		}
	}

	// The file holds what the commands said.
	b, err := book.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range b.Entries() {
		names = append(names, e.Name)
	}
	if strings.Join(names, " ") != "home web.office" {
		t.Fatalf("names %q", names)
	}
	if e, _ := b.Lookup("home"); e.Key.String() != k3 || e.Shortcut {
		t.Errorf("home after --replace: %+v", e)
	}
	if e, _ := b.Lookup("web.office"); !e.Plaintext || e.PreserveHeaders || e.Blocked || e.Comment != "the IDS" {
		t.Errorf("web.office: %+v", e)
	}
}

func mustParseKey(t *testing.T, s string) identity.PublicKey {
	k, err := identity.ParsePublicKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBookBlockAliases(t *testing.T) {
	dir := testState(t)
	k := bookTestKey(t, 1)
	for _, args := range [][]string{{"add", "home", k}, {"add", "house", k}, {"block", "house"}} {
		if code, out, errOut := runCmd(t, append([]string{"book"}, args...)...); code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	b, err := book.Load(filepath.Join(dir, bookFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entries() {
		if !e.Blocked {
			t.Errorf("%s not blocked with its alias", e.Name)
		}
	}
	// A new name of a blocked host is blocked too.
	if code, out, _ := runCmd(t, "book", "add", "hut", k); code != 0 || !strings.Contains(out, "the host is blocked") {
		t.Fatalf("add alias of a blocked host: exit %d\n%s", code, out)
	}
}

func TestBookLsJSON(t *testing.T) {
	dir := testState(t)
	code, out, _ := runCmd(t, "book", "ls", "--json")
	if code != 0 || !strings.Contains(out, `"hosts": []`) {
		t.Fatalf("empty: exit %d\n%s", code, out)
	}
	runCmd(t, "book", "add", "home", bookTestKey(t, 1), "--shortcut")
	code, out, _ = runCmd(t, "book", "ls", "--json")
	var list bookList
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if list.File != filepath.Join(dir, bookFile) || len(list.Hosts) != 1 || list.Hosts[0].Name != "home" ||
		list.Hosts[0].Key.String() != bookTestKey(t, 1) || !list.Hosts[0].Shortcut || !list.Hosts[0].PreserveHeaders {
		t.Fatalf("list %+v", list)
	}
	code, out, _ = runCmd(t, "book", "show", "--json", "home")
	var e book.Entry
	if err := json.Unmarshal([]byte(out), &e); code != 0 || err != nil || e.Name != "home" || e.ID != list.Hosts[0].ID {
		t.Fatalf("show --json: exit %d, %v\n%s", code, err, out)
	}
}

func TestBookFlags(t *testing.T) {
	testState(t)
	other := filepath.Join(t.TempDir(), "other.toml")
	k := bookTestKey(t, 1)
	// --book before and after the subcommand.
	if code, _, errOut := runCmd(t, "book", "--book", other, "add", "home", k); code != 0 {
		t.Fatalf("--book before: exit %d, %s", code, errOut)
	}
	if code, out, _ := runCmd(t, "book", "ls", "--book", other); code != 0 || !strings.Contains(out, "home") {
		t.Fatalf("--book after: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd(t, "book", "ls"); code != 0 || !strings.Contains(out, "the book is empty") {
		t.Fatalf("the default book was written: exit %d\n%s", code, out)
	}
	// --state-dir after the subcommand; "--" ends the flags.
	dir := t.TempDir()
	if code, _, errOut := runCmd(t, "book", "add", "--state-dir", dir, "--", "web", k); code != 0 {
		t.Fatalf("--state-dir after: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, bookFile)); err != nil {
		t.Fatal(err)
	}
}

func TestBookHelp(t *testing.T) {
	testState(t)
	for _, sub := range bookSubs {
		for _, args := range [][]string{{"book", sub.name, "--help"}, {"book", "help", sub.name}} {
			code, out, _ := runCmd(t, args...)
			if code != 0 || !strings.HasPrefix(out, "Usage: i3net book "+sub.name) || !strings.Contains(out, "-state-dir DIR") {
				t.Errorf("%q: exit %d\n%s", args, code, out)
			}
		}
	}
	code, out, _ := runCmd(t, "book", "help")
	if code != 0 || !strings.Contains(out, "Subcommands:") {
		t.Errorf("book help: exit %d\n%s", code, out)
	}
}

func TestBookBadFile(t *testing.T) {
	dir := testState(t)
	path := filepath.Join(dir, bookFile)
	if err := os.WriteFile(path, []byte("[hosts.home]\nkey = \"nope\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"book", "ls"}, {"book", "add", "web", bookTestKey(t, 1)}, {"book", "block", "home"}} {
		code, _, errOut := runCmd(t, args...)
		if want := path + `:2: hosts.home.key: not an i3net public key: "nope"`; code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", args, code, errOut, want)
		}
	}
}

// TestBookDocExamples runs the shell examples of docs/book.md in order, in a
// temporary state directory (and with /etc/ paths moved into it): each must
// exit 0.
func TestBookDocExamples(t *testing.T) {
	dir := testState(t)
	text, err := os.ReadFile("../../../docs/book.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, part := range strings.Split(string(text), "```sh\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		if err := os.MkdirAll(filepath.Join(dir, "etc", "i3net"), 0o755); err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(block) {
			args := shellWords(strings.ReplaceAll(strings.TrimSpace(line), "/etc/", dir+"/etc/"))
			if len(args) == 0 || args[0] != "i3net" {
				continue
			}
			n++
			if code, out, errOut := runCmd(t, args[1:]...); code != 0 {
				t.Errorf("%s: exit %d\n%s%s", line, code, out, errOut)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d examples found", n)
	}
}

// shellWords splits a command line at spaces, keeping "double quoted" words
// whole: enough for the examples.
func shellWords(line string) []string {
	var words []string
	for i, part := range strings.Split(line, `"`) {
		if i%2 == 1 {
			words = append(words, part)
			continue
		}
		words = append(words, strings.Fields(part)...)
	}
	return words
}

// TestBookMissingDir is a regression test (issue 9): a book in a directory
// that does not exist is a mistyped path, not an empty book. A missing file in
// an existing directory is still an empty book (a host has none before its
// first "book add"), and "book add" into a new state directory creates it.
func TestBookMissingDir(t *testing.T) {
	dir := testState(t)
	missing := filepath.Join(dir, "nonexistent", "dir", "book.toml")
	for _, sub := range [][]string{{"ls"}, {"show", "home"}, {"rm", "home"}, {"block", "home"}, {"add", "home", bookTestKey(t, 1)}} {
		args := append([]string{"book", "--book", missing}, sub...)
		code, out, errOut := runCmd(t, args...)
		if code != 1 || !strings.Contains(errOut, "no such directory: "+filepath.Dir(missing)) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, out, _ := runCmd(t, "book", "ls"); code != 0 || !strings.Contains(out, "the book is empty") {
		t.Errorf("book ls of a missing file: exit %d, %q", code, out)
	}
	fresh := filepath.Join(dir, "fresh")
	if code, _, errOut := runCmd(t, "book", "--state-dir", fresh, "add", "home", bookTestKey(t, 1)); code != 0 {
		t.Errorf("book add in a new state directory: exit %d, %s", code, errOut)
	}
}

// TestBookKeyTypo: a key with one character wrong is refused, naming it
// (bug 7); a key in the old form is taken, with a warning giving its new
// form, and stored in the new form.
func TestBookKeyTypo(t *testing.T) {
	dir := testState(t)
	k := bookTestKey(t, 1)
	typo := k[:40] + flipChar(k[40]) + k[41:]
	code, _, errOut := runCmd(t, "book", "add", "home", typo)
	if code != 2 || !strings.Contains(errOut, "character 41 (") || !strings.Contains(errOut, "Run 'i3net book add --help' for usage.") {
		t.Fatalf("add with a typo: exit %d, %q", code, errOut)
	}
	old := mustParseKey(t, k).LegacyString()
	code, _, errOut = runCmd(t, "book", "add", "home", old)
	if code != 0 || !strings.Contains(errOut, "warning: KEY is in the old form") || !strings.Contains(errOut, k) {
		t.Fatalf("add in the old form: exit %d, %q", code, errOut)
	}
	text, _ := os.ReadFile(filepath.Join(dir, bookFile))
	if !strings.Contains(string(text), `key = "`+k+`"`) {
		t.Fatalf("the book does not hold the new form:\n%s", text)
	}
	hand := "[hosts.home]\nkey = \"" + old + "\"\n"
	if err := os.WriteFile(filepath.Join(dir, bookFile), []byte(hand), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCmd(t, "book", "ls")
	if want := bookFile + `:2: hosts.home.key: the key is in the old form`; code != 0 || !strings.Contains(errOut, want) || !strings.Contains(errOut, k) {
		t.Fatalf("ls of a hand-written old key: exit %d, %q, want %q", code, errOut, want)
	}
}

func flipChar(c byte) string {
	if c == 'q' {
		return "p"
	}
	return "q"
}
