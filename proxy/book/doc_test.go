package book

import (
	"os"
	"strings"
	"testing"
)

// TestDocExamples loads every TOML example of docs/book.md.
func TestDocExamples(t *testing.T) {
	text, err := os.ReadFile("../../docs/book.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range fencedBlocks(string(text), "toml") {
		n++
		b, err := Parse("docs/book.md", []byte(block))
		if err != nil {
			t.Errorf("example %d: %v\n%s", n, err, block)
			continue
		}
		if b.Len() == 0 {
			t.Errorf("example %d is empty", n)
		}
	}
	if n == 0 {
		t.Fatal("no toml examples in docs/book.md")
	}
}

// fencedBlocks returns the bodies of the blocks of text fenced with
// "```lang".
func fencedBlocks(text, lang string) []string {
	var blocks []string
	for _, part := range strings.Split(text, "```"+lang+"\n")[1:] {
		body, _, _ := strings.Cut(part, "```")
		blocks = append(blocks, body)
	}
	return blocks
}
