package netlab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// staleName matches the namespaces and /etc/netns directories of this
// package and captures the creator's pid.
var staleName = regexp.MustCompile(`^` + regexp.QuoteMeta(NamePrefix) + `([0-9]+)-[0-9]+-`)

// CleanupStale removes what crashed earlier runs left: every namespace and
// /etc/netns directory whose name starts with NamePrefix and whose creator
// process is gone, after killing the processes still inside it. Namespaces
// of live processes, this one included, are left alone. New calls it once
// per process.
func CleanupStale() error {
	var errs []error
	seen := make(map[string]bool)
	for _, dir := range []string{netnsDir, etcNetnsDir} {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		for _, e := range entries {
			name := e.Name()
			if seen[name] || !isStale(name) {
				continue
			}
			seen[name] = true
			if err := removeNamespace(name); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// isStale reports whether name is one of this package's namespaces whose
// creator has exited.
func isStale(name string) bool {
	m := staleName.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return !alive(pid)
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// killNamespace ends every process whose network namespace is ns (processes
// the lab did not track, such as a daemon's children): SIGTERM, then SIGKILL
// after StopGrace. Each pid is checked to be in ns again right before it is
// signalled. This process is never signalled.
func killNamespace(ns string) error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		pids, err := pidsIn(ns)
		if err != nil || len(pids) == 0 {
			return err
		}
		for _, pid := range pids {
			if inNamespace(pid, ns) {
				_ = syscall.Kill(pid, sig) // it may have exited meanwhile
			}
		}
		wait := StopGrace
		if sig == syscall.SIGKILL {
			wait = killWait
		}
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			if left, err := pidsIn(ns); err != nil || len(left) == 0 {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	left, _ := pidsIn(ns)
	if len(left) > 0 {
		return fmt.Errorf("processes %v still in namespace %s after SIGKILL", left, ns)
	}
	return nil
}

// pidsIn lists the processes (other than this one) whose network namespace is
// ns, like "ip netns pids". A namespace that does not exist has none.
func pidsIn(ns string) ([]int, error) {
	want, err := nsID(filepath.Join(netnsDir, ns))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if id, err := nsID(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && id == want {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// inNamespace reports whether process pid is in network namespace ns.
func inNamespace(pid int, ns string) bool {
	want, err1 := nsID(filepath.Join(netnsDir, ns))
	got, err2 := nsID(fmt.Sprintf("/proc/%d/ns/net", pid))
	return err1 == nil && err2 == nil && got == want
}

// nsKey identifies a namespace: the device and inode of its nsfs file.
type nsKey struct{ dev, ino uint64 }

// nsID returns the identity of the namespace file at path.
func nsID(path string) (nsKey, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsKey{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return nsKey{uint64(st.Dev), st.Ino}, nil
}
