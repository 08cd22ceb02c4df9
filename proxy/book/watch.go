package book

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
)

// Watcher holds the address book of one file and reloads it when the file
// changes. The proxy calls Book on every lookup and ReloadIfChanged when a name
// is unknown and every few seconds; both are cheap. Safe for concurrent use.
type Watcher struct {
	path string
	cur  atomic.Pointer[Book]

	mu      sync.Mutex // serialises reloads; guards the fields below
	last    fs.FileInfo
	missing bool  // the file did not exist at the last look
	err     error // of the last load; nil if it succeeded
}

// NewWatcher loads the book at path (a missing file is an empty book) and
// returns a Watcher of it. It fails if the file cannot be loaded or its
// directory does not exist (ErrNoDir), so that a proxy does not start with a
// book it cannot read or a mistyped path.
func NewWatcher(path string) (*Watcher, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := checkDir(path); err != nil {
			return nil, err
		}
	}
	w := &Watcher{path: path}
	w.cur.Store(&Book{})
	if _, err := w.ReloadIfChanged(); err != nil {
		return nil, err
	}
	return w, nil
}

// Path returns the file w watches.
func (w *Watcher) Path() string { return w.path }

// Book returns the last book loaded without error.
func (w *Watcher) Book() *Book { return w.cur.Load() }

// Err returns the error of the last load, or nil if it succeeded: the file has
// a problem, and Book is the last good version.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// ReloadIfChanged reloads the file if its identity, size or modification time
// changed since the last look (an atomic Save renames a new file over the old
// one, so every Save is seen). If the new text is bad it keeps the last good
// book and returns the error, once per change of the file (an error reading
// it, rather than in its text, is returned on every call). A file that
// disappears is an empty book. changed reports whether Book changed. An edit
// in place that keeps the size within one tick of the file system's clock is
// missed; editors and Save write a new file and rename it.
func (w *Watcher) ReloadIfChanged() (changed bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fi, err := os.Stat(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		if w.missing {
			return false, nil
		}
		w.missing, w.last, w.err = true, nil, nil
		w.cur.Store(&Book{})
		return true, nil
	}
	if err != nil {
		return false, w.fail(nil, err)
	}
	if w.last != nil && sameFile(w.last, fi) {
		return false, nil
	}
	f, err := os.Open(w.path)
	if err != nil { // e.g. permissions, which a chmod fixes without a new mtime: try again next time
		return false, w.fail(nil, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil { // of the file we read, whatever is renamed over it meanwhile
		return false, w.fail(nil, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return false, w.fail(nil, err)
	}
	b, err := Parse(w.path, data)
	if err != nil {
		return false, w.fail(fi, err)
	}
	w.missing, w.last, w.err = false, fi, nil
	w.cur.Store(b)
	return true, nil
}

// fail records a failed load of the version of the file fi describes, which
// the next call skips; with fi nil the next call tries again.
func (w *Watcher) fail(fi fs.FileInfo, err error) error {
	w.missing, w.last, w.err = false, fi, err
	return err
}

// sameFile reports whether a and b describe the same version of a file.
func sameFile(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
