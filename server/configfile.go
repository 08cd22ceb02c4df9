package server

import (
	"errors"
	"fmt"

	"github.com/i3net/i3net/internal/tomlconf"
)

// LoadConfig reads the TOML file at path over base (usually DefaultConfig) and
// validates the result, as ParseConfig does. A missing file is an error
// naming the path that wraps fs.ErrNotExist.
func LoadConfig(path string, base Config) (Config, error) {
	c := base
	m, err := tomlconf.Load("server", path, &c)
	if err != nil {
		return base, err
	}
	return validateFile(m, c, base)
}

// ParseConfig decodes TOML text over base and validates the result. Keys are the
// toml tags of Config's fields (listen_addr, trigger_ttl = "30s", …); a key not
// given keeps base's value. A duration is a string with a unit: a bare number
// is an error, not nanoseconds. Every error names the file (name), the line and the
// key: a syntax error, a value of the wrong type, an unknown key, or a value New
// would refuse (internal/tomlconf does all but the last).
func ParseConfig(name string, text []byte, base Config) (Config, error) {
	c := base
	m, err := tomlconf.Decode("server", name, text, &c)
	if err != nil {
		return base, err
	}
	return validateFile(m, c, base)
}

// validateFile returns c if New would take it, or else base and an error
// naming the refused key's line in the file, when the file sets that key.
func validateFile(m tomlconf.Meta, c, base Config) (Config, error) {
	err := c.validate()
	if err == nil {
		return c, nil
	}
	var ce *ConfigError
	if errors.As(err, &ce) && m.IsDefined(ce.Key) {
		return base, m.ValueErrorf([]string{ce.Key}, fmt.Sprint(ce.Value), "%s", ce.Msg)
	}
	return base, fmt.Errorf("server: %s: %w", m.Name(), err)
}

// ConfigKeys returns the keys a configuration file may set: the toml tags of
// Config's fields, in field order.
func ConfigKeys() []string {
	return tomlconf.Keys[Config]()
}
