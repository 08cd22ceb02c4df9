package dns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDetectMode(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  Mode
	}{
		{"plain file", func(t *testing.T, p string) { write(t, p, "nameserver 192.168.1.1\n") }, ModeResolvConf},
		{"stub link", func(t *testing.T, p string) { os.Symlink(ResolvedStub, p) }, ModeResolved},
		{"relative stub link", func(t *testing.T, p string) {
			// from <tmp>/etc/resolv.conf up to / and down: the Debian link is
			// ../run/systemd/resolve/stub-resolv.conf, resolved from /etc.
			rel, _ := filepath.Rel(filepath.Dir(p), ResolvedStub)
			os.Symlink(rel, p)
		}, ModeResolved},
		{"uplink link", func(t *testing.T, p string) { os.Symlink(ResolvedUplink, p) }, ModeResolved},
		{"link to a link to the stub", func(t *testing.T, p string) {
			mid := filepath.Join(filepath.Dir(p), "mid")
			os.Symlink(ResolvedStub, mid)
			os.Symlink(mid, p)
		}, ModeResolved},
		{"copied stub file", func(t *testing.T, p string) {
			write(t, p, "# managed by resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n")
		}, ModeResolved},
		{"stub and another server", func(t *testing.T, p string) {
			write(t, p, "nameserver 127.0.0.53\nnameserver 192.0.2.1\n")
		}, ModeResolvConf},
		{"link to another file", func(t *testing.T, p string) {
			other := filepath.Join(filepath.Dir(p), "other.conf")
			write(t, other, "nameserver 192.0.2.1\n")
			os.Symlink(other, p)
		}, ModeResolvConf},
		{"missing", func(t *testing.T, p string) {}, ModeResolvConf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "etc")
			os.Mkdir(dir, 0o755)
			path := filepath.Join(dir, "resolv.conf")
			tc.setup(t, path)
			got, why, err := DetectMode(path)
			if err != nil || got != tc.want {
				t.Fatalf("DetectMode = %v (%s), %v; want %v", got, why, err, tc.want)
			}
			up := func() (bool, error) { return true, nil }
			down := func() (bool, error) { return false, nil }
			m, _, err := ChooseMode(path, up)
			if err != nil || m != tc.want {
				t.Fatalf("ChooseMode with resolved running = %v, %v; want %v", m, err, tc.want)
			}
			m, _, err = ChooseMode(path, down)
			if tc.want == ModeResolved {
				if err == nil || !strings.Contains(err.Error(), "start systemd-resolved, or choose the resolvconf DNS mode") {
					t.Fatalf("ChooseMode with resolved stopped = %v, %v; want an error saying what to do", m, err)
				}
			} else if err != nil || m != ModeResolvConf {
				t.Fatalf("ChooseMode = %v, %v", m, err)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModeAuto, ModeResolvConf, ModeResolved, ModeOff} {
		if got, err := ParseMode(m.String()); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("systemd"); err == nil || !strings.Contains(err.Error(), "choose auto, resolvconf, resolved or off") {
		t.Errorf("ParseMode(systemd) = %v, want the choices named", err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
