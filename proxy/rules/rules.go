package rules

import (
	"fmt"
	"strings"

	"github.com/i3net/i3net/proxy/book"
)

// Action is what a rule does with the names it matches.
type Action uint8

const (
	// Via resolves the name through a gateway, and carries its flows there.
	Via Action = iota + 1
	// Direct leaves the name to the host's own resolver and routes.
	Direct
	// Refuse answers the name with REFUSED.
	Refuse
)

// String returns the action as the configuration spells it.
func (a Action) String() string {
	switch a {
	case Via:
		return "via"
	case Direct:
		return "direct"
	case Refuse:
		return "refuse"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// RuleConfig is one rule as the proxy's configuration file holds it
// ([[rule]] tables, in order).
type RuleConfig struct {
	// Match is the names the rule applies to: a pattern (ParsePattern).
	Match string `toml:"match"`
	// Via is the address-book name of the gateway; only with action "via".
	Via string `toml:"via"`
	// Action is "via" (the default when Via is set), "direct" or "refuse".
	Action string `toml:"action"`
	// Anonymous reaches the gateway Via anonymously (§6.3,
	// docs/anonymity.md); only with action "via".
	Anonymous bool `toml:"anonymous"`
}

// Rule is a checked rule.
type Rule struct {
	Pattern Pattern
	Action  Action
	// Via is the gateway's address-book name (lower case), for Action Via.
	Via string
	// Index is the rule's position in the configuration, from 0.
	Index int
	// Anonymous: the gateway is reached anonymously (Action Via only).
	Anonymous bool
}

// Rules is an ordered list of rules; the first that matches a name applies.
// It is immutable and safe for concurrent use.
type Rules struct {
	rules []Rule
}

// ConfigError is a rule Compile refuses: rule[Index].Key = Value is wrong
// because Msg. The caller adds the file and line.
type ConfigError struct {
	Index int    // the rule's position, from 0
	Key   string // "match", "via", "action" or "anonymous"
	Value string // the value as written
	Msg   string // what is wrong and what to write instead
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("rule[%d].%s = %q: %s", e.Index, e.Key, e.Value, e.Msg)
}

// Compile checks cfgs, in order, and returns them as Rules; the first
// mistake is returned as a *ConfigError. Beyond each rule's own keys, it
// refuses a rule that can never apply because an earlier one matches every
// name it matches (regular expressions excepted: they are not compared). It
// does not check that a gateway is in the address book.
func Compile(cfgs []RuleConfig) (*Rules, error) {
	r := &Rules{rules: make([]Rule, 0, len(cfgs))}
	for i, c := range cfgs {
		rule, err := compileRule(i, c)
		if err != nil {
			return nil, err
		}
		for _, earlier := range r.rules {
			if earlier.Pattern.covers(rule.Pattern) {
				return nil, &ConfigError{i, "match", c.Match, fmt.Sprintf(
					"never applies: rule[%d] (match = %q) comes first and matches every name this one does; put the narrower rule first",
					earlier.Index, earlier.Pattern)}
			}
		}
		if err := r.sameWayTo(rule, c); err != nil {
			return nil, err
		}
		r.rules = append(r.rules, rule)
	}
	return r, nil
}

// sameWayTo refuses rule (written as c) when an earlier rule sends through
// the same gateway the other way, anonymously or not: a gateway has one
// session with this host, so it is reached one way.
func (r *Rules) sameWayTo(rule Rule, c RuleConfig) error {
	if rule.Action != Via {
		return nil
	}
	for _, earlier := range r.rules {
		if earlier.Action == Via && earlier.Via == rule.Via && earlier.Anonymous != rule.Anonymous {
			key, value := "anonymous", "true" // the key the file holds, for its line
			if !c.Anonymous {
				key, value = "via", c.Via
			}
			return &ConfigError{rule.Index, key, value, fmt.Sprintf(
				"rule[%d] sends through gateway %q with anonymous = %t: a gateway is reached one way; set the same on both rules",
				earlier.Index, rule.Via, earlier.Anonymous)}
		}
	}
	return nil
}

// Anonymous reports whether the rules reach the gateway named via (its
// address-book name, lower case) anonymously. A nil Rules does not.
func (r *Rules) Anonymous(via string) bool {
	if r == nil {
		return false
	}
	for _, rule := range r.rules {
		if rule.Action == Via && rule.Via == via && rule.Anonymous {
			return true
		}
	}
	return false
}

// compileRule checks the rule at index i.
func compileRule(i int, c RuleConfig) (Rule, error) {
	p, err := parsePattern(c.Match)
	if err != nil {
		return Rule{}, &ConfigError{i, "match", c.Match, err.Error()}
	}
	rule := Rule{Pattern: p, Index: i}
	switch strings.ToLower(c.Action) {
	case "":
		if c.Via == "" && c.Anonymous {
			return Rule{}, &ConfigError{i, "anonymous", "true", `without via: write via = "GATEWAY" (a gateway's address-book name) to reach it anonymously`}
		}
		if c.Via == "" {
			return Rule{}, &ConfigError{i, "action", c.Action,
				`missing: write via = "GATEWAY" (a gateway's address-book name), or action = "direct" or "refuse"`}
		}
		rule.Action = Via
	case "via":
		if c.Via == "" {
			return Rule{}, &ConfigError{i, "via", c.Via, `missing: action "via" needs via = "GATEWAY" (a gateway's address-book name)`}
		}
		rule.Action = Via
	case "direct", "refuse":
		if c.Anonymous {
			return Rule{}, &ConfigError{i, "anonymous", "true", fmt.Sprintf(
				"set with action %q: anonymous needs via = \"GATEWAY\" (names go through that gateway anonymously)", c.Action)}
		}
		if c.Via != "" {
			return Rule{}, &ConfigError{i, "via", c.Via, fmt.Sprintf("set with action %q: remove via, or the action", c.Action)}
		}
		rule.Action = Direct
		if strings.EqualFold(c.Action, "refuse") {
			rule.Action = Refuse
		}
		return rule, nil
	default:
		return Rule{}, &ConfigError{i, "action", c.Action, `want "via", "direct" or "refuse"`}
	}
	if err := book.CheckName(c.Via); err != nil {
		return Rule{}, &ConfigError{i, "via", c.Via, fmt.Sprintf("want a gateway's address-book name: %v", err)}
	}
	rule.Via = strings.ToLower(c.Via)
	rule.Anonymous = c.Anonymous
	return rule, nil
}

// Lookup returns the first rule whose pattern matches name (a DNS name in any
// case, with or without its trailing dot); false when none does. A nil Rules
// has none.
func (r *Rules) Lookup(name string) (Rule, bool) {
	if r == nil {
		return Rule{}, false
	}
	for _, rule := range r.rules {
		if rule.Pattern.Match(name) {
			return rule, true
		}
	}
	return Rule{}, false
}

// All returns the rules in order (a copy).
func (r *Rules) All() []Rule {
	if r == nil {
		return nil
	}
	return append([]Rule(nil), r.rules...)
}
