package netlab

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

// Proc is a long-running program started in a host with Host.Start. Its
// standard output and error go to one file that Output reads. The lab stops
// it at cleanup if the test has not.
type Proc struct {
	host *Host
	line string // command line, for messages
	cmd  *exec.Cmd
	log  string // output file

	done chan struct{} // closed when the process has exited and been reaped
	err  error         // cmd.Wait's result, set before done is closed
}

// Start starts name with args inside the host and returns at once. Standard
// input is /dev/null. The process is the program itself ("ip netns exec"
// execs it), so PID and signals reach it directly.
func (h *Host) Start(name string, args ...string) (*Proc, error) {
	l := h.lab
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("netlab: %s: start %s: lab already cleaned up", h.name, name)
	}
	l.procSeq++
	seq := l.procSeq
	l.mu.Unlock()

	p := &Proc{
		host: h,
		line: strings.TrimSpace(name + " " + strings.Join(args, " ")),
		log:  filepath.Join(l.logDir, fmt.Sprintf("%03d-%s-%s.log", seq, h.name, filepath.Base(name))),
		done: make(chan struct{}),
	}
	f, err := os.Create(p.log)
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: start %s: %w", h.name, name, err)
	}
	defer f.Close() // the child has its own copy
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", h.ns, name}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("netlab: %s: start %s: %w", h.name, p.line, err)
	}
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// String returns "host: command line".
func (p *Proc) String() string { return p.host.name + ": " + p.line }

// Host returns the host the process runs in.
func (p *Proc) Host() *Host { return p.host }

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns how it did (nil for exit
// status 0). Pair it with a deadline (select on Done) where the process might
// not exit.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// exitErr returns the exit error, or "running".
func (p *Proc) exitErr() any {
	select {
	case <-p.done:
		if p.err == nil {
			return "exit status 0"
		}
		return p.err
	default:
		return "running"
	}
}

// Signal sends sig to the process unless it has exited.
func (p *Proc) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("netlab: %s: signal %v: %w", p, sig, err)
	}
	return nil
}

// Stop ends the process: SIGTERM, then SIGKILL after StopGrace. It returns an
// error only if the process is still there after that; how it exited is
// Wait's to say. Stop on an exited process does nothing.
func (p *Proc) Stop() error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if waitDone(p.done, StopGrace) {
		return nil
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	if waitDone(p.done, killWait) {
		return nil
	}
	return fmt.Errorf("netlab: %s: pid %d still running %v after SIGKILL", p, p.PID(), killWait)
}

// Output returns everything the process has written to stdout and stderr so
// far.
func (p *Proc) Output() []byte {
	b, _ := os.ReadFile(p.log)
	return b
}

// waitDone reports whether done closes within d.
func waitDone(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Report describes the process for a log of what went wrong: "host: command
// line (how it exited, or running)", then the last n bytes of its output.
func (p *Proc) Report(n int) string {
	return fmt.Sprintf("%s (%v), last %d bytes of output:\n%s", p, p.exitErr(), n, tail(p.Output(), n))
}
