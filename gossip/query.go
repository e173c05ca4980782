package gossip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Queries are requests one node makes of another and waits for the answer
// of: the cluster-wide event history, read from each member where it is
// kept rather than gossiped. They travel like commands (memberlist's TCP
// stream, so encrypted and labelled) in both directions: the request to
// the member asked, the reply back to the asker's gossip address, never
// to whatever address a packet came from. Like commands, they need an
// encrypted cluster. The payloads are opaque here; the handler
// (Options' OnQuery, set with SetQueryHandler) gives them their meaning.

// Message types of queries. They are numbered apart from message.go's so
// that both can grow; receive hands them to receiveQuery before anything
// else decodes.
const (
	msgQuery      msgType = 0x40
	msgQueryReply msgType = 0x41
)

// Query size limits: a request is a filter; a reply is bounded well below
// memberlist's 20 MB stream limit.
const (
	MaxQueryRequest = 64 << 10
	MaxQueryReply   = 8 << 20
	// queryInbox bounds the requests waiting for the answering goroutine;
	// more are dropped (the asker times out and reports the member as not
	// answering).
	queryInbox = 16
)

// QueryHandler answers a query from another member. It runs on the
// cluster's own goroutine, one query at a time, so it may take a while
// (read a disk) but should not take seconds.
type QueryHandler func(from string, request []byte) ([]byte, error)

// QueryReply is a member's answer to Query.
type QueryReply struct {
	// Node is the member that answered.
	Node string
	// Payload is the handler's answer.
	Payload []byte
	// Now is the member's clock when it answered; Sent and Received are
	// this node's when the query left and the reply arrived: together an
	// estimate of the member's clock offset.
	Now, Sent, Received time.Time
}

// Offset estimates the member's clock minus this node's: its Now against
// the middle of the round trip, give or take RTT/2.
func (r QueryReply) Offset() time.Duration {
	mid := r.Sent.Add(r.Received.Sub(r.Sent) / 2)
	return r.Now.Sub(mid)
}

// RTT is the query's round trip.
func (r QueryReply) RTT() time.Duration { return r.Received.Sub(r.Sent) }

// queries is a Cluster's query state.
type queries struct {
	mu      sync.Mutex
	handler QueryHandler
	nextID  uint64
	pending map[uint64]*pendingQuery
	inbox   chan queryRequest
	once    sync.Once
}

type pendingQuery struct {
	to    string
	sent  time.Time
	reply chan QueryReply
	fail  chan string
}

type queryRequest struct {
	id      uint64
	from    string
	payload []byte
}

func (q *queries) init() {
	q.once.Do(func() {
		q.pending = map[uint64]*pendingQuery{}
		q.inbox = make(chan queryRequest, queryInbox)
	})
}

// SetQueryHandler sets what answers other members' queries; without one
// they get an error. Call it before Start.
func (c *Cluster) SetQueryHandler(h QueryHandler) {
	c.queries.mu.Lock()
	c.queries.handler = h
	c.queries.mu.Unlock()
}

// Query asks the alive member to to answer request, and waits for its
// reply until ctx ends.
func (c *Cluster) Query(ctx context.Context, to string, request []byte) (QueryReply, error) {
	q := &c.queries
	q.init()
	if c.keyring == nil {
		return QueryReply{}, ErrUnencrypted
	}
	if len(request) > MaxQueryRequest {
		return QueryReply{}, fmt.Errorf("%w: query of %d bytes", ErrInvalid, len(request))
	}
	if err := checkName("query target", to); err != nil {
		return QueryReply{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	c.lifeMu.Lock()
	ml, up := c.ml, c.started && !c.down
	c.lifeMu.Unlock()
	if !up {
		return QueryReply{}, ErrStopped
	}
	node, err := c.aliveNode(to)
	if err != nil {
		return QueryReply{}, err
	}
	p := &pendingQuery{to: to, sent: c.clk.Now(), reply: make(chan QueryReply, 1), fail: make(chan string, 1)}
	q.mu.Lock()
	q.nextID++
	id := q.nextID
	q.pending[id] = p
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		delete(q.pending, id)
		q.mu.Unlock()
	}()
	e := header(msgQuery)
	e.uvarint(id)
	e.str(c.name)
	e.str(string(request))
	if err := ml.SendReliable(node, e.b); err != nil {
		return QueryReply{}, fmt.Errorf("gossip: query %s: %w", to, err)
	}
	select {
	case r := <-p.reply:
		return r, nil
	case msg := <-p.fail:
		return QueryReply{}, fmt.Errorf("%s: %s", to, msg)
	case <-ctx.Done():
		return QueryReply{}, fmt.Errorf("%s did not answer: %w", to, ctx.Err())
	}
}

// aliveNode is memberlist's address of an alive member.
func (c *Cluster) aliveNode(name string) (*memberlist.Node, error) {
	c.mu.Lock()
	m, ok := c.members[name]
	c.mu.Unlock()
	if !ok || m.Status != StatusAlive {
		return nil, fmt.Errorf("gossip: %s is not an alive member", name)
	}
	return &memberlist.Node{Name: m.Name, Addr: net.IP(m.Addr.Addr().AsSlice()), Port: m.Addr.Port()}, nil
}

// receiveQuery takes query messages out of receive's way; it reports
// whether b was one (handled or dropped).
func (c *Cluster) receiveQuery(b []byte) bool {
	if len(b) == 0 || (msgType(b[0]) != msgQuery && msgType(b[0]) != msgQueryReply) {
		return false
	}
	q := &c.queries
	q.init()
	if c.keyring == nil {
		c.stats.rejectedCommands.Add(1)
		c.log.Warn("gossip: dropped a query: the cluster is not encrypted")
		return true
	}
	d := decoder{what: "query", b: b}
	t := msgType(d.byte("type"))
	if v := d.byte("version"); d.err == nil && v != codecVersion {
		d.off--
		d.fail("version", ErrVersion)
	}
	id := d.uvarint("id")
	from := d.str("from", maxName)
	switch t {
	case msgQuery:
		payload := d.str("request", MaxQueryRequest)
		d.end()
		if d.err != nil {
			c.stats.decodeErrors.Add(1)
			c.log.Warn("gossip: dropped undecodable query", "bytes", len(b), "err", d.error())
			return true
		}
		select {
		case q.inbox <- queryRequest{id: id, from: from, payload: []byte(payload)}:
		default:
			c.log.Warn("gossip: dropped a query: too many pending", "from", from)
		}
	case msgQueryReply:
		now := d.time("now")
		errText := d.str("error", maxText)
		payload := d.str("reply", MaxQueryReply)
		d.end()
		if d.err != nil {
			c.stats.decodeErrors.Add(1)
			c.log.Warn("gossip: dropped undecodable query reply", "bytes", len(b), "err", d.error())
			return true
		}
		q.mu.Lock()
		p := q.pending[id]
		q.mu.Unlock()
		if p == nil || p.to != from {
			// Late (the asker gave up) or not ours.
			return true
		}
		if errText != "" {
			select {
			case p.fail <- errText:
			default:
			}
			return true
		}
		select {
		case p.reply <- QueryReply{Node: from, Payload: []byte(payload), Now: now, Sent: p.sent, Received: c.clk.Now()}:
		default:
		}
	}
	return true
}

// queryLoop answers queries one at a time until ctx ends.
func (c *Cluster) queryLoop(ctx context.Context, ml *memberlist.Memberlist) {
	q := &c.queries
	q.init()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-q.inbox:
			c.answer(ml, r)
		}
	}
}

// answer runs the handler for one query and sends the reply to the
// asker's gossip address.
func (c *Cluster) answer(ml *memberlist.Memberlist, r queryRequest) {
	node, err := c.aliveNode(r.from)
	if err != nil || r.from == c.name {
		c.log.Warn("gossip: dropped a query from a node that is not an alive member", "from", r.from)
		return
	}
	c.queries.mu.Lock()
	h := c.queries.handler
	c.queries.mu.Unlock()
	var payload []byte
	if h == nil {
		err = errors.New("this node answers no queries")
	} else {
		payload, err = h(r.from, r.payload)
	}
	if err == nil && len(payload) > MaxQueryReply {
		err = fmt.Errorf("reply of %d bytes is over the limit of %d", len(payload), MaxQueryReply)
	}
	e := header(msgQueryReply)
	e.uvarint(r.id)
	e.str(c.name)
	e.time(c.clk.Now())
	if err != nil {
		msg := err.Error()
		if len(msg) > maxText {
			msg = msg[:maxText]
		}
		e.str(msg)
		e.str("")
	} else {
		e.str("")
		e.str(string(payload))
	}
	if err := ml.SendReliable(node, e.b); err != nil {
		c.log.Warn("gossip: cannot send a query reply", "to", r.from, "err", err)
	}
}
