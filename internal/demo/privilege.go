package demo

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// tunHalfNote says what the userspace part leaves out and how to see it.
const tunHalfNote = "The tun half of the demo (hosts in network namespaces, a NAT, the i3-to-IP gateway, the ingress, " +
	"the middlebox) needs root: see it with sudo ./scripts/demo (or sudo i3net demo)."

// The capabilities the lab needs (linux/capability.h): CAP_NET_ADMIN for
// links, addresses and nft rules, CAP_SYS_ADMIN for namespaces.
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// userspaceReason returns why the demo runs its userspace part instead of
// the lab ("not root", …), or "" when the lab can run. On systems other than
// Linux it returns "": the lab says then that it needs Linux.
func userspaceReason(goos string, forced bool) string {
	switch {
	case goos != "linux":
		return ""
	case forced:
		return "--userspace"
	case os.Geteuid() != 0:
		return "not root"
	case !hasCaps(readCapEff(), capNetAdmin, capSysAdmin):
		return "no right to make network namespaces (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
	}
	return ""
}

// readCapEff returns this process's effective capabilities from
// /proc/self/status, or all of them when it cannot be read (the lab then
// says itself what fails).
func readCapEff() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return ^uint64(0)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return ^uint64(0)
			}
			return caps
		}
	}
	return ^uint64(0)
}

// hasCaps reports whether the capability set eff holds every one of caps.
func hasCaps(eff uint64, caps ...uint) bool {
	for _, c := range caps {
		if eff&(1<<c) == 0 {
			return false
		}
	}
	return true
}
