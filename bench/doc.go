// Package bench measures i3net end to end on this machine: a topology of
// network namespaces (internal/netlab), real iperf3 and ping between hosts, and the
// same measurements over the direct veth path and over the overlay, in one run,
// so the figures are quoted as ratios to the direct path (the machine is
// shared and noisy). Run it with ./bench/run; results go in docs/benchmarks.md.
package bench
