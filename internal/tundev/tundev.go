package tundev

import "errors"

// ErrInUse is wrapped by Create's error when another program holds a device
// of that name.
var ErrInUse = errors.New("the tun device is in use")

// ErrPermission is wrapped by Create's error when the process may not make
// tun devices.
var ErrPermission = errors.New("needs root or CAP_NET_ADMIN")
