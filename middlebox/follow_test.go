package middlebox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// collect polls fl once and returns the lines it handed out.
func collect(t *testing.T, fl *follower) []string {
	t.Helper()
	var got []string
	if err := fl.poll(func(l []byte) { got = append(got, string(l)) }); err != nil {
		t.Fatal(err)
	}
	return got
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func want(t *testing.T, step string, got []string, w ...string) {
	t.Helper()
	if !slices.Equal(got, w) {
		t.Fatalf("%s: lines %q, want %q", step, got, w)
	}
}

// The follower skips what the file held at start, hands out whole lines
// only, and reads a truncated or replaced file again from its start.
func TestFollower(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	appendFile(t, path, "old 1\nold 2\nhalf of old")
	fl := newFollower(path)
	want(t, "at start", collect(t, fl))
	appendFile(t, path, " line\nnew 1\nnew")
	want(t, "appended", collect(t, fl), "new 1")
	appendFile(t, path, " 2\n")
	want(t, "line ended", collect(t, fl), "new 2")

	if err := os.Truncate(path, 0); err != nil { // copytruncate
		t.Fatal(err)
	}
	want(t, "truncated, empty", collect(t, fl))
	appendFile(t, path, "after truncation\n")
	want(t, "after truncation", collect(t, fl), "after truncation")

	appendFile(t, path, "last of old file\n")
	if err := os.Rename(path, path+".1"); err != nil { // rotation
		t.Fatal(err)
	}
	want(t, "renamed away", collect(t, fl), "last of old file")
	appendFile(t, path, "first of new file\n")
	want(t, "new file", collect(t, fl), "first of new file")
	if fl.reopened != 2 {
		t.Fatalf("reopened %d, want 2 (a truncation, a rotation)", fl.reopened)
	}
	fl.close()
}

// A file created after the start is read from its first line; a line longer
// than maxEveLine is skipped and counted, and the next one read.
func TestFollowerLateFileAndLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	fl := newFollower(path)
	want(t, "no file", collect(t, fl))
	appendFile(t, path, "first\n"+strings.Repeat("x", maxEveLine/2))
	want(t, "created", collect(t, fl), "first")
	appendFile(t, path, strings.Repeat("y", maxEveLine)+"\nafter\n")
	want(t, "long line", collect(t, fl), "after")
	if fl.skipped != 1 {
		t.Fatalf("skipped %d, want 1", fl.skipped)
	}
	fl.close()
}

// One poll reads at most maxEveRead bytes; the rest comes at the next.
func TestFollowerBoundedRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	fl := newFollower(path)
	want(t, "no file", collect(t, fl))
	line := strings.Repeat("z", 1023) + "\n"
	appendFile(t, path, strings.Repeat(line, maxEveRead/len(line)+100))
	first := len(collect(t, fl))
	if first > maxEveRead/len(line) || first == 0 {
		t.Fatalf("first poll gave %d lines, want at most %d", first, maxEveRead/len(line))
	}
	if rest := len(collect(t, fl)); first+rest != maxEveRead/len(line)+100 {
		t.Fatalf("the polls gave %d+%d lines, want %d", first, rest, maxEveRead/len(line)+100)
	}
	fl.close()
}
