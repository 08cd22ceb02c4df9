// Package doccheck holds no code: its test checks the package doc comments of
// the whole module, so that godoc shows each package's doc in full.
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
