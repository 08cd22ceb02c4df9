package sniff

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

// TestRealCurl sniffs what curl (with OpenSSL) sends to a listener on
// loopback: its request head over HTTP and its ClientHello over HTTPS.
func TestRealCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed: the curl tests need it")
	}
	tests := []struct {
		url   string // %d: the listener's port
		sniff sniffFunc
		want  string
		err   error
	}{
		{"http://Home.I3.Example.NET:%d/index.html", HTTPHost, "home.i3.example.net", nil},
		{"http://127.0.0.1:%d/", HTTPHost, "", ErrNoName},
		{"https://home.i3.example.net:%d/", TLSServerName, "home.i3.example.net", nil},
		{"https://127.0.0.1:%d/", TLSServerName, "", ErrNoName},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, curl, "-sk", "-m", "10",
				"--resolve", fmt.Sprintf("home.i3.example.net:%d:127.0.0.1", port), fmt.Sprintf(tt.url, port))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Wait() }()
			conn, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			name, err := tt.sniff(bufio.NewReaderSize(conn, 16384), 16384)
			checkResult(t, name, err, tt.want, tt.err)
		})
	}
}
