package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/i3net/i3net/internal/netlab"
)

// The userspace mode's lab (issue 13): the topology of topology_test.go with
// laptop's proxy run as the unprivileged user nobody, in userspace mode, its
// front door (SOCKS5 and HTTP proxy) on laptopFront, exposing laptopWebPort
// and laptopSSHPort of its loopback to peers; home's proxy runs as root with
// a tun device. A third host, ci, runs a proxy as nobody without
// --userspace but with --expose: it must pick userspace mode by itself.

// nobody is the unprivileged user the userspace side runs as.
const nobody = 65534

const (
	// laptopFront is laptop's front door (not the default, which ci uses).
	laptopFront = "127.0.0.1:1081"
	// ciFront is the default front door, ci's.
	ciFront = "127.0.0.1:1080"
	// laptopWebPort and laptopSSHPort are the loopback ports laptop
	// exposes; laptopClosedPort is one it does not.
	laptopWebPort    = 8000
	laptopSSHPort    = 2222
	laptopClosedPort = 8001
	// webDirectPort is a web server on web, the internet host, that the
	// front door reaches directly.
	webDirectPort = 8081
)

// usWorld is the userspace lab.
type usWorld struct {
	*world
	user *unprivileged
	ci   *node // its proxy started by newUserspaceWorld
}

// newUserspaceWorld builds the lab and returns once the three proxies
// answer "i3net status".
func newUserspaceWorld(t *testing.T) *usWorld {
	t.Helper()
	u := newUnprivileged(t)
	uw := &usWorld{user: u}
	expose := fmt.Sprintf("%d,%d", laptopWebPort, laptopSSHPort)
	uw.world = newWorld(t, topoOptions{
		laptopProxyArgs: []string{"--userspace", "--front", laptopFront, "--expose", expose},
		beforeProxies: func(w *world) {
			// laptop's state directory becomes nobody's.
			dir := filepath.Join(u.home, "laptop-state")
			if err := os.Rename(w.laptop.dir, dir); err != nil {
				t.Fatal(err)
			}
			w.laptop.dir = dir
			u.chownTree(t, dir)
			w.laptop.runAs = u.prefix()
			uw.ci = newCINode(t, w, u)
		},
	})
	uw.ci.startProxy(t)
	uw.ci.waitProxy(t)
	return uw
}

// newCINode makes host ci, its identity (in a state directory nobody owns)
// and the address books of ci and home naming each other.
func newCINode(t *testing.T, w *world, u *unprivileged) *node {
	t.Helper()
	n := &node{Host: w.lab.Host("ci"), w: w, runAs: u.prefix(), proxyArgs: []string{"--expose", fmt.Sprint(laptopWebPort)}}
	n.resolvConf = fmt.Sprintf("nameserver %s\nsearch %s\n", w.web.Addr4(), searchDomain)
	if err := n.SetResolvConf(n.resolvConf); err != nil {
		t.Fatal(err)
	}
	n.dir = filepath.Join(u.home, "ci-state")
	n.makeIdentity()
	n.bookAdd("home", w.home.key)
	w.home.bookAdd("ci", n.key)
	u.chownTree(t, n.dir)
	return n
}

// unprivileged is the user nobody's side of a test: a home directory it
// owns, and commands run as it with no capability.
type unprivileged struct {
	home string
}

// newUnprivileged makes nobody's home directory (removed when t ends) and
// lets nobody run the i3net binary TestMain built.
func newUnprivileged(t *testing.T) *unprivileged {
	t.Helper()
	needProgram(t, "setpriv")
	dir, err := os.MkdirTemp("", "i3net-e2e-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	u := &unprivileged{home: dir}
	u.chownTree(t, dir)
	// TestMain's directory is root's alone (MkdirTemp): nobody must enter it.
	if err := os.Chmod(filepath.Dir(i3netBin), 0o755); err != nil {
		t.Fatal(err)
	}
	return u
}

// prefix returns the command line that runs a program as nobody: no
// supplementary group, no inheritable capability, HOME its home directory,
// with the variables env (NAME=value) set.
func (u *unprivileged) prefix(env ...string) []string {
	id := strconv.Itoa(nobody)
	p := []string{"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups", "--inh-caps=-all",
		"env", "HOME=" + u.home, "SHELL=/bin/sh"}
	return append(p, env...)
}

// run runs name with args as nobody in h, with env set, as run does.
func (u *unprivileged) run(t *testing.T, ctx context.Context, h *netlab.Host, env []string, name string, args ...string) ([]byte, error) {
	t.Helper()
	c := append(u.prefix(env...), name)
	return run(t, ctx, h, c[0], append(c[1:], args...)...)
}

// mustRun is run failing the test on error.
func (u *unprivileged) mustRun(t *testing.T, ctx context.Context, h *netlab.Host, env []string, name string, args ...string) []byte {
	t.Helper()
	out, err := u.run(t, ctx, h, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// start starts a server as nobody in h until t ends.
func (u *unprivileged) start(t *testing.T, h *netlab.Host, name string, args ...string) *netlab.Proc {
	t.Helper()
	c := append(u.prefix(), name)
	return startDaemon(t, h, c[0], append(c[1:], args...)...)
}

// chownTree gives path and everything below it to nobody.
func (u *unprivileged) chownTree(t *testing.T, path string) {
	t.Helper()
	err := filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// makeBareRepo makes dir/repo.git, a bare git repository whose one commit
// holds README with content, ready to be served by a plain file server
// ("dumb" HTTP: git update-server-info).
func makeBareRepo(t *testing.T, dir string, content []byte) {
	t.Helper()
	needProgram(t, "git")
	work := filepath.Join(t.TempDir(), "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "README"), content, 0o644)
	bare := filepath.Join(dir, "repo.git")
	id := []string{"-c", "user.name=e2e", "-c", "user.email=e2e@example.org", "-c", "init.defaultBranch=main"}
	for _, step := range [][]string{
		{"init", "-q", work},
		{"-C", work, "add", "README"},
		{"-C", work, "commit", "-q", "-m", "e2e"},
		{"clone", "-q", "--bare", work, bare},
		{"-C", bare, "update-server-info"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		out, err := exec.CommandContext(ctx, "git", append(id, step...)...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("git %s: %v: %s", strings.Join(step, " "), err, out)
		}
	}
}

// startUserSSHD runs sshd as nobody on laptop's loopback, port
// laptopSSHPort, and returns its host's public key ("ssh-ed25519 AAAA…").
// Nobody cannot log in (its account is locked: sshd refuses it before any
// key), so what a peer can show is the SSH exchange itself (ssh-keyscan).
func startUserSSHD(t *testing.T, h *netlab.Host, u *unprivileged) string {
	t.Helper()
	needProgram(t, "ssh-keygen", "ssh-keyscan", "/usr/sbin/sshd")
	dir := filepath.Join(u.home, "sshd")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	hostKey := filepath.Join(dir, "host_key")
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`# e2e: sshd run by nobody
Port %[2]d
ListenAddress 127.0.0.1
HostKey %[1]s/host_key
PidFile %[1]s/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
LogLevel VERBOSE
`, dir, laptopSSHPort)
	writeFile(t, filepath.Join(dir, "sshd_config"), []byte(conf), 0o600)
	u.chownTree(t, dir)
	p := u.start(t, h, "/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	if err := netlab.WaitListen(ctx, h, "tcp", laptopSSHPort); err != nil {
		t.Fatalf("sshd as nobody: %v\n%s", err, p.Output())
	}
	f := strings.Fields(string(pub))
	if len(f) < 2 {
		t.Fatalf("ssh-keygen wrote %q", pub)
	}
	return f[0] + " " + f[1]
}
