package demo

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestSayFrom: the gateway's chapters show "i3net status" from the line that
// starts a table on, without blank lines, and all of it when no line does.
func TestSayFrom(t *testing.T) {
	status := "# this host: 100.64.0.1\n\nNAME  ADDRESS\nhome  100.64.0.2\n\nRULE  ACTION\n*.corp.example  via\n"
	for _, tt := range []struct {
		first string
		want  []string
	}{
		{"RULE", []string{"RULE  ACTION", "*.corp.example  via"}},
		{"NAME", []string{"NAME  ADDRESS", "home  100.64.0.2", "RULE  ACTION", "*.corp.example  via"}},
		{"NOTHING", []string{"# this host: 100.64.0.1", "NAME  ADDRESS", "home  100.64.0.2", "RULE  ACTION", "*.corp.example  via"}},
	} {
		var out bytes.Buffer
		d := &labDemo{n: &narrator{w: &out, start: time.Now()}}
		d.sayFrom(status, tt.first)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			_, text, _ := strings.Cut(l, "]   ")
			got = append(got, text)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("sayFrom(%q) said %q, want %q", tt.first, got, tt.want)
		}
	}
}
