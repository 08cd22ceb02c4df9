package wire

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var headerCheckRoot = flag.String("headercheck.root", "..",
	"the module tree TestNoHandWrittenHeaders scans (default: the one holding wire/)")

// TestNoHandWrittenHeaders fails, listing each place, when a Go file outside
// wire/ (tests excluded) writes i3 header bytes by hand instead of calling
// wire's writers (header.go). Run it on another tree with
//
//	go test ./wire -run TestNoHandWrittenHeaders -args -headercheck.root=DIR
//
// See handWritten for what it looks for.
func TestNoHandWrittenHeaders(t *testing.T) {
	var found []string
	n := 0
	err := filepath.WalkDir(*headerCheckRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != *headerCheckRoot && (name == "wire" && filepath.Dir(path) == filepath.Clean(*headerCheckRoot) ||
				name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		found = append(found, handWritten(path, src)...)
		return nil
	})
	if err != nil {
		t.Fatalf("scanning %s: %v", *headerCheckRoot, err)
	}
	if n == 0 {
		t.Fatalf("no Go files under %s", *headerCheckRoot)
	}
	for _, f := range found {
		t.Errorf("%s", f)
	}
	if len(found) > 0 {
		t.Logf("%d places write i3 header bytes by hand; use wire's writers (wire/header.go) instead", len(found))
	}
}

// handWritten returns, as "file:line: what", the places of Go file src that
// write i3 header bytes by hand. Only files importing wire are read. It
// flags:
//
//  1. wire.Version: only a header writer needs the version byte;
//  2. byte(wire.X) or uint8(wire.X) of an option or address type (wire.Opt*,
//     wire.Ext*, wire.Addr*): a type byte being written;
//  3. a header flag (wire.Flag*) written into bytes: an argument of append,
//     an element of a byte slice literal, or assigned to an indexed element
//     (b[1] &^= wire.FlagFirstHop);
//  4. binary.BigEndian.PutUint16 or AppendUint16 of a value computed from
//     len(...) or a Len/EncodedLen method: an option list's or an
//     extension's length field;
//  5. a sum that sizes a header by hand: 3 (version, flags, count) added to
//     2 (the list length) or to id.Len, wire.MaxStack, wire.NonceLen or
//     wire.KeyLen.
//
// It reads syntax, not types: a header written through other names (a local
// copy of the constants, a bare 0x10) is not seen.
func handWritten(path string, src []byte) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return []string{fmt.Sprintf("%s: cannot parse: %v", path, err)}
	}
	wireName := ""
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == "github.com/i3net/i3net/wire" {
			wireName = "wire"
			if im.Name != nil {
				wireName = im.Name.Name
			}
		}
	}
	if wireName == "" {
		return nil
	}
	c := &headerChecker{fset: fset, wire: wireName}
	ast.Inspect(f, c.visit)
	return c.found
}

type headerChecker struct {
	fset  *token.FileSet
	wire  string
	found []string
	sums  map[ast.Expr]bool // additions inside a sum already checked
}

func (c *headerChecker) report(n ast.Node, format string, args ...any) {
	c.found = append(c.found, fmt.Sprintf("%s: %s", c.fset.Position(n.Pos()), fmt.Sprintf(format, args...)))
}

// wireConst returns the name of n when n is wire.NAME.
func (c *headerChecker) wireConst(n ast.Node) string {
	if s, ok := n.(*ast.SelectorExpr); ok {
		if x, ok := s.X.(*ast.Ident); ok && x.Name == c.wire {
			return s.Sel.Name
		}
	}
	return ""
}

// mentionsFlag reports whether a wire.Flag* constant appears in e.
func (c *headerChecker) mentionsFlag(e ast.Node) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if strings.HasPrefix(c.wireConst(n), "Flag") {
			found = true
		}
		return !found
	})
	return found
}

func (c *headerChecker) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.SelectorExpr:
		if c.wireConst(n) == "Version" {
			c.report(n, "writes the version byte (wire.Version)")
		}
	case *ast.CallExpr:
		c.call(n)
	case *ast.CompositeLit:
		if a, ok := n.Type.(*ast.ArrayType); ok && isIdent(a.Elt, "byte", "uint8") {
			for _, e := range n.Elts {
				if c.mentionsFlag(e) {
					c.report(e, "writes header flags into a byte slice literal")
				}
			}
		}
	case *ast.AssignStmt:
		for i, l := range n.Lhs {
			if _, ok := l.(*ast.IndexExpr); ok && i < len(n.Rhs) && c.mentionsFlag(n.Rhs[i]) {
				c.report(n, "writes header flags into a byte (use wire.ClearFlags or a writer)")
			}
		}
	case *ast.BinaryExpr:
		c.sum(n)
	}
	return true
}

// call checks rules 2, 3 and 4.
func (c *headerChecker) call(n *ast.CallExpr) {
	switch fn := n.Fun.(type) {
	case *ast.Ident:
		if (fn.Name == "byte" || fn.Name == "uint8") && len(n.Args) == 1 {
			name := c.wireConst(n.Args[0])
			for _, p := range []string{"Opt", "Ext", "Addr"} {
				if strings.HasPrefix(name, p) {
					c.report(n, "writes a type byte (%s(%s.%s))", fn.Name, c.wire, name)
				}
			}
		}
		if fn.Name == "append" {
			for _, a := range n.Args[1:] {
				if c.mentionsFlag(a) {
					c.report(a, "appends header flags")
				}
			}
		}
	case *ast.SelectorExpr:
		if fn.Sel.Name != "PutUint16" && fn.Sel.Name != "AppendUint16" || len(n.Args) != 2 {
			return
		}
		if x, ok := fn.X.(*ast.SelectorExpr); !ok || x.Sel.Name != "BigEndian" {
			return
		}
		if computesLength(n.Args[1]) {
			c.report(n, "writes a length field by hand (binary.BigEndian.%s of a length)", fn.Sel.Name)
		}
	}
}

// computesLength reports whether e calls len or a Len/EncodedLen method.
func computesLength(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				found = found || fn.Name == "len"
			case *ast.SelectorExpr:
				found = found || strings.HasSuffix(fn.Sel.Name, "Len")
			}
		}
		return !found
	})
	return found
}

// sum checks rule 5 on the outermost addition or subtraction of a sum.
func (c *headerChecker) sum(n *ast.BinaryExpr) {
	if n.Op != token.ADD && n.Op != token.SUB || c.sums[n] {
		return
	}
	if c.sums == nil {
		c.sums = map[ast.Expr]bool{}
	}
	var terms []ast.Expr
	var flatten func(e ast.Expr)
	flatten = func(e ast.Expr) {
		e = ast.Unparen(e)
		if b, ok := e.(*ast.BinaryExpr); ok && (b.Op == token.ADD || b.Op == token.SUB) {
			c.sums[b] = true
			flatten(b.X)
			flatten(b.Y)
			return
		}
		terms = append(terms, e)
	}
	flatten(n)
	three, sized := false, false
	for _, t := range terms {
		switch {
		case isInt(t, "3"):
			three = true
		case isInt(t, "2"):
			sized = true
		default:
			ast.Inspect(t, func(m ast.Node) bool {
				switch name := c.wireConst(m); {
				case name == "MaxStack" || name == "NonceLen" || name == "KeyLen":
					sized = true
				case isSelector(m, "id", "Len"):
					sized = true
				}
				return true
			})
		}
	}
	if three && sized {
		c.report(n, "sizes a header by hand (3 + ...); use wire's Len functions and constants")
	}
}

func isInt(e ast.Expr, v string) bool {
	l, ok := e.(*ast.BasicLit)
	return ok && l.Kind == token.INT && l.Value == v
}

func isIdent(e ast.Expr, names ...string) bool {
	id, ok := e.(*ast.Ident)
	if !ok {
		return false
	}
	for _, n := range names {
		if id.Name == n {
			return true
		}
	}
	return false
}

func isSelector(n ast.Node, x, sel string) bool {
	s, ok := n.(*ast.SelectorExpr)
	return ok && isIdent(s.X, x) && s.Sel.Name == sel
}

// TestHandWrittenCatches feeds the checker the hand-written headers the tree
// had before wire's writers, and the calls that replaced them.
func TestHandWrittenCatches(t *testing.T) {
	const head = "package x\nimport (\n\"encoding/binary\"\n\"github.com/i3net/i3net/id\"\n\"github.com/i3net/i3net/wire\"\n)\nvar _ = id.Len\nvar _ = binary.BigEndian\n"
	tests := []struct {
		name string
		src  string
		want int // places flagged
	}{
		{"client data header", `func f(b []byte, stack []id.ID, opt []byte, extra byte) []byte {
	b = append(b, wire.Version, wire.FlagData|wire.FlagOptions|wire.FlagFirstHop|extra, byte(len(stack)))
	b = binary.BigEndian.AppendUint16(b, uint16(2+len(opt)))
	return append(b, opt...)
}`, 3},
		{"server header", `func f(h []byte, a wire.Addr) []byte {
	h = binary.BigEndian.AppendUint16(h, uint16(2+1+a.EncodedLen()))
	return append(h, byte(wire.OptSender))
}`, 2},
		{"replica start", `func f(b []byte) { b[0], b[1], b[2] = wire.Version, wire.FlagOptions, 0 }`, 2},
		{"flag cleared in place", `func f(b []byte) { b[1] &^= wire.FlagFirstHop }`, 1},
		{"list length", `func f(b []byte) { binary.BigEndian.PutUint16(b[3:], uint16(len(b)-3)) }`, 1},
		{"padding arithmetic", `func f(n int) int { return 3 + 2 + 1 + 1 + id.Len + 2 + wire.NonceLen + n - 1 + wire.KeyLen }`, 1},
		{"client sizes", `const m = 3 + wire.MaxStack*id.Len + 2 + 20`, 1},
		{"byte literal", `var h = []byte{0x10, wire.FlagOptions, 0}`, 1},
		{"wire's writers", `func f(b []byte, ids []id.ID, h wire.DataHeader, r *wire.Replica) []byte {
	b = h.AppendTo(b)
	b = wire.AppendHeader(b, wire.FlagOptions|wire.FlagFirstHop, ids)
	b, list := wire.StartOptions(b)
	b = r.AppendOption(b)
	wire.EndOptions(b, list)
	wire.ClearFlags(b, wire.FlagFirstHop)
	return b
}`, 0},
		{"reading flags and sizing payloads", `func f(p *wire.Packet, b []byte, port uint16) bool {
	p.Flags |= wire.FlagFirstHop
	binary.BigEndian.PutUint16(b[16:], port)
	n := 16 + 2 + id.KeyLen
	return p.Flags&wire.FlagData != 0 && n > 1
}`, 0},
		{"no wire import", "package x\nconst v = 0x10\nfunc f(b []byte) { b[0] = v }", 0},
	}
	for _, tt := range tests {
		src := tt.src
		if !strings.HasPrefix(src, "package") {
			src = head + src
		}
		got := handWritten(tt.name+".go", []byte(src))
		if len(got) != tt.want {
			t.Errorf("%s: %d places flagged, want %d: %q", tt.name, len(got), tt.want, got)
		}
	}
}
