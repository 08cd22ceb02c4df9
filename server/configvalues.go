package server

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// checkValues checks the type of every known key of a configuration file
// before it is decoded into Config, so that a wrong value is said in the
// reader's words ("a duration needs a unit") rather than the decoder's, and a
// number of nanoseconds is not taken for a duration. raw is the file decoded
// into a map; it returns the first problem in line order, naming the file,
// the line and the key.
func checkValues(name string, text []byte, raw map[string]any) error {
	var (
		first     error
		firstLine int
	)
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("toml")
		v, ok := raw[key]
		if key == "" || key == "-" || !ok {
			continue
		}
		msg := valueProblem(f.Type, v)
		if msg == "" {
			continue
		}
		line := keyLine(text, toml.Key{key})
		if first == nil || line < firstLine {
			first, firstLine = fmt.Errorf("server: %s:%d: %s = %s: %s", name, line, key, tomlText(v), msg), line
		}
	}
	return first
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	addrPortType = reflect.TypeFor[netip.AddrPort]()
)

// valueProblem says what is wrong with v, as BurntSushi/toml decodes it, for
// a field of type t, or returns "".
func valueProblem(t reflect.Type, v any) string {
	switch {
	case t == durationType:
		return durationProblem(v)
	case t == addrPortType:
		if s, ok := v.(string); !ok || !validAddrPort(s) {
			return `want "IP:PORT" in quotes, e.g. "198.18.0.1:5610"`
		}
		return ""
	}
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			return "want a string in quotes"
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return "want true or false"
		}
	case reflect.Int:
		if _, ok := v.(int64); !ok {
			return "want a whole number, without quotes"
		}
	case reflect.Float64:
		switch v.(type) {
		case int64, float64:
		default:
			return "want a number, without quotes"
		}
	case reflect.Slice:
		list, ok := v.([]any)
		for _, e := range list {
			if _, isString := e.(string); !isString {
				ok = false
			}
		}
		if !ok {
			return `want a list of strings, e.g. ["198.18.0.1:5611", "198.18.0.2:5611"]`
		}
	}
	return ""
}

func validAddrPort(s string) bool {
	_, err := netip.ParseAddrPort(s)
	return err == nil
}

// durationProblem says what is wrong with v as a duration of a configuration
// file, or returns "" if it is one: a string of a number and a unit, as
// time.ParseDuration reads ("30s", "1m30s", "500ms"). A bare number is an
// error, not nanoseconds.
func durationProblem(v any) string {
	switch v := v.(type) {
	case int64, float64:
		return fmt.Sprintf(`a duration needs a unit and quotes, e.g. "%vs" for %v seconds`, v, v)
	case string:
		if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return fmt.Sprintf(`a duration needs a unit, e.g. "%ss" for %s seconds`, strings.TrimSpace(v), strings.TrimSpace(v))
		}
		if _, err := time.ParseDuration(v); err != nil {
			return `want a duration: a number and a unit (ns, us, ms, s, m, h), e.g. "30s", "1m30s" or "500ms"`
		}
		return ""
	}
	return `want a duration in quotes, e.g. "30s"`
}

// tomlText shows a decoded value as it would be written in TOML.
func tomlText(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = tomlText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "{…}"
	case time.Time:
		return v.Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}
