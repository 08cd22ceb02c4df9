package pkgbuild

import (
	"fmt"
	"strings"
)

// thLine holds what the .TH line of every page shows besides the title.
type thLine struct {
	version string
	date    string
}

func (t thLine) render(title string) string {
	return fmt.Sprintf(".TH %s 1 %s %s \"i3net manual\"\n",
		strings.ToUpper(title), quote(t.date), quote("i3net "+t.version))
}

// rootPage is i3net(1) from "i3net help": its first line as the name, the
// "Usage:" paragraph as the synopsis, the command list with a page reference
// per command, and the other paragraphs (environment, ...) as they are.
func rootPage(text string, names []string, th thLine) string {
	first, rest, _ := strings.Cut(text, "\n")
	var b strings.Builder
	b.WriteString(th.render("i3net"))
	b.WriteString(".SH NAME\ni3net \\- " + escape(strings.TrimSuffix(strings.TrimPrefix(first, "i3net: "), ".")) + "\n")
	var other []string
	for _, para := range strings.Split(strings.TrimSpace(rest), "\n\n") {
		switch {
		case strings.HasPrefix(para, "Usage: "):
			b.WriteString(".SH SYNOPSIS\n.nf\n" + escapeLine(strings.TrimPrefix(para, "Usage: ")) + "\n.fi\n")
		case strings.HasPrefix(para, "Commands:\n"):
			b.WriteString(".SH COMMANDS\n" + commandItems(para))
		default:
			other = append(other, para)
		}
	}
	if len(other) > 0 {
		b.WriteString(".SH DESCRIPTION\n" + paragraphs(strings.Join(other, "\n\n")))
	}
	b.WriteString(".SH SEE ALSO\n")
	refs := make([]string, len(names))
	for i, n := range names {
		refs[i] = ".BR i3net\\-" + n + " (1)"
	}
	b.WriteString(strings.Join(refs, ",\n") + "\n")
	return b.String()
}

// commandItems renders the "Commands:" paragraph of the root help: a tagged
// paragraph per command, its page as the tag.
func commandItems(para string) string {
	var b strings.Builder
	for _, line := range strings.Split(para, "\n")[1:] {
		name, short, _ := strings.Cut(strings.TrimSpace(line), " ")
		if name == "" {
			continue
		}
		b.WriteString(".TP\n.BR i3net\\-" + escape(name) + " (1)\n" + escapeLine(strings.TrimSpace(short)) + "\n")
	}
	return b.String()
}

// commandPage is i3net-NAME(1) from "i3net NAME --help": its usage line, the
// short help as the name line, the long help, and the flags.
func commandPage(name, text string, th thLine) string {
	body, flags, _ := strings.Cut(text, "\nFlags:\n")
	usage, body, _ := strings.Cut(body, "\n")
	short, long, _ := strings.Cut(strings.TrimLeft(body, "\n"), "\n")
	var b strings.Builder
	b.WriteString(th.render("i3net-" + name))
	b.WriteString(".SH NAME\ni3net\\-" + name + " \\- " + escape(short) + "\n")
	b.WriteString(".SH SYNOPSIS\n.nf\n" + escapeLine(strings.TrimPrefix(usage, "Usage: ")) + "\n.fi\n")
	if strings.TrimSpace(long) != "" {
		b.WriteString(".SH DESCRIPTION\n" + paragraphs(long))
	}
	if strings.TrimSpace(flags) != "" {
		b.WriteString(".SH OPTIONS\n" + flagItems(flags))
	}
	b.WriteString(".SH SEE ALSO\n.BR i3net (1)\n")
	return b.String()
}

// paragraphs renders text split at blank lines: lines at the left margin are
// filled, indented lines (examples, lists) are kept as they are.
func paragraphs(text string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString(".PP\n")
		nofill := false
		for _, line := range strings.Split(para, "\n") {
			indented := strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")
			if indented != nofill {
				b.WriteString(map[bool]string{true: ".nf\n", false: ".fi\n"}[indented])
				nofill = indented
			}
			b.WriteString(escapeLine(line) + "\n")
		}
		if nofill {
			b.WriteString(".fi\n")
		}
	}
	return b.String()
}

// flagItems renders flag.PrintDefaults output: "  -name TYPE" lines start a
// tagged paragraph, the tab-indented lines below describe it.
func flagItems(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			name, arg, _ := strings.Cut(rest, " ")
			arg, desc, hasDesc := strings.Cut(arg, "\t")
			b.WriteString(".TP\n.BI \\-\\-" + escape(name) + " \" " + escape(strings.TrimSpace(arg)) + "\"\n")
			if hasDesc {
				b.WriteString(escapeLine(strings.TrimSpace(desc)) + "\n")
			}
			continue
		}
		if s := strings.TrimSpace(line); s != "" {
			b.WriteString(escapeLine(s) + "\n")
		}
	}
	return b.String()
}

// escape makes text safe inside a roff line: backslashes print as such.
func escape(s string) string { return strings.ReplaceAll(s, `\`, `\e`) }

// escapeLine is escape for a whole line, which must not start a request.
func escapeLine(s string) string {
	s = escape(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func quote(s string) string { return `"` + strings.ReplaceAll(escape(s), `"`, `\(dq`) + `"` }
