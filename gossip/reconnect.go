package gossip

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/vipd/vipd/internal/clock"
)

// Rejoining. memberlist never talks to a member it declared dead again
// (no probe, no gossip, no push/pull), so two sides of a partition that
// lasted longer than failure detection stay split after it heals, each
// seeing the other dead, until someone joins across. As serf's reconnect
// and Consul's retry_join do, this node keeps trying, by a join (a
// push/pull over TCP), every address worth trying:
//
//   - members that failed, until the reconnect timeout after their failure
//     (a member that left on purpose is not tried);
//   - the join addresses that are not this node and not a live member's,
//     until the reconnect timeout after they were last a live member's
//     (or after the start);
//   - the members the state file remembered, until the reconnect timeout
//     after the start.
//
// While this node sees no other live member (at start, or after everyone
// else failed) it tries everything, with no time limit, and as fast as
// the start-up backoff allows.

// followUp is how soon a round comes after one that reached a member
// without taking it back. memberlist ignores an alive message of the
// incarnation it declared dead: unless the member was already forgotten
// (GossipToTheDeadTime after its death) or the refutation reaches it by
// gossip to the recently dead, the first exchange after a cut only makes
// both sides refute the other's verdict (each bumps its incarnation), and
// it takes a second one, once the refutations have spread on each side,
// to merge.
const followUp = time.Second

// maxFollowUps bounds the quick rounds in a row.
const maxFollowUps = 5

// target is one address the rejoin loop tries.
type target struct {
	what string // "join", "failed member" or "remembered member"
	raw  string // the join entry or the member's name, for logs
	name string // the member's name when known
	addr netip.AddrPort
}

// attempt is the outcome of one try.
type attempt struct {
	target
	ok bool
}

// rejoinLoop joins the configured and remembered members at start, then
// keeps rejoining what is worth it (see above) until ctx ends.
func (c *Cluster) rejoinLoop(ctx context.Context, ml *memberlist.Memberlist) {
	c.warnJoinSelf(ctx)
	// The waits after failed rounds while alone: growing from joinMin,
	// never longer than a round when not alone.
	failed := clock.Backoff{Min: c.joinMin, Max: min(c.joinMax, c.reconnectInterval)}
	quick := 0
	for ctx.Err() == nil {
		alone := c.numAlive.Load() <= 1
		targets := c.rejoinTargets(ctx, c.clk.Now(), alone)
		results := c.tryAll(ctx, ml, targets, alone)
		if ctx.Err() != nil {
			return
		}
		joined, pending := 0, false
		for _, r := range results {
			if r.ok {
				joined++
				// Only a known member can be reached yet not taken back
				// (a join address may be no member's address at all).
				pending = pending || r.name != "" && !c.aliveAt(r.addr)
			}
		}
		var wait time.Duration
		switch {
		case alone && joined == 0:
			if len(targets) > 0 {
				c.stats.joinFailures.Add(1)
			}
			wait = failed.Next()
		case pending && quick < maxFollowUps:
			wait = followUp
			quick++
		default:
			failed.Reset()
			quick = 0
			// Jittered so that nodes started together do not all dial at
			// once.
			wait = clock.Jitter(c.reconnectInterval, nil)
		}
		if !clock.Sleep(ctx, c.clk, wait) {
			return
		}
	}
}

// warnJoinSelf says, once at start, that the join list names nobody but
// this node: then only members that join it, failed members and the
// members remembered in the state file can connect it.
func (c *Cluster) warnJoinSelf(ctx context.Context) {
	if len(c.joins) == 0 {
		c.log.Info("gossip: no join addresses; waiting for members to join this node", "remembered", len(c.remembered))
		return
	}
	for _, j := range c.joins {
		if len(c.resolveJoin(ctx, j, false)) > 0 {
			return
		}
	}
	c.log.Warn("gossip: the join list names no other node (only this one, or names that do not resolve): "+
		"list the other nodes too; meanwhile only nodes that join this one, and the members remembered in the state file, are tried",
		"join", joinNames(c.joins), "remembered", len(c.remembered), "state_file", c.stateFile)
}

func joinNames(ts []joinTarget) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.raw)
	}
	return out
}

// rejoinTargets lists the addresses to try now, without duplicates, never
// this node's own or a live member's.
func (c *Cluster) rejoinTargets(ctx context.Context, now time.Time, alone bool) []target {
	fresh := func(since time.Time) bool { return alone || now.Sub(since) < c.reconnectTimeout }
	var out []target
	seen := map[netip.AddrPort]bool{}
	gone := map[netip.AddrPort]time.Time{} // addresses of failed and departed members: since when
	c.mu.Lock()
	c.reapLocked(now)
	known := map[string]bool{}
	for name, m := range c.members {
		known[name] = true
		if name == c.name || !m.Addr.IsValid() {
			continue
		}
		switch m.Status {
		case StatusAlive, StatusSuspect:
			seen[m.Addr] = true
		default:
			if t, ok := gone[m.Addr]; !ok || m.Since.After(t) {
				gone[m.Addr] = m.Since
			}
		}
	}
	for name, m := range c.members {
		if name != c.name && m.Status == StatusDead && m.Addr.IsValid() && !seen[m.Addr] && fresh(m.Since) {
			seen[m.Addr] = true
			out = append(out, target{what: "failed member", raw: name, name: name, addr: m.Addr})
		}
	}
	var remembered []target
	for _, m := range c.remembered {
		if !known[m.Name] && fresh(c.startedAt) {
			remembered = append(remembered, target{what: "remembered member", raw: m.Name, name: m.Name, addr: m.Addr})
		}
	}
	c.mu.Unlock()

	for _, j := range c.joins {
		for _, t := range c.resolveJoin(ctx, j, alone) {
			since, ok := gone[t.addr]
			if !ok {
				since = c.startedAt
			}
			if !seen[t.addr] && fresh(since) {
				seen[t.addr] = true
				out = append(out, t)
			}
		}
	}
	for _, t := range remembered {
		if !seen[t.addr] && !c.isSelf(t.addr) {
			seen[t.addr] = true
			out = append(out, t)
		}
	}
	return out
}

// aliveAt reports whether a live member other than this node has address
// ap.
func (c *Cluster) aliveAt(ap netip.AddrPort) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, m := range c.members {
		if name != c.name && m.Addr == ap && (m.Status == StatusAlive || m.Status == StatusSuspect) {
			return true
		}
	}
	return false
}

// tryAll joins every target at once (an address that drops packets holds
// its attempt for memberlist's TCP timeout, which must not delay the
// others) and returns the outcomes in the targets' order. Failures are
// logged as warnings when loud (this node has no live peer, so they
// matter), else for debugging; a peer refusing this node's key or cluster
// name is always an error.
func (c *Cluster) tryAll(ctx context.Context, ml *memberlist.Memberlist, targets []target, loud bool) []attempt {
	out := make([]attempt, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		out[i].target = t
		wg.Go(func() {
			if ctx.Err() != nil {
				return
			}
			if _, err := ml.Join([]string{t.addr.String()}); err != nil {
				c.logJoinFailure(t, err, loud)
				return
			}
			out[i].ok = true
			switch {
			case t.what != "join":
				c.log.Info("gossip: reconnected to a "+t.what, "node", t.name, "addr", t.addr)
			case loud:
				c.log.Info("gossip: joined", "join", t.raw, "addr", t.addr)
			default:
				// A join address that answers but is no member's address
				// (a name, an address translated on the way) is joined
				// again every round: no news.
				c.log.Debug("gossip: joined", "join", t.raw, "addr", t.addr)
			}
		})
	}
	wg.Wait()
	return out
}

// logLevel is the level of a failure that is not a rejection.
func logLevel(loud bool) slog.Level {
	if loud {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}
