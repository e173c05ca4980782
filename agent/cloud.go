package agent

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
)

// cloudStopTimeout bounds how long a graceful stop waits for the cloud
// actions to give up what they hold (an EBS volume's unmount and detach).
const cloudStopTimeout = 30 * time.Second

// imdsEndpointEnv is the AWS SDKs' standard variable for another instance
// metadata endpoint (tests, unusual platforms); unset means the usual one.
const imdsEndpointEnv = "AWS_EC2_METADATA_SERVICE_ENDPOINT"

// clouds holds the cloudmove Sets of the instances and sync groups that have
// a cloud section, and drives them from VRRP state: MASTER starts the
// actions, leaving MASTER gives up what must be given up, a re-assert
// re-checks everything. Instances report transitions from their own
// goroutines; Set methods return at once, so nothing here blocks them.
type clouds struct {
	log     *slog.Logger
	metrics func(owner, action string, d time.Duration, err error)
	poke    func()

	// follow ends followPeers' goroutine; wg waits for it.
	follow context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	sets   map[string]*cloudEntry // by owner key
	byInst map[string]string      // instance name → owner key
	master map[string]bool        // owner key → last told MASTER
}

type cloudEntry struct {
	owner cloudmove.Owner
	set   *cloudmove.Set
	ctx   context.CancelFunc
}

func newClouds(log *slog.Logger, metrics func(string, string, time.Duration, error), poke func()) *clouds {
	return &clouds{log: log.With("component", "cloud"), metrics: metrics, poke: poke,
		sets: map[string]*cloudEntry{}, byInst: map[string]string{}, master: map[string]bool{}}
}

func ownerKey(o cloudmove.Owner) string { return o.Kind + ":" + o.Name }

// configure converges the Sets on cfg's cloud owners: unchanged ones keep
// running (and their state), changed or removed ones are closed (without
// giving anything up: the new Set, or the next master, takes over), new
// ones created. Creating a Set reads instance metadata, so it can take a
// few seconds when the metadata service is slow or absent.
func (c *clouds) configure(cfg *config.Config) error {
	want := map[string]cloudmove.Owner{}
	for _, o := range cfg.CloudOwners() {
		want[ownerKey(o)] = o
	}
	c.mu.Lock()
	var stale []*cloudEntry
	for k, e := range c.sets {
		if o, ok := want[k]; !ok || !sameOwner(e.owner, o) {
			stale = append(stale, e)
			delete(c.sets, k)
			delete(c.master, k)
		}
	}
	c.mu.Unlock()
	for _, e := range stale {
		e.ctx()
		e.set.Close()
	}
	var errs []error
	byInst := map[string]string{}
	for k, o := range want {
		if o.Kind == "instance" {
			byInst[o.Name] = k
		} else if g := syncGroup(cfg, o.Name); g != nil {
			for _, m := range g.Instances {
				byInst[m] = k
			}
		}
		c.mu.Lock()
		_, have := c.sets[k]
		c.mu.Unlock()
		if have {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		set, err := cloudmove.New(ctx, o, cloudmove.Options{
			Logger: c.log.With(o.Kind, o.Name), Metrics: c.metrics, OnChange: c.poke,
			IMDSEndpoint: os.Getenv(imdsEndpointEnv),
		})
		if err != nil {
			cancel()
			c.log.Error("cloud actions not available", o.Kind, o.Name, "err", err)
			errs = append(errs, err)
			continue
		}
		c.mu.Lock()
		c.sets[k] = &cloudEntry{owner: o, set: set, ctx: cancel}
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.byInst = byInst
	c.mu.Unlock()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func sameOwner(a, b cloudmove.Owner) bool {
	return a.Interface == b.Interface && slices.Equal(a.VIPs, b.VIPs) && a.Cloud.SameSettings(b.Cloud)
}

func syncGroup(cfg *config.Config, name string) *config.SyncGroup {
	for _, g := range cfg.SyncGroups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// transition tells the instance's owner about a state change: an
// instance owner follows the instance; a sync group owner is MASTER when
// groupMaster says the whole group is.
func (c *clouds) transition(instance string, to fsm.State, groupMaster bool) {
	c.mu.Lock()
	k, ok := c.byInst[instance]
	e := c.sets[k]
	if !ok || e == nil {
		c.mu.Unlock()
		return
	}
	master := to == fsm.Master
	if e.owner.Kind == "sync_group" {
		master = groupMaster
	}
	was := c.master[k]
	c.master[k] = master
	c.mu.Unlock()
	switch {
	case master && !was:
		e.set.Master()
	case !master && was:
		e.set.Backup()
	case !master && to == fsm.Backup:
		// Entering BACKUP (at start, or back from FAULT): the Set looks
		// at the cloud again now, so that a failover soon after acts on
		// today's view, not on the one from start.
		e.set.Backup()
	}
}

// peerMaster tells the instance's owner that gossip shows another node
// as its master: a backup follows that node's round (Set.PeerMaster).
// For a sync group owner any member's master will do: the group moves
// together.
func (c *clouds) peerMaster(instance string) {
	c.mu.Lock()
	k := c.byInst[instance]
	e := c.sets[k]
	master := c.master[k]
	c.mu.Unlock()
	if e != nil && !master {
		e.set.PeerMaster()
	}
}

// reassert re-checks the owner's actions at once (another node acted as
// master for this instance).
func (c *clouds) reassert(instance string) {
	c.mu.Lock()
	e := c.sets[c.byInst[instance]]
	c.mu.Unlock()
	if e != nil {
		e.set.Reassert()
	}
}

// faulted reports whether the instance's owner failed with on_failure:
// fault, so that the instance goes to FAULT and another node can try.
func (c *clouds) faulted(instance string) bool {
	c.mu.Lock()
	e := c.sets[c.byInst[instance]]
	c.mu.Unlock()
	return e != nil && e.set.Faulted()
}

// status lists every action of every owner, for the API.
func (c *clouds) status() map[string][]cloudmove.ActionStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]cloudmove.ActionStatus{}
	for k, e := range c.sets {
		out[k] = e.set.Status()
	}
	return out
}

// followPeers watches the cluster's events (the hub the Watch API reads)
// for another node becoming master of an instance with a cloud owner, and
// tells that owner (peerMaster), until stop. self is this node's name: its
// own transitions come through transition.
func (c *clouds) followPeers(events *hub, self string) {
	ctx, cancel := context.WithCancel(context.Background())
	c.follow = cancel
	c.wg.Go(func() {
		for ctx.Err() == nil {
			w, unsubscribe := events.subscribe()
			c.watchPeers(ctx, w, self)
			unsubscribe() // fell behind, or stopping: subscribe again
		}
	})
}

func (c *clouds) watchPeers(ctx context.Context, w *watcher, self string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.behind:
			return
		case ev := <-w.ch:
			if ie := ev.Instance; ie != nil && ev.Node != self && ie.To == fsm.Master {
				c.peerMaster(ie.Name)
			}
		}
	}
}

// stop gives up what the Sets hold (graceful stop) and ends them.
func (c *clouds) stop() {
	if c.follow != nil {
		c.follow()
		c.wg.Wait()
	}
	c.mu.Lock()
	sets := c.sets
	c.sets = map[string]*cloudEntry{}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cloudStopTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for k, e := range sets {
		wg.Go(func() {
			if err := e.set.Stop(ctx); err != nil {
				c.log.Warn("cloud actions not all released", "owner", k, "err", err)
			}
			e.ctx()
		})
	}
	wg.Wait()
}
