package soak

import (
	"context"
	"math/rand/v2"
	"syscall"
	"time"
)

// Kill is one kill and restart of a daemon.
type Kill struct {
	At       time.Time     `json:"at"`
	Name     string        `json:"name"`
	PID      int           `json:"pid"`
	Down     time.Duration `json:"down_ns"`     // from the kill to the restart
	UpAfter  time.Duration `json:"up_after_ns"` // from the restart to its answer
	NewPID   int           `json:"new_pid"`
	StartErr string        `json:"start_error,omitempty"`
}

// chaosOptions: a kill every [Min, Max) (uniform), the victim down for
// [DownMin, DownMax).
type chaosOptions struct {
	Min, Max, DownMin, DownMax time.Duration
}

// chaos kills a random daemon (SIGKILL, by PID) at random times until ctx
// ends, restarts it after a random pause and records each kill.
func chaos(ctx context.Context, w *world, opt chaosOptions, rng *rand.Rand, kills chan<- Kill) {
	defer close(kills)
	all := w.daemons()
	for {
		sleepCtx(ctx, uniform(rng, opt.Min, opt.Max))
		if ctx.Err() != nil {
			return
		}
		d := all[rng.IntN(len(all))]
		p := d.current()
		k := Kill{At: time.Now(), Name: d.name, PID: p.PID()}
		syscall.Kill(k.PID, syscall.SIGKILL)
		<-p.Done()
		down := uniform(rng, opt.DownMin, opt.DownMax)
		sleepCtx(ctx, down)
		if ctx.Err() != nil {
			k.Down = time.Since(k.At)
			kills <- k
			return
		}
		k.Down = time.Since(k.At)
		restart := time.Now()
		if err := w.start(ctx, d); err != nil {
			k.StartErr = err.Error()
		}
		k.UpAfter = time.Since(restart)
		k.NewPID = d.current().PID()
		kills <- k
	}
}

// uniform returns a duration in [lo, hi).
func uniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}
