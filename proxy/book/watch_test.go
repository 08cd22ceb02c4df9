package book

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// write replaces the file at path with text, moving its modification time on so
// that the change shows even on a file system with a coarse clock.
func write(t *testing.T, path, text string, age time.Duration) {
	t.Helper()
	if err := os.WriteFile(path, []byte(expand(t, text)), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(-age)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func TestWatcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.toml")
	w, err := NewWatcher(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.Book().Len() != 0 || w.Err() != nil || w.Path() != path {
		t.Fatal("a missing file is not an empty book")
	}
	if changed, err := w.ReloadIfChanged(); changed || err != nil {
		t.Fatalf("still missing: changed %v, %v", changed, err)
	}

	write(t, path, "[hosts.home]\nkey = \"KEY1\"\n", 3*time.Second)
	if changed, err := w.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("new file: changed %v, %v", changed, err)
	}
	if _, ok := w.Book().Lookup("home"); !ok {
		t.Fatal("home not picked up")
	}
	if changed, err := w.ReloadIfChanged(); changed || err != nil {
		t.Fatalf("unchanged file: changed %v, %v", changed, err)
	}

	// A bad edit keeps the last good book and reports the error once.
	write(t, path, "[hosts.home]\nkey = \"KEY1\"\nshortcut = 1\n", 2*time.Second)
	changed, err := w.ReloadIfChanged()
	if changed || err == nil || !strings.Contains(err.Error(), path+":3: hosts.home.shortcut: want true or false") {
		t.Fatalf("bad edit: changed %v, %v", changed, err)
	}
	if _, ok := w.Book().Lookup("home"); !ok {
		t.Fatal("bad edit dropped the last good book")
	}
	if w.Err() == nil {
		t.Fatal("Err() forgot the bad edit")
	}
	if changed, err := w.ReloadIfChanged(); changed || err != nil {
		t.Fatalf("the same bad file again: changed %v, %v", changed, err)
	}

	// A good edit is picked up.
	write(t, path, "[hosts.web]\nkey = \"KEY2\"\nshortcut = true\n", time.Second)
	if changed, err := w.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("good edit: changed %v, %v", changed, err)
	}
	if e, ok := w.Book().Lookup("web"); !ok || !e.Shortcut {
		t.Fatalf("web = %+v, %v", e, ok)
	}
	if _, ok := w.Book().Lookup("home"); ok || w.Err() != nil {
		t.Fatal("old entry or old error kept")
	}

	// Save renames a new file over the old one: seen even with the same size
	// and modification time.
	b, _ := New(testEntry(t, "web", 1))
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("Save: changed %v, %v", changed, err)
	}
	fi1, _ := os.Stat(path)
	b, _ = New(testEntry(t, "web", 3))
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi1.ModTime(), fi1.ModTime()); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(path); fi2.Size() != fi1.Size() {
		t.Fatalf("sizes %d, %d: the test needs equal sizes", fi1.Size(), fi2.Size())
	}
	if changed, err := w.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("second Save: changed %v, %v", changed, err)
	}
	if e, _ := w.Book().Lookup("web"); e.Key != testKey(t, 3) {
		t.Fatal("Save not picked up")
	}

	// A removed file is an empty book.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.ReloadIfChanged(); !changed || err != nil || w.Book().Len() != 0 {
		t.Fatalf("removed: changed %v, %v, %d entries", changed, err, w.Book().Len())
	}
}

func TestNewWatcherBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.toml")
	write(t, path, "[hosts.home]\n", 0)
	if _, err := NewWatcher(path); err == nil || err.Error() != path+`:1: hosts.home: no key: every host needs key = "i3pk1…", as "i3net id" prints it on that host` {
		t.Fatalf("NewWatcher: %v", err)
	}
}

// TestWatcherConcurrent reads the book from several goroutines while the file
// is saved and reloaded (run with -race).
func TestWatcherConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.toml")
	w, err := NewWatcher(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if e, ok := w.Book().Lookup("home"); ok && e.Name != "home" {
					t.Error("torn entry")
					return
				}
				w.ReloadIfChanged()
			}
		}()
	}
	for i := range 20 {
		b, _ := New(testEntry(t, "home", byte(i)))
		if err := b.Save(path); err != nil {
			t.Error(err)
			break
		}
		w.ReloadIfChanged()
	}
	close(done)
	wg.Wait()
	if e, ok := w.Book().Lookup("home"); !ok || e.Key != testKey(t, 19) {
		t.Fatalf("last save not loaded: %+v", e)
	}
}
