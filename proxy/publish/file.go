package publish

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/i3net/i3net/internal/atomicfile"
	"github.com/i3net/i3net/internal/tomlconf"
)

// FileName is the services file's name in a state directory.
const FileName = "publish.toml"

// file is the services file's layout.
type file struct {
	Service []Service `toml:"service"`
}

// Load reads the services file at path; a missing file publishes nothing.
// Every error names the file, the line and the key, and says what to write.
func Load(path string) ([]Service, error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	var f file
	meta, err := tomlconf.Decode("publish", path, text, &f)
	if err != nil {
		return nil, err
	}
	return f.Service, check(meta, f.Service)
}

// check validates the services of a file, and that none repeats.
func check(meta tomlconf.Meta, s []Service) error {
	seen := make(map[Service]int)
	counts := make(map[string]int)
	for i, x := range s {
		key := []string{"service", strconv.Itoa(i)}
		if err := x.Check(); err != nil {
			return meta.Errorf(key, "%v", err)
		}
		k := Service{Ingress: x.Ingress, Name: x.Name, Port: x.Port}
		if j, dup := seen[k]; dup {
			return meta.Errorf(key, "%s port %d to %s is published by service[%d] already: remove one", x.Name, x.Port, x.Ingress, j)
		}
		seen[k] = i
		if counts[x.Ingress]++; counts[x.Ingress] > MaxServices {
			return meta.Errorf(key, "more than %d services published to %s", MaxServices, x.Ingress)
		}
	}
	return nil
}

// Save writes s to path atomically, sorted.
func Save(path string, s []Service) error {
	s = append([]Service(nil), s...)
	Sort(s)
	var b bytes.Buffer
	b.WriteString("# Services this host publishes through ingresses (\"i3net publish\").\n")
	if err := toml.NewEncoder(&b).Encode(file{Service: s}); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return atomicfile.Write(path, b.Bytes(), 0o644, atomicfile.Options{MkdirPerm: 0o755, FollowSymlink: true})
}

// Watcher holds the services of one file and reloads them when it changes.
type Watcher struct {
	path string

	mu     sync.Mutex
	loaded bool
	last   stamp
	cur    []Service
}

// stamp is what tells a changed file: an atomic Save renames a new file over
// the old one (another inode), an edit changes the size or the time.
type stamp struct {
	exists bool
	ino    uint64
	size   int64
	mtime  int64
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stamp{}, nil
	}
	if err != nil {
		return stamp{}, fmt.Errorf("publish: %w", err)
	}
	st := stamp{exists: true, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}

// NewWatcher loads path (a missing file publishes nothing) and watches it.
func NewWatcher(path string) (*Watcher, error) {
	w := &Watcher{path: path}
	if _, err := w.ReloadIfChanged(); err != nil {
		return nil, err
	}
	return w, nil
}

// Path returns the file w watches.
func (w *Watcher) Path() string { return w.path }

// Services returns the last services loaded without error.
func (w *Watcher) Services() []Service {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// ReloadIfChanged reloads the file if it changed since the last look and
// reports whether it did. A bad file keeps the last good services; its error
// is returned once per change.
func (w *Watcher) ReloadIfChanged() (bool, error) {
	st, err := stampOf(w.path)
	if err != nil {
		return false, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.loaded && st == w.last {
		return false, nil
	}
	w.loaded, w.last = true, st
	s, err := Load(w.path)
	if err != nil {
		return false, err
	}
	w.cur = s
	return true, nil
}
