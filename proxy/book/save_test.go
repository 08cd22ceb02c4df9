package book

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fullBook has every option and the awkward characters a comment may hold.
func fullBook(t *testing.T) *Book {
	home, web, house := testEntry(t, "home", 1), testEntry(t, "web.office", 2), testEntry(t, "house", 1)
	home.Shortcut, home.Comment = true, `the "big" box \ under the stairs`
	house.Shortcut, house.Comment = true, "line one\nline two\ttab \x01\x7f ünïcode"
	web.Plaintext, web.PreserveHeaders, web.Blocked, web.Anonymous = true, false, true, true
	b, err := New(home, web, house)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "book.toml")
	b := fullBook(t)
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Entries(), b.Entries()) {
		t.Fatalf("round trip\n got: %+v\nwant: %+v", got.Entries(), b.Entries())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	text, _ := os.ReadFile(path)
	for _, want := range []string{"managed by \"i3net book\"", "editing it by\n# hand is fine",
		"[hosts.\"web.office\"]\n", "preserve_headers = false\n", "anonymous = true\n", "# id " + b.Entries()[0].ID.Short()} {
		if !strings.Contains(string(text), want) {
			t.Errorf("file lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(string(text), "preserve_headers = true") || strings.Contains(string(text), "= false\nblocked = false") {
		t.Errorf("file writes default options:\n%s", text)
	}
	// Saving the loaded book gives the same bytes.
	if string(got.Encode()) != string(text) {
		t.Errorf("Encode after Load differs:\n%s", got.Encode())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only book.toml (a temp file left behind?)", len(entries))
	}
}

func TestSaveEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.toml")
	var b *Book
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil || got.Len() != 0 {
		t.Fatalf("Load: %v, %d entries", err, got.Len())
	}
}

func TestSaveThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real, link := filepath.Join(dir, "real.toml"), filepath.Join(dir, "book.toml")
	if err := os.WriteFile(real, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if err := fullBook(t).Save(link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if b, err := Load(real); err != nil || b.Len() != 3 {
		t.Fatalf("Load of the target: %v", err)
	}
}

func TestSaveUnwritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fullBook(t).Save(filepath.Join(dir, "book.toml")); err == nil {
		t.Fatal("Save under a file: no error")
	}
}
