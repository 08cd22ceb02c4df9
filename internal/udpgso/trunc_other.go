//go:build !windows

package udpgso

import "syscall"

// MsgTrunc marks a datagram cut to its buffer.
const MsgTrunc = syscall.MSG_TRUNC
