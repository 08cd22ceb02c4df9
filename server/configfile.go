package server

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// LoadConfig reads the TOML file at path over base (usually DefaultConfig) and
// validates the result, as ParseConfig does.
func LoadConfig(path string, base Config) (Config, error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return base, fmt.Errorf("server: config file %s: %w (check the path)", path, fs.ErrNotExist)
	}
	if err != nil {
		return base, fmt.Errorf("server: config file: %w", err)
	}
	return ParseConfig(path, text, base)
}

// ParseConfig decodes TOML text over base and validates the result. Keys are the
// toml tags of Config's fields (listen_addr, trigger_ttl = "30s", …); a key not
// given keeps base's value. A duration is a string with a unit: a bare number
// is an error, not nanoseconds. Every error names the file (name), the line and the
// key: a syntax error, a value of the wrong type, an unknown key, or a value New
// would refuse.
func ParseConfig(name string, text []byte, base Config) (Config, error) {
	var raw map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&raw); err != nil {
		return base, tomlError(name, err)
	}
	if err := checkValues(name, text, raw); err != nil {
		return base, err
	}
	c := base
	md, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&c)
	if err != nil {
		return base, tomlError(name, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		k := keys[0].String()
		msg := fmt.Sprintf("unknown key %q", k)
		if s := suggestKey(k); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return base, fmt.Errorf("server: %s:%d: %s", name, keyLine(text, keys[0]), msg)
	}
	if err := c.validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) && md.IsDefined(ce.Key) {
			return base, fmt.Errorf("server: %s:%d: %s = %v: %s", name, keyLine(text, toml.Key{ce.Key}), ce.Key, ce.Value, ce.Msg)
		}
		return base, fmt.Errorf("server: %s: %w", name, err)
	}
	return c, nil
}

// tomlLineKey matches the decoder's type errors: "toml: line 3 (last key "x"): …".
var tomlLineKey = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// tomlError rewrites a decoding error as "server: FILE:LINE: key KEY: MESSAGE".
func tomlError(name string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" {
			msg = fmt.Sprintf("key %s: %s", pe.LastKey, msg)
		}
		return fmt.Errorf("server: %s:%d: %s", name, pe.Position.Line, msg)
	}
	if m := tomlLineKey.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return fmt.Errorf("server: %s:%d: key %s: %s", name, line, m[2], m[3])
	}
	return fmt.Errorf("server: %s: %s", name, strings.TrimPrefix(err.Error(), "toml: "))
}

// keyLine returns the line (from 1) where key is set or its table opens in the
// TOML text, or 0. It understands what a configuration file holds: key = value
// lines, [table] headers and quoted keys.
func keyLine(text []byte, key toml.Key) int {
	var table []string
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			h := strings.Trim(line, "[] \t")
			if j := strings.IndexByte(h, '#'); j >= 0 {
				h = strings.TrimSpace(strings.Trim(h[:j], "[] \t"))
			}
			table = splitKey(h)
			if equalKeys(table, key) {
				return i + 1
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		full := append(append([]string(nil), table...), splitKey(strings.TrimSpace(k))...)
		if equalKeys(full, key) {
			return i + 1
		}
	}
	return 0
}

func splitKey(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ".") {
		out = append(out, strings.Trim(strings.TrimSpace(p), `"'`))
	}
	return out
}

func equalKeys(a []string, b toml.Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ConfigKeys returns the keys a configuration file may set: the toml tags of
// Config's fields, in field order.
func ConfigKeys() []string {
	var keys []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// suggestKey returns the known key closest to k when it is a likely typo.
func suggestKey(k string) string {
	best, bestD := "", 3
	for _, c := range ConfigKeys() {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
