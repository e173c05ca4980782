// Package transport sends and receives VRRP messages over raw IP protocol
// 112 sockets, one Conn per (address family, interface), shared by every
// VRRP instance on that interface; the caller demultiplexes by VRID.
//
// A Conn hands over the VRRP message only: on receive the IP header is
// stripped and its source, destination and TTL/hop limit are returned beside
// the payload; on send the kernel builds the IP header from the socket
// options and the per-packet source address.
//
// What goes on the wire matches keepalived 2.2.7 (vrrp.c, vrrp_if.c):
//
//   - IPv4: TOS 0xc0 (network control), DF clear, TTL 255 for multicast and
//     for unicast; Config.UnicastHopLimit (keepalived's unicast_ttl) changes
//     the unicast TTL.
//   - IPv6: traffic class 0xc0, hop limit 255 for multicast; for unicast
//     keepalived leaves the hop limit to the kernel (the interface's
//     hop_limit sysctl, normally 64, as in the golden captures) unless
//     unicast_ttl is set, and so does a Conn unless Config.UnicastHopLimit
//     is set.
//   - The IPv6 checksum is not computed by the kernel (no IPV6_CHECKSUM):
//     the codec in election/vrrp fills in and verifies the checksum of both
//     families itself, over the pseudo-header.
//   - Multicast sockets join 224.0.0.18 or ff02::12 on the interface only,
//     with multicast loop off, so a Conn never reads its own adverts. Every
//     socket sets IP_MULTICAST_ALL / IPV6_MULTICAST_ALL to 0, so that it
//     never receives a group joined by another socket. Raw IPv6 sockets
//     ignore that option, so ReadPacket also drops, in user space, any
//     multicast packet other than to the group the Conn itself joined.
//
// A receiver must require hop limit 255 only for multicast adverts: unicast
// ones may come from keepalived with 64, or across routers.
//
// This package is Linux only. It must not depend on other vipd packages (in
// particular not on the codec, election/vrrp): it moves bytes.
package transport
