package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/publish"
)

func init() {
	register(&Command{
		Name:       "publish",
		Order:      32,
		ShortUsage: "i3net publish add|withdraw|list [flags] [args]",
		ShortHelp:  "Publish this host's services through an ingress, to hosts that run nothing of i3net",
		LongHelp: `
An ingress ("i3net ingress") lets programs on ordinary hosts reach this host's
services by a name of its DNS zone. Publish says which services (a name and a
TCP port) an ingress may expose; nothing else of this host is reachable
through it. NAME is this host's name in the ingress's address book ("home"),
or a name under it ("www.home"); the ingress refuses others. The service is
then NAME.ZONE (home.i3.example.net), and "i3net status" shows what each
ingress answered and the real address of each client it brought.

  add INGRESS NAME PORT [--proxy-protocol]
        publish NAME on PORT through the ingress the address book calls
        INGRESS; --proxy-protocol starts each connection with a PROXY
        protocol v2 header naming the client (for servers that expect one:
        nginx "listen 80 proxy_protocol", haproxy "accept-proxy")
  withdraw INGRESS NAME [PORT]
        withdraw NAME (on PORT only, if given)
  list  the services published

They edit STATE-DIR/publish.toml, which a running proxy reloads within
seconds and sends to the ingress; a withdrawn service is refused at once.

Examples:
  i3net book add ingress i3pk1...
  i3net publish add ingress home 443
  i3net publish add ingress home 80 --proxy-protocol
  i3net publish add ingress home 22
  i3net publish withdraw ingress home 22`,
		Flags: func() (*flag.FlagSet, func(context.Context, []string) error) {
			var st stateFlags
			fs := flag.NewFlagSet("publish", flag.ContinueOnError)
			st.addDirFlag(fs)
			st.addBookFlag(fs)
			return fs, func(_ context.Context, args []string) error { return runPublish(st, args) }
		},
	})
}

// runPublish runs a publish subcommand; flags may follow the arguments.
func runPublish(st stateFlags, args []string) error {
	if len(args) == 0 {
		return usageErrorf("missing subcommand: one of add, withdraw, list")
	}
	fs := flag.NewFlagSet("publish "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	st.addDirFlag(fs)
	st.addBookFlag(fs)
	pp := fs.Bool("proxy-protocol", false, "start each connection with a PROXY protocol v2 header")
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		c := find("publish")
		f, _ := c.Flags()
		printCommandHelp(Stdout, c, f)
		return nil
	}
	if err != nil {
		return usageErrorf("publish %s: %v", args[0], err)
	}
	path := filepath.Join(st.dir, publish.FileName)
	switch args[0] {
	case "add":
		return publishAdd(st, path, pos, *pp)
	case "withdraw", "rm":
		return publishWithdraw(path, pos)
	case "list", "ls":
		return publishList(path)
	}
	return usageErrorf("unknown subcommand %q: want add, withdraw or list", args[0])
}

func publishAdd(st stateFlags, path string, pos []string, proxyProtocol bool) error {
	if len(pos) != 3 {
		return usageErrorf("publish add wants INGRESS NAME PORT, have %q", pos)
	}
	port, err := strconv.ParseUint(pos[2], 10, 16)
	if err != nil || port == 0 {
		return usageErrorf("publish add: port %q: give a TCP port, 1-65535", pos[2])
	}
	s := publish.Service{Ingress: strings.ToLower(pos[0]), Name: strings.ToLower(strings.TrimSuffix(pos[1], ".")),
		Port: uint16(port), ProxyProtocol: proxyProtocol}
	if err := s.Check(); err != nil {
		return usageErrorf("publish add: %v", err)
	}
	b, err := book.Load(st.bookPath())
	if err != nil {
		return err
	}
	if _, ok := b.Lookup(s.Ingress); !ok {
		return fmt.Errorf("publish add: %s is not in the address book %s: add the ingress first (i3net book add %s KEY)", s.Ingress, st.bookPath(), s.Ingress)
	}
	cur, err := publish.Load(path)
	if err != nil {
		return err
	}
	var out []publish.Service
	for _, x := range cur {
		if x.Ingress != s.Ingress || x.Name != s.Name || x.Port != s.Port {
			out = append(out, x)
		}
	}
	if err := publish.Save(path, append(out, s)); err != nil {
		return err
	}
	fmt.Fprintf(Stdout, "published %s port %d through %s (a running proxy tells it within seconds; i3net status shows its answer)\n", s.Name, s.Port, s.Ingress)
	return nil
}

func publishWithdraw(path string, pos []string) error {
	if len(pos) != 2 && len(pos) != 3 {
		return usageErrorf("publish withdraw wants INGRESS NAME [PORT], have %q", pos)
	}
	var port uint64
	if len(pos) == 3 {
		var err error
		if port, err = strconv.ParseUint(pos[2], 10, 16); err != nil || port == 0 {
			return usageErrorf("publish withdraw: port %q: give a TCP port, 1-65535", pos[2])
		}
	}
	cur, err := publish.Load(path)
	if err != nil {
		return err
	}
	ing, name := strings.ToLower(pos[0]), strings.ToLower(strings.TrimSuffix(pos[1], "."))
	var out []publish.Service
	for _, x := range cur {
		if x.Ingress == ing && x.Name == name && (port == 0 || x.Port == uint16(port)) {
			fmt.Fprintf(Stdout, "withdrawn: %s port %d from %s\n", x.Name, x.Port, x.Ingress)
			continue
		}
		out = append(out, x)
	}
	if len(out) == len(cur) {
		return fmt.Errorf("publish withdraw: %s is not published through %s (i3net publish list)", strings.Join(pos[1:], " port "), ing)
	}
	return publish.Save(path, out)
}

func publishList(path string) error {
	cur, err := publish.Load(path)
	if err != nil {
		return err
	}
	if len(cur) == 0 {
		fmt.Fprintln(Stdout, "nothing published (i3net publish add INGRESS NAME PORT)")
		return nil
	}
	tw := tabwriter.NewWriter(Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INGRESS\tNAME\tPORT\tPROXY PROTOCOL")
	for _, x := range cur {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%v\n", x.Ingress, x.Name, x.Port, x.ProxyProtocol)
	}
	return tw.Flush()
}
