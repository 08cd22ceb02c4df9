package proxy

import (
	"os"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
)

// TestFileReadable: the probe the outbound path uses to gather single reads
// says whether a read would find something, without reading or waiting.
func TestFileReadable(t *testing.T) {
	r, w := pipe(t)
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

// TestFileTryRead: the read the raw outbound path gathers with
// (devReader.try) takes what is waiting, one packet (here: one write) at a
// time, and reports none waiting at once instead of blocking.
func TestFileTryRead(t *testing.T) {
	r, w := pipe(t)
	tryRead := newDevReader(r).try
	buf := make([]byte, 16)
	if n, ok := tryRead(buf); ok {
		t.Fatalf("an empty pipe gave %d bytes", n)
	}
	if _, err := w.Write([]byte("packet")); err != nil {
		t.Fatal(err)
	}
	if n, ok := tryRead(buf); !ok || string(buf[:n]) != "packet" {
		t.Fatalf("read %q, %v; want the packet", buf[:n], ok)
	}
	if _, ok := tryRead(buf); ok {
		t.Fatal("a drained pipe gave more")
	}
	w.Close()
	if _, ok := tryRead(buf); ok {
		t.Fatal("a closed pipe gave a packet")
	}
}

// TestFileWaitRead: the waiting read of the raw outbound path
// (devReader.wait) returns each packet (here: each write) as it comes,
// waiting in between, and once the file is closed an error the outbound path
// takes for the device's end.
func TestFileWaitRead(t *testing.T) {
	r, w := pipe(t)
	waitRead := newDevReader(r).wait
	type result struct {
		b   string
		err error
	}
	results := make(chan result)
	readOne := func() {
		buf := make([]byte, 16)
		n, err := waitRead(buf)
		results <- result{string(buf[:n]), err}
	}
	for _, p := range []string{"first", "second"} {
		go readOne()
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-results:
			if got.err != nil || got.b != p {
				t.Fatalf("read %q, %v; want %q", got.b, got.err, p)
			}
		case <-time.After(testwait.Timeout):
			t.Fatalf("no read of %q", p)
		}
	}
	go readOne()
	r.Close()
	select {
	case got := <-results:
		if !tunClosed(got.err) {
			t.Fatalf("read of a closed file: %q, %v; want an error tunClosed takes", got.b, got.err)
		}
	case <-time.After(testwait.Timeout):
		t.Fatal("a read waiting on a file that was closed did not return")
	}
}

// pipe returns a pipe's two ends, closed when the test ends.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}
