package front

import (
	"io"
	"net"
	"sync"
)

// relay copies a to b and b to a until both directions are done. A
// direction that ends cleanly half-closes its destination (when it can), so
// the other keeps going; one that fails closes both.
func relay(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		copyHalf(b, a)
	}()
	copyHalf(a, b)
	wg.Wait()
}

// copyHalf copies src to dst, then half-closes dst, or closes both when
// the copy failed or dst cannot be half-closed.
func copyHalf(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		if cw.CloseWrite() == nil {
			return
		}
	}
	dst.Close()
	src.Close()
}
