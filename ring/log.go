package ring

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// memberlist logs through a standard *log.Logger, one line per message, each
// starting with a level in brackets: "[DEBUG] memberlist: Stream connection
// from=…", "[ERR] memberlist: Failed to send gossip to …". logWriter turns
// each line into a slog record at Debug, with the level memberlist gave it as
// an attribute: memberlist is chatty about every peer's trouble (a dead peer
// alone produces a line per probe and gossip round), and what an operator
// needs, members joining, leaving and failing, the Ring logs itself at Info.
// Run with debug logging to see memberlist's lines.
type logWriter struct {
	log *slog.Logger
}

// newMemberlistLogger returns the *log.Logger to give memberlist.
func newMemberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(logWriter{log: l.With("component", "memberlist")}, "", 0)
}

func (w logWriter) Write(p []byte) (int, error) {
	if !w.log.Enabled(context.Background(), slog.LevelDebug) {
		return len(p), nil
	}
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		level, msg := splitLevel(line)
		w.log.Debug(string(msg), "memberlist_level", level)
	}
	return len(p), nil
}

// splitLevel splits "[WARN] memberlist: text" into "WARN" and "text".
func splitLevel(line []byte) (level string, msg []byte) {
	level = "INFO"
	if len(line) > 0 && line[0] == '[' {
		if i := bytes.IndexByte(line, ']'); i > 0 {
			level = string(line[1:i])
			line = bytes.TrimLeft(line[i+1:], " ")
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	return level, line
}
