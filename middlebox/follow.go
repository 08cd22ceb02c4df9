package middlebox

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
)

const (
	// maxEveLine bounds one line of the event log; a longer one is skipped
	// (counted).
	maxEveLine = 1 << 16
	// maxEveRead bounds what one poll reads; the rest waits for the next.
	maxEveRead = 4 << 20
)

// follower reads the lines appended to a file, as `tail -F` does: the file
// may not exist yet, may be truncated (copytruncate) or replaced (rotation);
// it is then read again from its start. It is used by one goroutine.
type follower struct {
	path    string
	f       *os.File
	fi      os.FileInfo // of f, to tell a replaced file
	off     int64       // how far f was read
	fromEnd bool        // at the first open, skip what the file holds
	partial []byte      // the start of a line not yet ended
	long    bool        // discarding an over-long line up to its end
	buf     []byte

	reopened, skipped uint64 // files opened again; over-long lines skipped
}

// newFollower follows path from its current end: records written before
// the middlebox started are not news.
func newFollower(path string) *follower {
	return &follower{path: path, fromEnd: true, buf: make([]byte, 64<<10)}
}

// poll reads what was appended since the last poll (at most maxEveRead
// bytes) and calls line for each whole line, without its newline; line's
// slice is reused after it returns.
func (fl *follower) poll(line func([]byte)) error {
	if fl.f == nil {
		if err := fl.open(); err != nil {
			return err
		}
		if fl.f == nil {
			return nil
		}
	}
	if st, err := fl.f.Stat(); err == nil && st.Size() < fl.off {
		fl.rewind() // truncated
	}
	if err := fl.read(line); err != nil {
		return err
	}
	st, err := os.Stat(fl.path)
	if err != nil || !os.SameFile(st, fl.fi) {
		// Replaced or removed: its rest was read above; the new file
		// (when it comes) is read from its start.
		fl.close()
		fl.reopened++
		if err == nil && fl.open() == nil && fl.f != nil {
			return fl.read(line)
		}
	}
	return nil
}

// open opens the file, at its end the first time, else at its start. A
// file that does not exist (yet) is no error: fl.f stays nil.
func (fl *follower) open() error {
	f, err := os.Open(fl.path)
	if err != nil {
		fl.fromEnd = false // created later: every line is new
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	fl.f, fl.fi, fl.off = f, fi, 0
	if fl.fromEnd {
		fl.off, _ = f.Seek(0, io.SeekEnd)
		fl.long = fl.off > 0 && !fl.endsLine() // a line half written: skip its rest
	}
	fl.fromEnd = false
	return nil
}

// endsLine reports whether the file's byte before off is a newline.
func (fl *follower) endsLine() bool {
	var b [1]byte
	_, err := fl.f.ReadAt(b[:], fl.off-1)
	return err == nil && b[0] == '\n'
}

func (fl *follower) rewind() {
	fl.f.Seek(0, io.SeekStart)
	fl.off, fl.partial, fl.long = 0, fl.partial[:0], false
	fl.reopened++
}

func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
	}
	fl.f, fl.fi, fl.partial, fl.long = nil, nil, fl.partial[:0], false
}

// read reads up to maxEveRead bytes from off and hands out the whole lines.
func (fl *follower) read(line func([]byte)) error {
	for total := 0; total < maxEveRead; {
		n, err := fl.f.ReadAt(fl.buf, fl.off)
		fl.off += int64(n)
		total += n
		fl.split(fl.buf[:n], line)
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// split hands out the lines of b, keeping an unfinished one for later.
func (fl *follower) split(b []byte, line func([]byte)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			fl.keep(b)
			return
		}
		switch {
		case fl.long:
			fl.long = false
		case len(fl.partial) > 0:
			fl.keep(b[:i])
			if !fl.long {
				line(fl.partial)
			}
			fl.long = false
			fl.partial = fl.partial[:0]
		default:
			line(b[:i])
		}
		b = b[i+1:]
	}
}

// keep adds b to the unfinished line, or starts discarding it when too long.
func (fl *follower) keep(b []byte) {
	if fl.long {
		return
	}
	if len(fl.partial)+len(b) > maxEveLine {
		fl.partial, fl.long = fl.partial[:0], true
		fl.skipped++
		return
	}
	fl.partial = append(fl.partial, b...)
}
