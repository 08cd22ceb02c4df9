package tomlconf

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// check walks the decoded text along type t and returns every unknown key and
// every value its field's type cannot take, in line order, or nil.
func (m Meta) check(t reflect.Type) error {
	c := &checker{m: m}
	c.table(t, m.raw, nil)
	if len(c.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(c.problems, func(a, b *Error) int {
		if (a.Line == 0) != (b.Line == 0) { // unknown lines last
			return cmp.Compare(b.Line, a.Line)
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Err.Error(), b.Err.Error()))
	})
	errs := make([]error, 0, maxProblems+1)
	for _, p := range c.problems[:min(len(c.problems), maxProblems)] {
		errs = append(errs, p)
	}
	if more := len(c.problems) - maxProblems; more > 0 {
		errs = append(errs, m.errorAt(0, "", "", fmt.Errorf("and %d more problems", more)))
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// checker collects the problems of one file.
type checker struct {
	m        Meta
	problems []*Error
}

// table checks the keys of a table against the fields of struct type t.
func (c *checker) table(t reflect.Type, raw map[string]any, path []string) {
	fields := tomlFields(t)
	for k, v := range raw {
		key := appendKey(path, k)
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == k })
		if i < 0 {
			c.unknown(key, fields)
			continue
		}
		c.value(fields[i].typ, v, key)
	}
}

func (c *checker) unknown(key []string, fields []field) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	hint := ""
	if s := suggest(key[len(key)-1], names); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	} else if len(names) > 0 && len(names) <= 8 {
		hint = fmt.Sprintf(" (the keys here are %s)", strings.Join(names, ", "))
	}
	err := fmt.Errorf("%w %q%s", ErrUnknownKey, c.m.KeyString(key...), hint)
	c.problems = append(c.problems, c.m.errorAt(c.m.Line(key...), "", "", err))
}

// value checks the value v of key against type t, and what is under it.
func (c *checker) value(t reflect.Type, v any, key []string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case decodesItself(t):
	case isValue(t):
		if msg := valueProblem(t, v); msg != "" {
			c.refuse(key, v, msg)
		}
	case t.Kind() == reflect.Struct:
		if table, ok := v.(map[string]any); ok {
			c.table(t, table, key)
		} else {
			c.refuse(key, v, c.tableProblem(key))
		}
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		table, ok := v.(map[string]any)
		if !ok {
			c.refuse(key, v, c.tableProblem(key))
			return
		}
		for k, e := range table {
			c.value(t.Elem(), e, appendKey(key, k))
		}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		c.list(t, v, key)
	}
}

// list checks a list (or an array of tables) and each of its elements.
func (c *checker) list(t reflect.Type, v any, key []string) {
	elems, ok := asList(v)
	if !ok {
		msg := listProblem(t.Elem(), v)
		if elem := t.Elem(); elem.Kind() == reflect.Struct && !isValue(elem) {
			msg = fmt.Sprintf("want a list of tables: a [[%s]] section for each, or [{ key = value, … }, …]", c.m.KeyString(key...))
		}
		c.refuse(key, v, msg)
		return
	}
	if t.Kind() == reflect.Array && len(elems) > t.Len() {
		c.refuse(key, v, fmt.Sprintf("want at most %d values", t.Len()))
		return
	}
	for i, e := range elems {
		c.value(t.Elem(), e, appendKey(key, strconv.Itoa(i)))
	}
}

// tableProblem says what a table at key wants: a [KEY] section, or, for an
// element of an array of tables, a [[KEY]] one.
func (c *checker) tableProblem(key []string) string {
	if n := len(key) - 1; n > 0 {
		parent, _ := c.m.lookup(key[:n])
		if _, ok := asList(parent); ok {
			return fmt.Sprintf("want a table: a [[%s]] section, or { key = value, … }", c.m.KeyString(key[:n]...))
		}
	}
	return fmt.Sprintf("want a table: a [%s] section, or { key = value, … }", c.m.KeyString(key...))
}

func (c *checker) refuse(key []string, v any, msg string) {
	c.problems = append(c.problems, c.m.errorAt(c.m.Line(key...), c.m.KeyString(key...), tomlText(v), errors.New(msg)))
}

func appendKey(path []string, k string) []string {
	return append(append(make([]string, 0, len(path)+1), path...), k)
}

// field is a key of a struct as BurntSushi/toml decodes it.
type field struct {
	name string
	typ  reflect.Type
}

// tomlFields returns the keys of struct type t in field order, as
// BurntSushi/toml matches them: the toml tag's name or else the field's
// name; exported fields only; "-" skipped; an embedded struct without a tag
// name brings its own fields.
func tomlFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct && !isValue(ft) && !decodesItself(ft) {
			out = append(out, tomlFields(ft)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, field{name, f.Type})
	}
	return out
}

// Keys returns the keys a configuration file for T (a struct) may set at its
// top level, in field order: the toml tags of its fields (or their names).
func Keys[T any]() []string {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for _, f := range tomlFields(t) {
		keys = append(keys, f.name)
	}
	return keys
}

var unmarshalerType = reflect.TypeFor[toml.Unmarshaler]()

// decodesItself reports whether t takes any TOML value through its own
// UnmarshalTOML, which then says what is wrong.
func decodesItself(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		t.Kind() == reflect.Interface
}
