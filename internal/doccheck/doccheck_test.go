package doccheck

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// longDocAllowed lists packages (by directory, relative to the module root)
// whose doc may exceed MaxLines for now, with the reason.
var longDocAllowed = map[string]string{}

func TestPackageDocs(t *testing.T) {
	root := moduleRoot(t)
	dirs := packageDirs(t, root)
	if len(dirs) < 10 {
		t.Fatalf("found only %d package directories under %s; is the walk broken?", len(dirs), root)
	}
	for _, dir := range dirs {
		rel, _ := filepath.Rel(root, dir)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			for _, problem := range checkPackage(dir, longDocAllowed[rel] == "") {
				t.Error(problem)
			}
		})
	}
}

// TestCheckPackageCatchesCuts runs the check on broken packages written for the
// test, so that a check that accepts everything cannot pass unnoticed.
func TestCheckPackageCatchesCuts(t *testing.T) {
	long := "// Package p does things.\n" + strings.Repeat("//\n", MaxLines) + "package p\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string // a substring of each expected problem
	}{
		{"good", map[string]string{"a.go": "// Package p does things.\npackage p\n"}, nil},
		{"build tag before doc", map[string]string{"a.go": "//go:build linux\n\n// Package p does things.\npackage p\n"}, nil},
		{"blank line cuts doc", map[string]string{"a.go": "// Package p does things.\n//\n// More.\n\n// # Tail\n//\n// Rest.\npackage p\n"}, []string{"not attached", `should start with "Package p "`}},
		{"detached doc", map[string]string{"a.go": "// Package p does things.\n\npackage p\n"}, []string{"not attached"}},
		{"no doc", map[string]string{"a.go": "package p\n"}, []string{"no package doc comment"}},
		{"wrong start", map[string]string{"a.go": "// P does things.\npackage p\n"}, []string{`should start with "Package p "`}},
		{"too long", map[string]string{"a.go": long}, []string{"lines long"}},
		{"two docs", map[string]string{"a.go": "// Package p does things.\npackage p\n", "b.go": "// Package p again.\npackage p\n"}, []string{"2 files"}},
		{"command", map[string]string{"main.go": "// Command p does things.\npackage main\n"}, nil},
		{"test files ignored", map[string]string{"a.go": "// Package p does things.\npackage p\n", "a_test.go": "// Package p, tests.\npackage p\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, text := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			problems := checkPackage(dir, true)
			if len(problems) != len(tt.want) {
				t.Fatalf("want %d problems (%q), got %q", len(tt.want), tt.want, problems)
			}
			for i, want := range tt.want {
				if !strings.Contains(problems[i], want) {
					t.Errorf("problem %d: want it to contain %q, got %q", i, want, problems[i])
				}
			}
		})
	}
}

// checkPackage returns what is wrong with the package doc of the package in
// dir, as the go tool builds it on this platform.
func checkPackage(dir string, limitLength bool) []string {
	bp, err := build.ImportDir(dir, 0)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", dir, err)}
	}
	var problems []string
	var docs []string // files carrying a package doc
	for _, name := range bp.GoFiles {
		path := filepath.Join(dir, name)
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		problems = append(problems, detached(fset, f)...)
		if f.Doc == nil {
			continue
		}
		docs = append(docs, name)
		problems = append(problems, checkDoc(fset, f, limitLength)...)
	}
	switch {
	case len(docs) == 0 && len(problems) == 0:
		problems = append(problems, fmt.Sprintf("%s: no package doc comment attached to the package clause of any file (a blank line between them detaches it)", dir))
	case len(docs) > 1:
		problems = append(problems, fmt.Sprintf("%s: %d files carry a package doc (%s); godoc joins them: keep one, in doc.go if long", dir, len(docs), strings.Join(docs, ", ")))
	}
	return problems
}

// detached reports comments before the package clause, other than the doc and
// build directives, that look like a package doc cut off by a blank line.
func detached(fset *token.FileSet, f *ast.File) []string {
	var problems []string
	for _, c := range f.Comments {
		if c == f.Doc || c.Pos() > f.Package || isDirectives(c) {
			continue
		}
		problems = append(problems, fmt.Sprintf("%s: comment not attached to the package clause (a blank line separates them), so godoc drops it", fset.Position(c.Pos())))
	}
	return problems
}

func isDirectives(c *ast.CommentGroup) bool {
	for _, line := range c.List {
		if !strings.HasPrefix(line.Text, "//go:") && !strings.HasPrefix(line.Text, "// +build") {
			return false
		}
	}
	return true
}

func checkDoc(fset *token.FileSet, f *ast.File, limitLength bool) []string {
	var problems []string
	pos := fset.Position(f.Doc.Pos())
	want := "Package " + f.Name.Name + " "
	if f.Name.Name == "main" {
		want = "Command "
	}
	if text := f.Doc.Text(); !strings.HasPrefix(text, want) {
		first, _, _ := strings.Cut(text, "\n")
		problems = append(problems, fmt.Sprintf("%s: package doc should start with %q, starts with %q", pos, want, first))
	}
	lines := fset.Position(f.Doc.End()).Line - pos.Line + 1
	if limitLength && lines > MaxLines {
		problems = append(problems, fmt.Sprintf("%s: package doc is %d lines long, more than %d: keep what the package is for, what it must not know and its performance rules; move protocol prose to docs/", pos, lines, MaxLines))
	}
	return problems
}

// packageDirs lists the directories under root that hold non-test Go files
// the go tool would see (no testdata, vendor, or directories starting with . or _).
func packageDirs(t *testing.T, root string) []string {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		if bp, err := build.ImportDir(path, 0); err == nil {
			if len(bp.GoFiles) > 0 { // test-only packages have no godoc
				dirs = append(dirs, path)
			}
		} else if !errors.As(err, new(*build.NoGoError)) {
			t.Errorf("%s: %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return dirs
}

// moduleRoot is the directory of the go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
