// Package gossip is vipd's cluster layer, built on hashicorp/memberlist.
// VRRP stays the election; gossip gives every node the whole picture:
// which nodes are up (membership and failure detection), what each node's
// instances and checks say (NodeState, disseminated as deltas and by
// periodic push/pull), and the cluster-wide N-way orders (priority.Order,
// last writer wins on a Lamport version, persisted in a state file). It
// also answers "who else runs this VRRP instance" so unicast peers can
// come from gossip instead of a static list.
//
// Files, one concern each: types.go (the view: members, states, orders,
// events), cluster.go (lifecycle), config.go (memberlist profile and
// timings, detection time), keyring.go (encryption keys),
// delegate.go (memberlist callbacks), broadcast.go (dissemination),
// state.go (node states and peers), orders.go (last-writer-wins orders),
// statefile.go (persistence of orders and known members), join.go (join
// addresses, failures explained), reconnect.go (joining at start, then
// rejoining failed, listed and remembered members so that a healed
// partition merges), message.go and
// codec.go (wire format), meta.go (node meta), logbridge.go (memberlist's
// log lines into slog, rejections made explicit), errors.go.
//
// This package depends only on the configuration model (config),
// internal/clock and memberlist. It must not depend on the agent, the election code, the API
// or the cloud code: they read the cluster view through Cluster's methods
// and the OnChange callback.
package gossip
