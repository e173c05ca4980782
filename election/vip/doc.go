// Package vip puts virtual IP addresses on interfaces and tells the segment
// about them, the way keepalived 2.2.7 does (vrrp_ipaddress.c, vrrp_arp.c,
// vrrp_ndisc.c):
//
//   - Manager adds, removes and looks up addresses through netlink. IPv6
//     addresses are added with IFA_F_NODAD so that they are usable at
//     once; IPv4 ones get a label when given and no broadcast address,
//     like keepalived without "brd". Add and Remove are idempotent.
//   - Announcer sends, per address, one gratuitous ARP (IPv4) or one
//     unsolicited neighbour advertisement (IPv6) from the interface's MAC
//     through a packet socket. The GARP is an ARP request, as keepalived
//     sends: sender and target IP are the VIP, target MAC is broadcast,
//     to the Ethernet broadcast address. The NA goes from the VIP itself
//     to ff02::1 (33:33:00:00:00:01) with hop limit 255, override set,
//     solicited clear, router set when IPv6 forwarding is on for the
//     interface, and a target link-layer address option. Repeats and
//     delays (keepalived's garp_master_repeat, garp_interval) are the
//     caller's business.
//
// Both work in the network namespace of the thread that creates them (the
// Manager) or that first announces (the Announcer); a daemon lives in one
// namespace, so this only matters to tests. Both make their netlink
// requests from a goroutine of their own (see serial).
//
// This package must not depend on other vipd packages: the VRRP instances
// call it, not the other way round.
package vip
