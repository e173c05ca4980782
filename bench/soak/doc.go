// Package soak is vipd's chaos soak (issue 8, part 1): five `vipd agent`
// processes in network namespaces across two "AZ" subnets joined by a
// router (testbed.TwoAZ), with two VIPs whose priority orders are reversed,
// gossip-discovered unicast peers, and a random disturbance every few
// seconds: kill -9 and restart, SIGSTOP/SIGCONT, graceful restart, link
// down/up, packet loss, a protocol-112 drop between two nodes, a gossip
// port drop between two nodes, and a partition of the two zones longer
// than failure detection (16-22 s). The long profile also runs one
// partition of 11-12 minutes per run, longer than gossip's 10-minute
// expiries, at a random moment, and the usual disturbances the rest of
// the time. A sampler reads every node's addresses over netlink every
// 20 ms; afterwards the run is checked against the invariants:
//
//   - a VIP is unowned for at most the next holder's master-down interval
//   - 500 ms;
//   - two nodes hold a VIP at once only while adverts are really cut (a
//     protocol-112 drop, a SIGSTOPped holder, packet loss on a holder, a
//     partition) and never longer than the split-brain guard's bound after
//     that; any other overlap (no advert cut) is a hand-over of at most
//     250 ms;
//   - after each disturbance is reverted, each VIP returns to its preferred
//     node;
//   - no goroutine, file descriptor or memory growth in a vipd that lives
//     through the run.
//
// It runs only when VIPD_SOAK is set ("short": about 3 minutes, what CI
// runs from scripts/test.sh; "long": 30 minutes; or a Go duration for the
// disturbance phase). bench/soak/run.sh runs it and writes the "Chaos soak"
// section of docs/reliability.md.
//
// Everything is in _test.go files: the package ships no code. It depends on
// internal/lab and internal/testbed, never on the packages it disturbs.
package soak
