module github.com/i3net/i3net

go 1.26.0

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	golang.org/x/net v0.62.0 // indirect
)
