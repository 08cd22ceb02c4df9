// Command i3soak is the endurance run of bench/soak: it builds a world of
// network namespaces (three servers in a ring, two proxies), runs ping, a
// TCP stream and dig through it while servers and proxies are killed and
// restarted at random and a share of the overlay's datagrams is dropped,
// and prints a table and writes the figures as JSON (internal/soak).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/i3net/i3net/internal/soak"
)

func main() {
	opt := soak.DefaultOptions()
	flag.StringVar(&opt.Self, "i3net", "", "the i3net `EXECUTABLE` to run as servers and proxies")
	flag.StringVar(&opt.Dir, "dir", "", "`DIR` for state and the processes' logs (kept)")
	flag.DurationVar(&opt.Duration, "duration", opt.Duration, "how long to soak")
	flag.IntVar(&opt.DropPercent, "drop", opt.DropPercent, "`PERCENT` of overlay datagrams dropped at every host")
	flag.Uint64Var(&opt.Seed, "seed", opt.Seed, "seed of the kills' randomness")
	flag.DurationVar(&opt.KillMin, "kill-min", opt.KillMin, "least time between two kills")
	flag.DurationVar(&opt.KillMax, "kill-max", opt.KillMax, "most time between two kills")
	flag.DurationVar(&opt.DownMin, "down-min", opt.DownMin, "least time a killed process stays down")
	flag.DurationVar(&opt.DownMax, "down-max", opt.DownMax, "most time a killed process stays down")
	jsonOut := flag.String("json", "", "write the report as JSON to `FILE`")
	flag.Parse()
	if opt.Self == "" || opt.Dir == "" {
		fmt.Fprintln(os.Stderr, "i3soak: --i3net and --dir are required (bench/soak sets them)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := soak.Run(ctx, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "i3soak:", err)
		os.Exit(1)
	}
	r.Table(os.Stdout)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "i3soak:", err)
			os.Exit(1)
		}
	}
	if r.FailedTo != "" {
		os.Exit(1)
	}
}
