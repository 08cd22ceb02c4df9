// Package proxytest runs proxies in tests: an in-memory tun device (Tun), a
// log that tests can search (LogBuffer) and a Host, one proxy with its
// identity, address book and state directory, started against the servers a
// test gives it. The proxy's own tests and the security tests use it.
package proxytest
