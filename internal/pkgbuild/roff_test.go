package pkgbuild

import (
	"strings"
	"testing"
)

const sampleRoot = `i3net: reach hosts by name.

Usage: i3net COMMAND [flags] [args]

Commands:
  server  run a server
  proxy   run the proxy

Environment:
  I3NET_STATE_DIR  the state directory
`

const sampleCommand = `Usage: i3net proxy --server ADDR:PORT [flags]

run the proxy

The proxy lets programs reach hosts.
.dots and \backslashes stay text.

Examples:
  i3net proxy --server 198.18.0.1:5610

Flags:
  -config FILE
    	configuration FILE (TOML)
  -no-resolv-conf
    	leave the resolver alone
`

func TestCommandNamesReadsTheList(t *testing.T) {
	got := strings.Join(commandNames(sampleRoot), ",")
	if got != "server,proxy" {
		t.Fatalf("commandNames = %q, want server,proxy", got)
	}
}

func TestRootPageHasSynopsisCommandsAndReferences(t *testing.T) {
	page := rootPage(sampleRoot, []string{"server", "proxy"}, thLine{version: "1.0", date: "2026-01-02"})
	for _, want := range []string{
		`.TH I3NET 1 "2026-01-02" "i3net 1.0" "i3net manual"`,
		".SH NAME\ni3net \\- reach hosts by name\n",
		".SH SYNOPSIS\n.nf\ni3net COMMAND [flags] [args]\n.fi\n",
		".TP\n.BR i3net\\-proxy (1)\nrun the proxy\n",
		".SH DESCRIPTION\n.PP\nEnvironment:\n.nf\n  I3NET_STATE_DIR",
		".BR i3net\\-server (1),\n.BR i3net\\-proxy (1)\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("root page lacks %q:\n%s", want, page)
		}
	}
}

func TestCommandPageRendersHelpAndFlags(t *testing.T) {
	page := commandPage("proxy", sampleCommand, thLine{version: "1.0", date: "2026-01-02"})
	for _, want := range []string{
		".SH NAME\ni3net\\-proxy \\- run the proxy\n",
		".SH SYNOPSIS\n.nf\ni3net proxy --server ADDR:PORT [flags]\n.fi\n",
		"\\&.dots and \\ebackslashes stay text.\n",
		"Examples:\n.nf\n  i3net proxy --server 198.18.0.1:5610\n.fi\n",
		".TP\n.BI \\-\\-config \" FILE\"\nconfiguration FILE (TOML)\n",
		".TP\n.BI \\-\\-no-resolv-conf \" \"\nleave the resolver alone\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("command page lacks %q:\n%s", want, page)
		}
	}
}

// FuzzCommandPage: any help text renders without a panic, and no rendered
// line starts a roff request the generator did not write itself.
func FuzzCommandPage(f *testing.F) {
	f.Add(sampleCommand)
	f.Add("Usage: x\n\n\nFlags:\n  -")
	f.Fuzz(func(t *testing.T, text string) {
		page := commandPage("x", text, thLine{})
		for _, line := range strings.Split(page, "\n") {
			if strings.HasPrefix(line, "'") {
				t.Fatalf("line starts a request: %q", line)
			}
		}
	})
}
