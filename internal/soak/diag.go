package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// diag counts what went wrong in the harness's probes, by kind and message
// (a failed dig's output, a TCP dial's error, a metrics read's error), so a
// gap in the figures comes with its reason.
type diag struct {
	mu     sync.Mutex
	counts map[Problem]int
}

// Problem is one kind of probe failure and how often it happened.
type Problem struct {
	Kind  string `json:"kind"`
	Msg   string `json:"msg"`
	Count int    `json:"count"`
}

// portRE matches the ephemeral ports that make each error text unique.
var portRE = regexp.MustCompile(`:\d{4,5}->`)

func (d *diag) add(kind, msg string) {
	msg = portRE.ReplaceAllString(strings.TrimSpace(msg), ":*->")
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts == nil {
		d.counts = make(map[Problem]int)
	}
	d.counts[Problem{Kind: kind, Msg: msg}]++
}

func (d *diag) all() []Problem {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Problem
	for p, n := range d.counts {
		p.Count = n
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Kind+out[i].Msg < out[j].Kind+out[j].Msg
	})
	return out
}

// snapshotStatus writes each live proxy's "i3net status --json" into
// dir/status/NAME-SECONDS.json, SECONDS since start, for reading a gap
// afterwards.
func snapshotStatus(ctx context.Context, w *world, start time.Time) {
	dir := filepath.Join(w.dir, "status")
	os.MkdirAll(dir, 0o755)
	for _, d := range w.proxies {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := d.host.Run(sctx, w.self, "status", "--json", "--state-dir", w.stateDir(d.name))
		cancel()
		if err != nil {
			out = []byte(err.Error())
		}
		name := fmt.Sprintf("%s-%04d.json", d.name, int(time.Since(start).Seconds()))
		os.WriteFile(filepath.Join(dir, name), out, 0o644)
	}
}
