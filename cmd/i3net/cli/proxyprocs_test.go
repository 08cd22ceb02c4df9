package cli

import (
	"strings"
	"testing"
)

func TestAutoProcs(t *testing.T) {
	for _, tt := range []struct{ cpus, overlays, want int }{
		{1, 1, 1}, {2, 1, 1}, {3, 1, 1}, {4, 1, 2}, {64, 1, 2},
		{2, 3, 2}, {8, 3, 6}, {4, 8, 4}, {1, 0, 1},
	} {
		if got := autoProcs(tt.cpus, tt.overlays); got != tt.want {
			t.Errorf("autoProcs(%d cpus, %d overlays) = %d, want %d", tt.cpus, tt.overlays, got, tt.want)
		}
	}
}

// procs and --procs: the flag wins over the file, either over GOMAXPROCS
// from the environment, which wins over the default; 0 is the default;
// userspace mode keeps Go's; a bad value is an error naming what to give.
func TestProxyProcs(t *testing.T) {
	f, _, err := loadProxyFile(writeProxyFile(t, "procs = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	flagged := func(v string) proxyArgs {
		var a proxyArgs
		if err := a.procs.Set(v); err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tt := range []struct {
		name      string
		a         proxyArgs
		f         proxyFile
		userspace bool
		env       bool
		want      int
		from      string
	}{
		{"default", proxyArgs{}, proxyFile{}, false, false, 1, "default"},
		{"file", proxyArgs{}, f, false, true, 3, "--procs"},
		{"flag over file", flagged("2"), f, false, false, 2, "--procs"},
		{"0 is the default", flagged("0"), proxyFile{}, false, false, 1, "default"},
		{"environment", proxyArgs{}, proxyFile{}, false, true, 2, "GOMAXPROCS"},
		{"userspace", proxyArgs{}, proxyFile{}, true, false, 2, "Go's, in userspace mode"},
	} {
		a := tt.a
		a.fileProcs(tt.f)
		n, from := a.procsFor(2, 1, tt.userspace, tt.env)
		if n != tt.want || from != tt.from {
			t.Errorf("%s: %d threads from %s, want %d from %s", tt.name, n, from, tt.want, tt.from)
		}
	}
	var a proxyArgs
	for _, bad := range []string{"-1", "two", ""} {
		if err := a.procs.Set(bad); err == nil || !strings.Contains(err.Error(), "want a number of threads") {
			t.Errorf("--procs %q: %v", bad, err)
		}
	}
	path := writeProxyFile(t, "\nprocs = -2\n")
	if _, _, err := loadProxyFile(path); err == nil || !strings.Contains(err.Error(), path+":2: procs = -2: want a number of threads") {
		t.Errorf("a negative procs: %v", err)
	}
}
