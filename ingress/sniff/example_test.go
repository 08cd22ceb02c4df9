package sniff_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/i3net/i3net/ingress/sniff"
)

// How a relay uses the package: a reader as large as what it may sniff, a
// read deadline, then the same reader (which still holds every byte) copied
// to the backend. io.Copy from a bufio.Reader writes the buffered bytes and
// then hands the rest to the connection's own WriteTo (splice on Linux).
func Example() {
	client, server := net.Pipe()
	go func() {
		_, _ = io.WriteString(client, "GET / HTTP/1.1\r\nHost: Home.I3.Example.NET:80\r\n\r\n")
		client.Close()
	}()
	const max = 16 << 10
	br := bufio.NewReaderSize(server, max)
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	name, err := sniff.HTTPHost(br, max)
	_ = server.SetReadDeadline(time.Time{})
	fmt.Println(name, err, br.Buffered())
	// Output: home.i3.example.net <nil> 48
}
