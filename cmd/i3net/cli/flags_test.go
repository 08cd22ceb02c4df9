package cli

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestDurationFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "200ms", want: 200 * time.Millisecond},
		{in: "30", wantErr: `invalid value "30" for flag -d: needs a unit, e.g. 30s`},
		{in: "1.5", wantErr: `invalid value "1.5" for flag -d: needs a unit, e.g. 1.5s`},
		{in: "thirty", wantErr: `invalid value "thirty" for flag -d: want a duration: a number and a unit, e.g. 30s`},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var d time.Duration
		durationVar(fs, &d, "d", time.Second, "")
		err := fs.Parse([]string{"-d", tt.in})
		switch {
		case tt.wantErr == "" && (err != nil || d != tt.want):
			t.Errorf("-d %s: %v, %v; want %v", tt.in, d, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
			t.Errorf("-d %s: %v; want %s…", tt.in, err, tt.wantErr)
		}
	}
}

// TestDurationFlagsNeedUnit is a regression test (issue 9): every duration
// flag of every command refuses a number without a unit, and says so.
func TestDurationFlagsNeedUnit(t *testing.T) {
	n := 0
	for _, c := range commands {
		fs, _ := c.Flags()
		fs.VisitAll(func(f *flag.Flag) {
			if g, ok := f.Value.(flag.Getter); ok {
				switch g.Get().(type) {
				case time.Duration:
					t.Errorf("%s --%s: a flag.Duration, which takes \"30\" for 30 ns; use durationVar", c.Name, f.Name)
				case int:
					t.Errorf("%s --%s: a flag.Int, whose error is \"parse error\"; use intVar", c.Name, f.Name)
				}
			}
			if _, ok := f.Value.(durationValue); !ok {
				return
			}
			n++
			code, _, errOut := runCmd(t, c.Name, "--"+f.Name, "30")
			if want := "i3net " + c.Name + `: invalid value "30" for flag -` + f.Name + ": needs a unit, e.g. 30s"; code != 2 || !strings.HasPrefix(errOut, want) {
				t.Errorf("%s --%s 30: exit %d, %q; want %s…", c.Name, f.Name, code, errOut, want)
			}
		})
	}
	if n < 4 { // server --trigger-ttl, ping -i and --timeout, proxy --mapping-timeout
		t.Fatalf("%d duration flags found, want at least 4", n)
	}
}

func TestIntFlag(t *testing.T) {
	code, _, errOut := runCmd(t, "ping", "-c", "x")
	if want := "i3net ping: invalid value \"x\" for flag -c: want a whole number, e.g. 4\n"; code != 2 || !strings.HasPrefix(errOut, want) {
		t.Fatalf("ping -c x: exit %d, %q, want %q", code, errOut, want)
	}
}
