package sniff

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type sniffFunc func(*bufio.Reader, int) (string, error)

// sniffBytes runs fn on a reader over data (delivered as r makes it) and checks
// that every byte of data is still there to read afterwards.
func sniffBytes(t testing.TB, fn sniffFunc, r io.Reader, data []byte, size, max int) (string, error) {
	t.Helper()
	br := bufio.NewReaderSize(r, size)
	name, err := fn(br, max)
	rest, readErr := io.ReadAll(br)
	if readErr != nil {
		t.Fatalf("reading after sniffing: %v", readErr)
	}
	if !bytes.Equal(rest, data) {
		t.Fatalf("sniffing consumed bytes: %d of %d left", len(rest), len(data))
	}
	if err == nil && !ValidName(name) {
		t.Fatalf("returned %q, not a DNS name", name)
	}
	return name, err
}

// checkResult fails t unless (name, err) is (want, nil), or err is wantErr.
func checkResult(t *testing.T, name string, err error, want string, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("got (%q, %v), want error %v", name, err, wantErr)
		}
		return
	}
	if err != nil || name != want {
		t.Fatalf("got (%q, %v), want %q", name, err, want)
	}
}

func TestValidName(t *testing.T) {
	good := []string{"a", "home.i3.example.net", "x-1.y", strings.Repeat("a", 63), strings.Repeat("a.", 126) + "a"}
	bad := []string{"", ".", "a.", ".a", "a..b", "A", "a_b", "a b", "a:80", "[::1]", strings.Repeat("a", 64),
		strings.Repeat("a.", 126) + "ab", "é.example"}
	for _, name := range good {
		if !ValidName(name) {
			t.Errorf("ValidName(%q) = false", name)
		}
	}
	for _, name := range bad {
		if ValidName(name) {
			t.Errorf("ValidName(%q) = true", name)
		}
	}
}

func TestHostName(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"Home.I3.Example.NET.", "home.i3.example.net", nil},
		{"", "", ErrNoName},
		{"192.0.2.1", "", ErrNoName},
		{"::1", "", ErrNoName},
		{"a_b.example", "", ErrBadName},
		{"a..b", "", ErrBadName},
		{"x\x00y", "", ErrBadName},
	}
	for _, tt := range tests {
		name, err := hostName(tt.in)
		checkResult(t, name, err, tt.want, tt.err)
	}
}

func TestLimit(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader(""), 100)
	for _, tt := range []struct{ max, want int }{{0, 100}, {-1, 100}, {50, 50}, {100, 100}, {1000, 100}} {
		if got := limit(br, tt.max); got != tt.want {
			t.Errorf("limit(size 100, %d) = %d, want %d", tt.max, got, tt.want)
		}
	}
}

// TestPeekStopsAtEOF: a stream that ends early is an error, whatever the
// reader hands out at a time.
func TestPeekStopsAtEOF(t *testing.T) {
	for _, fn := range []sniffFunc{HTTPHost, TLSServerName} {
		for _, data := range [][]byte{nil, []byte("GET / HTTP/1.1\r\nHost: a"), {22, 3, 1, 0, 50, 1, 0}} {
			_, err := sniffBytes(t, fn, iotest.OneByteReader(bytes.NewReader(data)), data, 4096, 4096)
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrNotHTTP) && !errors.Is(err, ErrNotTLS) {
				t.Errorf("%q: got %v, want io.ErrUnexpectedEOF or a not-this-protocol error", data, err)
			}
		}
	}
}

// TestReaderErrorReturned: the reader's error (a timeout) comes back wrapped.
func TestReaderErrorReturned(t *testing.T) {
	data := []byte("GET / HTTP/1.1\r\n")
	br := bufio.NewReaderSize(iotest.TimeoutReader(bytes.NewReader(data)), 4096)
	if _, err := HTTPHost(br, 4096); !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("got %v, want the reader's timeout", err)
	}
	if got, _ := br.Peek(br.Buffered()); !bytes.Equal(got, data) {
		t.Fatalf("buffered %q after the timeout, want %q", got, data)
	}
}
