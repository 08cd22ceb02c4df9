package demo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The userspace part's processes run on this host itself, not in a
// namespace: a userProc is one of them, its output in a file of the demo's
// directory, stopped by its PID.

// userStopGrace is how long a process gets to exit after SIGTERM before
// SIGKILL; userKillWait how long after SIGKILL.
const (
	userStopGrace = 3 * time.Second
	userKillWait  = 2 * time.Second
)

// userProc is a long-running process of the userspace part.
type userProc struct {
	name string // the host it stands for, for messages
	line string // its command line, for messages
	cmd  *exec.Cmd
	log  string        // the file of its standard output and error
	done chan struct{} // closed once it has exited and been reaped
	err  error         // how it exited, set before done closes
}

// startUserProc starts self with args for host, its output in dir.
func startUserProc(dir, host, self string, args ...string) (*userProc, error) {
	p := &userProc{
		name: host,
		line: "i3net " + strings.Join(args, " "),
		log:  filepath.Join(dir, host+"-"+args[0]+".log"),
		done: make(chan struct{}),
	}
	f, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	p.cmd = exec.Command(self, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting %s: %w", host, p.line, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited returns an error saying how the process ended, or nil while it
// runs.
func (p *userProc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s: %s exited (%s): %s", p.name, p.line, p.exitText(), strings.TrimSpace(string(tail(p.output(), 512))))
	default:
		return nil
	}
}

// stop ends the process: SIGTERM, then SIGKILL after userStopGrace.
func (p *userProc) stop() error {
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, userStopGrace}, {syscall.SIGKILL, userKillWait}} {
		if err := p.cmd.Process.Signal(step.sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("%s: signal %v to pid %d: %w", p.name, step.sig, p.cmd.Process.Pid, err)
		}
		select {
		case <-p.done:
			return nil
		case <-time.After(step.wait):
		}
	}
	return fmt.Errorf("%s: pid %d still running %v after SIGKILL", p.name, p.cmd.Process.Pid, userKillWait)
}

// output returns what the process has written so far.
func (p *userProc) output() []byte {
	b, _ := os.ReadFile(p.log)
	return b
}

// report describes the process for a failed demo: its command line, how it
// ended, and the last n bytes of its output.
func (p *userProc) report(n int) string {
	return fmt.Sprintf("%s: %s (%s), last %d bytes of output:\n%s", p.name, p.line, p.exitText(), n, tail(p.output(), n))
}

// exitText says how the process ended, or "running".
func (p *userProc) exitText() string {
	select {
	case <-p.done:
		if p.err == nil {
			return "exit status 0"
		}
		return p.err.Error()
	default:
		return "running"
	}
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
