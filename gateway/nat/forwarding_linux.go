package nat

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Forwarding switches, as files under /proc/sys: they follow the network
// namespace of the thread that opens them.
const (
	forwardIPv4 = "/proc/sys/net/ipv4/ip_forward"
	forwardIPv6 = "/proc/sys/net/ipv6/conf/all/forwarding"
)

// setting is a kernel setting Install changed: the file, opened in Install's
// namespace and kept open so that restore writes there from any thread, and
// the value Install found.
type setting struct {
	file *os.File
	was  string
}

// enableForwarding turns on IPv4 forwarding, and IPv6 forwarding if v6, and
// returns the settings it opened with their former values. On error it puts
// back what it had changed.
func enableForwarding(v6 bool) ([]setting, error) {
	paths := []string{forwardIPv4}
	if v6 {
		paths = append(paths, forwardIPv6)
	}
	var done []setting
	for _, path := range paths {
		s, err := setTo(path, "1")
		if err != nil {
			return nil, errors.Join(err, restore(done))
		}
		done = append(done, s)
	}
	return done, nil
}

// setTo opens the setting at path, reads it and writes value.
func setTo(path, value string) (setting, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return setting{}, fmt.Errorf("open %s: %w", path, err)
	}
	buf := make([]byte, 64)
	n, err := f.ReadAt(buf, 0)
	if n == 0 && err != nil {
		f.Close()
		return setting{}, fmt.Errorf("read %s: %w", path, err)
	}
	s := setting{file: f, was: strings.TrimSpace(string(buf[:n]))}
	if _, err := f.WriteAt([]byte(value+"\n"), 0); err != nil {
		f.Close()
		return setting{}, fmt.Errorf("write %s=%s: %w", path, value, err)
	}
	return s, nil
}

// restore writes back the former values, in reverse order, and closes the
// files.
func restore(settings []setting) error {
	var errs []error
	for i := len(settings) - 1; i >= 0; i-- {
		s := settings[i]
		if _, err := s.file.WriteAt([]byte(s.was+"\n"), 0); err != nil {
			errs = append(errs, fmt.Errorf("restore %s=%s: %w", s.file.Name(), s.was, err))
		}
		if err := s.file.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
