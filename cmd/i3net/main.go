// Command i3net runs every role of the i3net overlay: servers, proxies, and the
// tools people use with them. "i3net help" lists the subcommands.
package main

import (
	"os"

	"github.com/i3net/i3net/cmd/i3net/cli"
)

func main() { os.Exit(cli.Run(os.Args[1:])) }
