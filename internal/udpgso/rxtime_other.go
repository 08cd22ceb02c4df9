//go:build !linux

package udpgso

import "net"

// RxTimeSpace is the control space one received message needs for its
// arrival time; elsewhere than Linux, none is asked for.
var RxTimeSpace = 0

// EnableRxTime reports false: arrival times are read on Linux only.
func EnableRxTime(*net.UDPConn) bool { return false }

// RxTime reports false: arrival times are read on Linux only.
func RxTime([]byte) (int64, bool) { return 0, false }
