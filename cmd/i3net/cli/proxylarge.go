package cli

import "flag"

// How the proxy treats the large packets the kernel hands its tun device
// (TSO, USO; docs/proxy.md, "Large packets"): by default it carries them
// whole to peers that take them; --split-large, or split_large = true in the
// --config file, splits them in the proxy as before.

// addLargeFlags defines --split-large on fs.
func (a *proxyArgs) addLargeFlags(fs *flag.FlagSet) {
	fs.BoolVar(&a.splitLarge, "split-large", false, "split the large packets the kernel hands the tun device (TCP and UDP segmentation offload) "+
		"into ordinary ones in the proxy, instead of carrying them whole to peers whose proxies take them (for comparison, "+
		"or as a way out; split_large = true in the --config file)")
}

// fileLarge takes the configuration file's split_large; the flag wins when
// given (it can only turn splitting on).
func (a *proxyArgs) fileLarge(f proxyFile) {
	if f.SplitLarge != nil && *f.SplitLarge {
		a.splitLarge = true
	}
}
