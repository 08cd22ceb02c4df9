package cli

import (
	"archive/zip"
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeGo is a go command that only tells its version.
func fakeGo(version string) string {
	return "#!/bin/sh\n[ \"$1 $2\" = \"env GOVERSION\" ] && echo " + version + "\n"
}

// toolchainZip is a module zip of golang.org/toolchain holding a fake go.
func toolchainZip(t *testing.T, version string) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	h := &zip.FileHeader{Name: "golang.org/toolchain@v0.0.1-" + version + ".linux-amd64/bin/go", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := z.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(fakeGo(version)))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// scripts/install-go installs go.mod's toolchain from the module proxy when
// the Go it finds is too old (Debian's 1.19), keeps the old one beside it,
// and prints the bin directory to put on PATH.
func TestInstallGoFetchesTheToolchain(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("skipping: the fake toolchain is linux/amd64")
	}
	for _, tool := range []string{"bash", "curl", "unzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not installed (scripts/deps installs it)", tool)
		}
	}
	repo, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	const want = "go1.26.8" // go.mod's toolchain line
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path)
		if r.URL.Path != "/golang.org/toolchain/@v/v0.0.1-"+want+".linux-amd64.zip" {
			http.NotFound(w, r)
			return
		}
		w.Write(toolchainZip(t, want))
	}))
	defer srv.Close()

	root := filepath.Join(t.TempDir(), "go")
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "go"), []byte(fakeGo("go1.19.8")), 0o755)
	cmd := exec.Command("bash", filepath.Join(repo, "scripts", "install-go"))
	cmd.Env = append(os.Environ(), "I3NET_GO_ROOT="+root, "GOPROXY="+srv.URL+",direct", "PATH=/nonexistent:/usr/bin:/bin")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("install-go: %v\n%s", err, stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != filepath.Join(root, "bin") {
		t.Fatalf("install-go printed %q, want %q\nstderr: %s", got, filepath.Join(root, "bin"), stderr.String())
	}
	if v, err := exec.Command(filepath.Join(root, "bin", "go"), "env", "GOVERSION").Output(); err != nil || strings.TrimSpace(string(v)) != want {
		t.Fatalf("the installed go says %q, %v", v, err)
	}
	old, _ := filepath.Glob(root + ".old-*")
	if len(old) != 1 || !strings.Contains(stderr.String(), "is go1.19.8; i3net needs") {
		t.Fatalf("old toolchains kept: %v; stderr:\n%s", old, stderr.String())
	}
	// Once installed, it is found and nothing is fetched again.
	n := len(asked)
	cmd = exec.Command("bash", filepath.Join(repo, "scripts", "install-go"))
	cmd.Env = append(os.Environ(), "I3NET_GO_ROOT="+root, "GOPROXY="+srv.URL, "PATH=/nonexistent:/usr/bin:/bin")
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != filepath.Join(root, "bin") || len(asked) != n {
		t.Fatalf("second run: %q, %v, fetched %d more", out, err, len(asked)-n)
	}
}
