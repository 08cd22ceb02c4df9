// Package doccheck holds no code: its tests check the whole module's source
// for two house rules, package docs that godoc shows in full and functions
// (outside tests) of at most MaxFuncLines lines.
//
// Every package with Go files (testdata excluded) must have exactly one doc
// comment, attached to its package clause: a blank line between the two
// detaches the comment, and godoc then shows only what follows the blank line,
// or nothing. A library package's doc starts with "Package NAME", a command's
// with "Command NAME", and is at most MaxLines lines long: say what the package
// is for, what it must not know and its performance rules; protocol prose goes
// to docs/ (STYLE.md §14, §17).
//
// It knows nothing of the packages it checks beyond their source files.
package doccheck

// MaxLines is the longest package doc comment allowed, in source lines.
const MaxLines = 40

// MaxFuncLines is the longest function allowed outside tests, in source lines
// from its func keyword to its closing brace.
const MaxFuncLines = 80
