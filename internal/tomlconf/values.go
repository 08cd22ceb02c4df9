package tomlconf

import (
	"encoding"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var (
	durationType        = reflect.TypeFor[time.Duration]()
	addrType            = reflect.TypeFor[netip.Addr]()
	addrPortType        = reflect.TypeFor[netip.AddrPort]()
	prefixType          = reflect.TypeFor[netip.Prefix]()
	timeType            = reflect.TypeFor[time.Time]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// What the error of a value of the wrong form says each type wants.
const (
	wantAddrPort = `want "IP:PORT" in quotes, e.g. "198.18.0.1:5610"`
	wantAddr     = `want an IP address in quotes, e.g. "10.1.0.1" or "fd00::1"`
	wantPrefix   = `want an address range "IP/BITS" in quotes, e.g. "10.1.0.0/24" or "fd00:1::/64"`
	wantString   = "want a string in quotes"
)

// isValue reports whether a field of type t takes one TOML value (not a
// table or a list).
func isValue(t reflect.Type) bool {
	switch t {
	case durationType, addrType, addrPortType, prefixType, timeType:
		return true
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// valueProblem says what is wrong with v, as BurntSushi/toml decodes it, for
// a field of type t (one for which isValue holds), or returns "".
func valueProblem(t reflect.Type, v any) string {
	switch t {
	case durationType:
		return durationProblem(v)
	case addrPortType:
		return parseProblem(v, netip.ParseAddrPort, wantAddrPort)
	case addrType:
		return parseProblem(v, netip.ParseAddr, wantAddr)
	case prefixType:
		return parseProblem(v, netip.ParsePrefix, wantPrefix)
	case timeType:
		return "" // a TOML date-time, or a string the decoder reads
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		s, ok := v.(string)
		if !ok {
			return wantString
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return err.Error()
		}
		return ""
	}
	return kindProblem(t, v)
}

// kindProblem is valueProblem for strings, booleans and numbers.
func kindProblem(t reflect.Type, v any) string {
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			return wantString
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return "want true or false"
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			return "want a whole number, without quotes"
		}
		if reflect.New(t).Elem().OverflowInt(n) {
			bits := t.Bits()
			return fmt.Sprintf("want a whole number from %d to %d", -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(int64)
		if !ok {
			return "want a whole number, without quotes"
		}
		if n < 0 || reflect.New(t).Elem().OverflowUint(uint64(n)) {
			return fmt.Sprintf("want a whole number from 0 to %d", uint64(math.MaxUint64)>>(64-t.Bits()))
		}
	case reflect.Float32, reflect.Float64:
		switch v.(type) {
		case int64, float64:
		default:
			return "want a number, without quotes"
		}
	}
	return ""
}

// parseProblem returns want unless v is a string parse accepts.
func parseProblem[T any](v any, parse func(string) (T, error), want string) string {
	if s, ok := v.(string); ok {
		if _, err := parse(s); err == nil {
			return ""
		}
	}
	return want
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
		s := strings.TrimSpace(v)
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return fmt.Sprintf(`a duration needs a unit, e.g. "%ss" for %s seconds`, s, s)
		}
		if _, err := time.ParseDuration(v); err != nil {
			return `want a duration: a number and a unit (ns, us, ms, s, m, h), e.g. "30s", "1m30s" or "500ms"`
		}
		return ""
	}
	return `want a duration in quotes, e.g. "30s"`
}

// listProblem says what a list of elem wants, for a value v that is no list.
// When v would do as one element, the example is v in brackets.
func listProblem(elem reflect.Type, v any) string {
	noun, example := "values", "[…]"
	switch elem {
	case durationType:
		noun, example = "durations", `["1s", "500ms"]`
	case addrPortType:
		noun, example = `"IP:PORT" strings`, `["198.18.0.1:5611", "198.18.0.2:5611"]`
	case addrType:
		noun, example = "IP addresses", `["10.1.0.1", "fd00::1"]`
	case prefixType:
		noun, example = `address ranges ("IP/BITS")`, `["10.1.0.0/24", "fd00:1::/64"]`
	default:
		noun, example = kindList(elem)
	}
	if isValue(elem) && valueProblem(elem, v) == "" {
		example = "[" + tomlText(v) + "]"
	}
	return fmt.Sprintf("want a list of %s, e.g. %s", noun, example)
}

func kindList(elem reflect.Type) (noun, example string) {
	switch elem.Kind() {
	case reflect.String:
		return "strings", `["a", "b"]`
	case reflect.Bool:
		return "booleans", "[true, false]"
	case reflect.Float32, reflect.Float64:
		return "numbers", "[0.5, 2]"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole numbers", "[1, 2]"
	}
	return "values", "[…]"
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
	case []map[string]any:
		return "[{…}]"
	case map[string]any:
		return "{…}"
	case time.Time:
		return v.Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}
