// Package soak is the endurance run of issue 17 (bench/soak): a world of
// network namespaces (internal/netlab) with a ring of three "i3net server"
// processes and two "i3net proxy" processes, laptop and home, carrying
// continuous traffic from laptop to home (ping of home.i3, a paced TCP
// stream to home's virtual address, a dig of home.i3 every second) while
// servers and proxies are killed (SIGKILL, by PID) and restarted at random
// and nftables drops a share of the overlay's datagrams inside every
// namespace ("numgen random"). It samples each process's memory (RSS) and,
// for servers, goroutines, and collects every warning and error they log.
//
// Run builds the world, runs it for Options.Duration and returns a Report:
// per-minute delivered/lost figures, the longest gap of each kind of
// traffic, the samples, the kills and the log lines; Report.Table prints it
// for people and the Report itself marshals to JSON.
package soak
