// Package dnstest runs DNS upstream servers for tests: one that serves a
// handler over UDP and TCP on one port (Start, or Serve on sockets the test
// opened itself, say inside a network namespace) and one that reads queries
// and never answers (Silent). The DNS forwarder's tests, the proxy's tests
// and the end-to-end tests use it.
package dnstest
