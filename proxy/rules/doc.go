// Package rules holds the proxy's name rules (paper §4.4.1, §7.3): an ordered
// list that sends a legacy name through a gateway of the address book, lets
// it go direct, or refuses it, e.g.
//
//	[[rule]]
//	match = "*.corp.example"
//	via = "office-gw"
//
//	[[rule]]
//	match = "re:.*\\.ads\\..*"
//	action = "refuse"
//
// A Pattern is one name, the names under one ("*.NAME"), every name ("*"),
// or a regular expression ("re:EXPR"); the gateway uses patterns too, for
// the names it serves (MatchAny). Compile checks a list of RuleConfig and
// names the rule and key of the first mistake (*ConfigError); Lookup returns
// the first rule that matches.
//
// What it must not know: DNS messages, sessions, the address book's contents
// (a rule names a gateway; the caller checks that the book has it).
//
// Performance: matching the name forms allocates nothing; a regular
// expression costs a lower-casing of a name that has upper-case letters, and
// the match. Lookup walks the rules in order.
package rules
