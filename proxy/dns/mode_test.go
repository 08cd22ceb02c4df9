package dns

import (
	"errors"
	"os"
	"path/filepath"
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
			m, err := ChooseMode(path, false)
			if tc.want == ModeResolved {
				if !errors.Is(err, ErrResolvedUnsupported) || m != ModeResolved {
					t.Fatalf("ChooseMode = %v, %v; want ErrResolvedUnsupported", m, err)
				}
				if m, err := ChooseMode(path, true); err != nil || m != ModeResolvConf {
					t.Fatalf("ChooseMode with fallback = %v, %v", m, err)
				}
			} else if err != nil || m != ModeResolvConf {
				t.Fatalf("ChooseMode = %v, %v", m, err)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
