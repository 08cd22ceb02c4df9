package doctor

import (
	"encoding/json"
	"fmt"
)

// Level is how a check came out.
type Level int

const (
	// OK: nothing to do.
	OK Level = iota
	// Warn: the proxy runs, but not in every mode, or something deserves a look.
	Warn
	// Fail: the proxy cannot run here as configured.
	Fail
)

// String returns "ok", "warn" or "fail".
func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	}
	return "fail"
}

// MarshalJSON writes the level as its String.
func (l Level) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

// Result is the outcome of one check.
type Result struct {
	// Check names what was checked: "os", "tun", "capabilities", "resolver",
	// "pools", "identity", "book", "server ADDR", "nat".
	Check  string `json:"check"`
	Level  Level  `json:"level"`
	Detail string `json:"detail"`
	// Fix says what to do when Level is not OK.
	Fix string `json:"fix,omitempty"`
}

// String is the result's line: level, check, detail and the remedy.
func (r Result) String() string {
	s := fmt.Sprintf("%-4s  %-12s  %s", r.Level, r.Check, r.Detail)
	if r.Fix != "" {
		s += " — " + r.Fix
	}
	return s
}

// Worst returns the highest level of rs (OK for none).
func Worst(rs []Result) Level {
	w := OK
	for _, r := range rs {
		w = max(w, r.Level)
	}
	return w
}

func ok(check, detail string) Result { return Result{Check: check, Level: OK, Detail: detail} }

func warn(check, detail, fix string) Result {
	return Result{Check: check, Level: Warn, Detail: detail, Fix: fix}
}

func fail(check, detail, fix string) Result {
	return Result{Check: check, Level: Fail, Detail: detail, Fix: fix}
}
