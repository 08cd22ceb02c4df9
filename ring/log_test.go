package ring

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMemberlistLogs(t *testing.T) {
	var buf bytes.Buffer
	l := newMemberlistLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Printf("[WARN] memberlist: Refuting a suspect message (from: x)")
	l.Printf("[ERR] memberlist: Failed to send gossip to 127.0.0.1:1: refused")
	l.Printf("no level at all")
	out := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="Refuting a suspect message (from: x)" component=memberlist memberlist_level=WARN`,
		`msg="Failed to send gossip to 127.0.0.1:1: refused" component=memberlist memberlist_level=ERR`,
		`msg="no level at all" component=memberlist memberlist_level=INFO`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}

	// At the default level nothing of memberlist's shows.
	buf.Reset()
	l = newMemberlistLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	l.Printf("[ERR] memberlist: something")
	if buf.Len() != 0 {
		t.Errorf("logged at info level: %s", buf.String())
	}
}
