package sniff

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const curlHead = "GET / HTTP/1.1\r\nHost: home.i3.example.net\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\n\r\n"

func TestHTTPHostHeads(t *testing.T) {
	tests := []struct {
		name, head, want string
		err              error
	}{
		{"curl", curlHead, "home.i3.example.net", nil},
		{"port, case, final dot", "GET /x HTTP/1.1\r\nhOST:Home.Example.NET.:8080 \r\n\r\n", "home.example.net", nil},
		{"bare LF", "HEAD / HTTP/1.1\nHost: a.example\n\n", "a.example", nil},
		{"body left", "POST /f HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello", "a.example", nil},
		{"absolute form wins", "GET http://user@B.example:81/p?q HTTP/1.1\r\nHost: a.example\r\n\r\n", "b.example", nil},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", "", ErrNoName},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", "", ErrNoName},
		{"IPv4 literal", "GET / HTTP/1.1\r\nHost: 198.51.100.10:80\r\n\r\n", "", ErrNoName},
		{"IPv6 literal with port", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n", "", ErrNoName},
		{"IPv6 literal", "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n", "", ErrNoName},
		{"name in brackets", "GET / HTTP/1.1\r\nHost: [a.example]\r\n\r\n", "", ErrBadName},
		{"bad port", "GET / HTTP/1.1\r\nHost: a.example:http\r\n\r\n", "", ErrBadName},
		{"underscore", "GET / HTTP/1.1\r\nHost: a_b.example\r\n\r\n", "", ErrBadName},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", "", ErrNotHTTP},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a.example\r\n\r\n", "", ErrNotHTTP},
		{"folded line", "GET / HTTP/1.1\r\nX: 1\r\n  2\r\nHost: a.example\r\n\r\n", "", ErrNotHTTP},
		{"NUL in a value", "GET / HTTP/1.1\r\nX: \x00\r\nHost: a.example\r\n\r\n", "", ErrNotHTTP},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "", ErrNotHTTP},
		{"HTTP/0.9", "GET /\r\n\r\n", "", ErrNotHTTP},
		{"TLS", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "", ErrNotHTTP},
		{"SSH banner", "SSH-2.0-OpenSSH_9.6\r\n", "", ErrNotHTTP},
		{"long method", strings.Repeat("A", 30) + " / HTTP/1.1\r\n", "", ErrNotHTTP},
		{"garbage", "\x00\xff\r\n\r\n", "", ErrNotHTTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.head)
			name, err := sniffBytes(t, HTTPHost, bytes.NewReader(data), data, 4096, 4096)
			checkResult(t, name, err, tt.want, tt.err)
			name, err = sniffBytes(t, HTTPHost, iotest.OneByteReader(bytes.NewReader(data)), data, 4096, 4096)
			checkResult(t, name, err, tt.want, tt.err)
		})
	}
}

func TestHTTPHostTooLong(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: a.example\r\nCookie: " + strings.Repeat("x", 200) + "\r\n\r\n"
	data := []byte(head)
	_, err := sniffBytes(t, HTTPHost, bytes.NewReader(data), data, 4096, 100)
	checkResult(t, "", err, "", ErrTooLong)
	// max beyond the reader's buffer: the buffer bounds it.
	_, err = sniffBytes(t, HTTPHost, bytes.NewReader(data), data, 64, 4096)
	checkResult(t, "", err, "", ErrTooLong)
	name, err := sniffBytes(t, HTTPHost, bytes.NewReader(data), data, len(data), len(data))
	checkResult(t, name, err, "a.example", nil)
}

// TestHTTPHostRejectsEarly: a first line that is not a request line is refused
// when it ends, without waiting for more bytes (an SSH client waits for the
// server's banner after its own).
func TestHTTPHostRejectsEarly(t *testing.T) {
	for _, first := range []string{"SSH-2.0-OpenSSH_9.6\r\n", "\x16\x03\x01"} {
		server, client := net.Pipe()
		go func() { _, _ = client.Write([]byte(first)) }()
		_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReaderSize(server, 4096)
		if _, err := HTTPHost(br, 4096); !errors.Is(err, ErrNotHTTP) {
			t.Errorf("%q: got %v, want ErrNotHTTP", first, err)
		}
		client.Close()
		server.Close()
	}
}

// TestHTTPHostRealClient sniffs what net/http's client writes, and then reads
// the same request with net/http's server code from the same reader.
func TestHTTPHostRealClient(t *testing.T) {
	tests := []struct {
		url, want string
		err       error
	}{
		{"http://home.i3.example.net/index.html", "home.i3.example.net", nil},
		{"http://WWW.Home.I3.Example.Net:8080/", "www.home.i3.example.net", nil},
		{"http://home.i3.example.net./", "home.i3.example.net", nil},
		{"http://[2001:db8::1]:8080/", "", ErrNoName},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			server := clientRequest(t, tt.url)
			br := bufio.NewReaderSize(server, 4096)
			name, err := HTTPHost(br, 4096)
			checkResult(t, name, err, tt.want, tt.err)
			req, err := http.ReadRequest(br)
			if err != nil {
				t.Fatalf("the request after sniffing: %v", err)
			}
			if req.Method != http.MethodGet || req.Host == "" {
				t.Fatalf("the request after sniffing: %s for %q", req.Method, req.Host)
			}
		})
	}
}

// clientRequest starts a GET of url by net/http's client, over a pipe, and
// returns the pipe's server end; the client stops when the test ends.
func clientRequest(t *testing.T, url string) net.Conn {
	server, client := net.Pipe()
	_ = server.SetDeadline(time.Now().Add(10 * time.Second))
	transport := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return client, nil
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := (&http.Client{Transport: transport}).Get(url)
		if err == nil {
			resp.Body.Close()
		}
	}()
	t.Cleanup(func() {
		server.Close()
		client.Close()
		<-done
		transport.CloseIdleConnections()
	})
	return server
}
