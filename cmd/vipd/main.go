// Command vipd keeps service addresses alive: a keepalived-compatible VRRP
// speaker with health checks, gossip, an API and cloud actions.
//
// The data flow starts here: flags → load.File (config/load) → agent.Run → election
// instances → VIPs and adverts on the wire.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var ec exitCode
		if asExit(err, &ec) {
			os.Exit(int(ec))
		}
		fmt.Fprintln(os.Stderr, "vipd:", err)
		os.Exit(1)
	}
}
