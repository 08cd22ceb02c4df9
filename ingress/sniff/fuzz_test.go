package sniff

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// fuzzMax bounds what the fuzz targets peek.
const fuzzMax = 2048

// FuzzHTTPHost: never a panic, never a byte consumed, never a name that is
// not a DNS name, and a name net/http's server agrees with when it parses the
// same head.
func FuzzHTTPHost(f *testing.F) {
	for _, seed := range []string{curlHead, "GET / HTTP/1.0\r\n\r\n", "GET http://a.example/ HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "GET / HTTP/1.1\nHost: A.example.:1\n\n", "SSH-2.0-x\r\n", "\x16\x03\x01"} {
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, oneByte bool) {
		r := iotestReader(data, oneByte)
		name, err := sniffBytes(t, HTTPHost, r, data, fuzzMax, fuzzMax)
		if err != nil {
			return
		}
		req, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if herr != nil {
			return
		}
		host := strings.ToLower(req.Host)
		if h, _, splitErr := net.SplitHostPort(host); splitErr == nil {
			host = h
		}
		if strings.TrimSuffix(host, ".") != name {
			t.Fatalf("sniffed %q, net/http reads Host %q", name, req.Host)
		}
	})
}

// FuzzTLSServerName: never a panic, never a byte consumed, never a name that
// is not a DNS name, and a name crypto/tls's server agrees with.
func FuzzTLSServerName(f *testing.F) {
	hello := captureClientHello(f, &tls.Config{ServerName: "home.i3.example.net"})
	f.Add(hello, false)
	f.Add(reframe(hello, 50), true)
	f.Add(captureClientHello(f, &tls.Config{InsecureSkipVerify: true}), false)
	f.Add(helloWith([][]byte{sniExtension(0, "a.example")}, true), false)
	f.Add([]byte(curlHead), false)
	f.Fuzz(func(t *testing.T, data []byte, oneByte bool) {
		name, err := sniffBytes(t, TLSServerName, iotestReader(data, oneByte), data, fuzzMax, fuzzMax)
		if err != nil {
			return
		}
		theirs, terr := cryptoTLSServerName(data)
		if terr == nil && strings.TrimSuffix(strings.ToLower(theirs), ".") != name {
			t.Fatalf("sniffed %q, crypto/tls reads %q", name, theirs)
		}
	})
}

// iotestReader reads data whole or a byte at a time.
func iotestReader(data []byte, oneByte bool) io.Reader {
	if oneByte {
		return iotest.OneByteReader(bytes.NewReader(data))
	}
	return bytes.NewReader(data)
}
