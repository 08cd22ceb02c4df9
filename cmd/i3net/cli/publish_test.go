package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/proxy/publish"
)

func TestPublishCommands(t *testing.T) {
	dir := testState(t)
	path := filepath.Join(dir, publish.FileName)
	steps := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{args: []string{"publish", "list"}, stdout: "nothing published"},
		{args: []string{"publish", "add", "ingress", "home", "443"}, code: 1, stderr: "ingress is not in the address book"},
		{args: []string{"book", "add", "ingress", bookTestKey(t, 7)}, stdout: "added ingress"},
		{args: []string{"publish", "add", "ingress", "home", "443"}, stdout: "published home port 443 through ingress"},
		{args: []string{"publish", "add", "ingress", "Home.", "80", "--proxy-protocol"}, stdout: "published home port 80"},
		{args: []string{"publish", "add", "ingress", "home", "22"}, stdout: "published home port 22"},
		{args: []string{"publish", "list"}, stdout: "ingress  home  80    true"},
		{args: []string{"publish", "withdraw", "ingress", "home", "22"}, stdout: "withdrawn: home port 22 from ingress"},
		{args: []string{"publish", "withdraw", "ingress", "home", "22"}, code: 1, stderr: "home port 22 is not published through ingress"},
		{args: []string{"publish", "add", "ingress", "home", "0"}, code: 2, stderr: `port "0": give a TCP port, 1-65535`},
		{args: []string{"publish", "add", "ingress", "web_1", "80"}, code: 2, stderr: `label "web_1"`},
		{args: []string{"publish", "add", "ingress", "home"}, code: 2, stderr: "publish add wants INGRESS NAME PORT"},
		{args: []string{"publish", "frob"}, code: 2, stderr: `unknown subcommand "frob"`},
		{args: []string{"publish"}, code: 2, stderr: "missing subcommand"},
	}
	for _, s := range steps {
		code, out, errOut := runCmd(t, s.args...)
		name := strings.Join(s.args, " ")
		if code != s.code || !strings.Contains(out, s.stdout) || !strings.Contains(errOut, s.stderr) {
			t.Errorf("%s: exit %d (want %d)\nstdout: %s(want %q)\nstderr: %s(want %q)", name, code, s.code, out, s.stdout, errOut, s.stderr)
		}
	}
	s, err := publish.Load(path)
	if err != nil || len(s) != 2 || s[0].Port != 80 || !s[0].ProxyProtocol || s[1].Port != 443 {
		t.Fatalf("the file holds %+v, %v; want home 80 (PROXY protocol) and 443", s, err)
	}
}

func TestIngressCommandErrors(t *testing.T) {
	dir := testState(t)
	if code, _, errOut := runCmd(t, "ingress"); code != 2 || !strings.Contains(errOut, "no configuration file: give --config FILE") {
		t.Fatalf("no --config: exit %d, %s", code, errOut)
	}
	conf := filepath.Join(dir, "ingress.toml")
	os.WriteFile(conf, []byte("zone = \"i3.example.net\"\nwaypoint = [\"198.51.100.10\"]\n"), 0o644)
	code, _, errOut := runCmd(t, "ingress", "--config", conf)
	if code != 1 || !strings.Contains(errOut, conf+":2") || !strings.Contains(errOut, `did you mean "waypoints"`) {
		t.Fatalf("bad key: exit %d, %s", code, errOut)
	}
	code, out, _ := runCmd(t, "ingress", "--help")
	if code != 0 || !strings.Contains(out, "heuristic") || !strings.Contains(out, "i3net publish add") {
		t.Fatalf("--help: exit %d, %s", code, out)
	}
}
