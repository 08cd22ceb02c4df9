package proxy

import (
	"os"
	"testing"
)

// TestFileReadable: the probe the outbound path uses to gather single reads
// says whether a read would find something, without reading or waiting.
func TestFileReadable(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	readable := fileReadable(r)
	if readable() {
		t.Fatal("an empty pipe is readable")
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if !readable() || !readable() {
		t.Fatal("a pipe holding a byte is not readable (or the probe consumed it)")
	}
	if _, err := r.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if readable() {
		t.Fatal("readable again once drained")
	}
	if fileReadable(nil)() {
		t.Fatal("no file, yet readable")
	}
}
