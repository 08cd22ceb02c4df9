package proxytest

import (
	"bytes"
	"strings"
	"sync"
)

// maxLog bounds what a LogBuffer keeps.
const maxLog = 1 << 20

// LogBuffer collects a component's log lines (slog text format), the first
// maxLog bytes of them; it counts them all.
type LogBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written int // lines
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.written++
	if l.b.Len()+len(p) > maxLog {
		return len(p), nil
	}
	return l.b.Write(p)
}

// Count returns how many lines were written.
func (l *LogBuffer) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.written
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines returns the log lines containing every one of subs.
func (l *LogBuffer) Lines(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}
