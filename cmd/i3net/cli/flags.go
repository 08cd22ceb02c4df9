package cli

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Flag values shared by the subcommands, with errors in the user's words: a
// flag.Value's error is shown as `invalid value "X" for flag -NAME: ERROR`.

// durationValue is a duration flag that requires a unit: "30" is an error
// (which unit?), not 30 ns.
type durationValue struct{ p *time.Duration }

// durationVar defines a duration flag, as flag.DurationVar does, that refuses
// a number without a unit.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationValue{p}, name, usage)
}

func (v durationValue) String() string {
	if v.p == nil { // the zero value, which flag.PrintDefaults does not show
		return time.Duration(0).String()
	}
	return v.p.String()
}

func (v durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.p = d
	return nil
}

// parseDuration reads a duration as time.ParseDuration does ("30s", "1m30s",
// "200ms"), saying in words what is wrong.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("needs a unit, e.g. %ss (units: ns, us, ms, s, m, h)", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration: a number and a unit, e.g. 30s, 1m30s or 200ms")
	}
	return d, nil
}

// parsePrefix reads the value of flag name as an address prefix.
func parsePrefix(name, s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return p, usageErrorf("--%s %q: want an address prefix ADDRESS/BITS, e.g. 100.64.0.0/10 or fd00:1::/64", name, s)
	}
	return p, nil
}

// parseAddrPort reads the value of flag name as IP:PORT.
func parseAddrPort(name, s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
	if err != nil {
		return ap, usageErrorf("--%s %q: want IP:PORT, e.g. 198.18.0.1:5610 or [2001:db8::1]:5610", name, s)
	}
	return ap, nil
}

// intValue is an int flag whose error says what it wants, where flag.IntVar
// says "parse error".
type intValue struct{ p *int }

// intVar defines an int flag, as flag.IntVar does.
func intVar(fs *flag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	fs.Var(intValue{p}, name, usage)
}

func (v intValue) String() string {
	if v.p == nil { // the zero value, which flag.PrintDefaults does not show
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("want a whole number, e.g. 4")
	}
	*v.p = n
	return nil
}

// newLogger returns the logger of a daemon: text on Stderr at the --log-level
// given (debug, info, warn, error), or a usage error naming the flag.
func newLogger(level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(Stderr, &slog.HandlerOptions{Level: lvl})), nil
}
