package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vipd/vipd/history"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// This file is `vipd events` and `vipd why`: the cluster's history, and
// why an instance is where it is.

func newEventsCmd() *cobra.Command {
	var since, until, instance, node string
	var kinds []string
	var local bool
	var limit uint32
	var f *clientFlags
	cmd := &cobra.Command{
		Use:   "events [--since 1h] [--instance NAME] [--node NODE] [--kind KIND]... [--local]",
		Short: "Print the cluster's event history: transitions and why, checks, orders, commands",
		Long: `Print what happened, oldest first, on every member of the cluster: the
agent asks each member for its recorded history over gossip and merges
the answers by time (each node's own events always in their order).
Kinds: transition (with its reason and priority), priority (an effective
priority changed, and the arithmetic of checks, weights or order that
moved it), check (with its output),
order (who wrote which version), member, failover and maintenance (who
asked, through which API), guard (split-brain guard holds), cloud (each
action's outcome and time), reload (what changed).

The end says which members did not answer, and flags a member whose clock
looks more than a second off. --since and --until take a duration back
from now (90m, 24h) or a time (2026-12-06T03:00:00Z); --local reads the
agent's own history only.
` + connectHelp,
		Example: `  vipd events --since 1h
  vipd events --instance dns --kind transition --kind failover
  vipd events --since 2026-12-06T03:00:00Z --until 2026-12-06T03:30:00Z -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			req := &vipdv1.ListEventsRequest{Instance: instance, Node: node, Local: local, Limit: limit}
			var err error
			if req.Since, err = whenFlag("--since", since, now); err != nil {
				return err
			}
			if req.Until, err = whenFlag("--until", until, now); err != nil {
				return err
			}
			for _, k := range kinds {
				if _, err := history.ParseKind(k); err != nil {
					return fmt.Errorf("--kind: %v", err)
				}
				req.Kind = append(req.Kind, k)
			}
			resp, done, err := unary(f, cmd, func(ctx context.Context, c vipdv1.VipdServiceClient) (*vipdv1.ListEventsResponse, error) {
				return c.ListEvents(ctx, req)
			})
			if done || err != nil {
				return err
			}
			return printEvents(f.stdout, resp.GetEvents(), resp.GetSources())
		},
	}
	f = addClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "only events since then: a duration back (1h) or a time (RFC 3339)")
	fl.StringVar(&until, "until", "", "only events until then: a duration back or a time")
	fl.StringVar(&instance, "instance", "", "only that instance's events (and those about no instance: checks, members, reloads)")
	fl.StringVar(&node, "node", "", "only the events that node recorded")
	fl.StringArrayVar(&kinds, "kind", nil, "only these kinds (repeatable): "+kindList())
	fl.BoolVar(&local, "local", false, "this agent's history only (ask no other member)")
	fl.Uint32Var(&limit, "limit", 0, "at most this many of each node's newest events (default 1000)")
	return cmd
}

func kindList() string {
	var out []string
	for _, k := range history.Kinds {
		out = append(out, string(k))
	}
	return strings.Join(out, ", ")
}

// whenFlag reads a --since/--until value.
func whenFlag(name, v string, now time.Time) (*timestamppb.Timestamp, error) {
	if v == "" {
		return nil, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return timestamppb.New(now.Add(-d)), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return timestamppb.New(t), nil
	}
	return nil, fmt.Errorf("%s %q: want a duration back from now (1h, 90m) or a time such as 2026-12-06T03:00:00Z", name, v)
}

func newWhyCmd() *cobra.Command {
	var f *clientFlags
	cmd := &cobra.Command{
		Use:   "why INSTANCE",
		Short: "Explain who holds an instance, why that node and not the next, and what led there",
		Long: `Explain an instance's mastership: which node holds it, and why that node
and not the next one (the order and its places, the priority arithmetic
of checks and weights, maintenance, the split-brain guard), each node's
side as the node itself reports it, and the chain of events across the
cluster that led there. A member that does not answer is shown as gossip
last saw it, and named at the end.
` + connectHelp,
		Example: `  vipd why dns
  vipd why dns -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, done, err := unary(f, cmd, func(ctx context.Context, c vipdv1.VipdServiceClient) (*vipdv1.WhyResponse, error) {
				return c.Why(ctx, &vipdv1.WhyRequest{Instance: args[0]})
			})
			if done || err != nil {
				return err
			}
			return printWhy(f.stdout, resp, time.Now())
		},
	}
	f = addClientFlags(cmd)
	return cmd
}

func printWhy(w io.Writer, r *vipdv1.WhyResponse, now time.Time) error {
	for _, l := range r.GetExplanation() {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	tw := table(w)
	fmt.Fprintln(tw, "NODE\tSTATE\tPRIORITY\tCONFIGURED\tORDER\tFAILED CHECKS\tHELD\tSINCE")
	for _, n := range r.GetNodes() {
		st := enumName(n.GetState().String(), "INSTANCE_STATE_", false)
		if n.GetMaintenance() {
			st += " (maintenance)"
		}
		if !n.GetAnswered() {
			st += " (no answer)"
		}
		place := "-"
		if n.GetOrderPlace() > 0 {
			place = fmt.Sprint(n.GetOrderPlace())
		}
		base := "-"
		if n.GetBasePriority() > 0 && n.GetOrderPlace() == 0 { // an order sets the priority
			base = fmt.Sprint(n.GetBasePriority())
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", n.GetNode(), st, n.GetPriority(), base, place,
			dash(strings.Join(n.GetFailedChecks(), ", ")), dash(oneLine(n.GetHeld(), 50)), ago(n.GetSince(), now))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.GetChain()) > 0 {
		fmt.Fprintln(w, "\nEvents that led here:")
		if err := printEventTable(w, r.GetChain()); err != nil {
			return err
		}
	}
	return printSources(w, r.GetSources())
}

func printEvents(w io.Writer, evs []*vipdv1.HistoryEvent, sources []*vipdv1.EventSource) error {
	if len(evs) == 0 {
		fmt.Fprintln(w, "no events")
	} else if err := printEventTable(w, evs); err != nil {
		return err
	}
	return printSources(w, sources)
}

func printEventTable(w io.Writer, evs []*vipdv1.HistoryEvent) error {
	tw := table(w)
	fmt.Fprintln(tw, "TIME\tNODE\tKIND\tINSTANCE\tWHAT")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.GetTime().AsTime().Local().Format("2006-01-02T15:04:05.000"),
			e.GetNode(), e.GetKind(), dash(e.GetInstance()), historyText(e))
	}
	return tw.Flush()
}

// printSources names the members that did not answer and the clocks that
// look off.
func printSources(w io.Writer, sources []*vipdv1.EventSource) error {
	var answered []string
	for _, s := range sources {
		if s.GetAnswered() {
			answered = append(answered, fmt.Sprintf("%s (%d)", s.GetNode(), s.GetEvents()))
		}
	}
	fmt.Fprintf(w, "\nanswered: %s\n", dash(strings.Join(answered, ", ")))
	for _, s := range sources {
		if !s.GetAnswered() {
			fmt.Fprintf(w, "did not answer: %s: %s\n", s.GetNode(), s.GetError())
		}
		for _, sk := range s.GetSkew() {
			fmt.Fprintf(w, "clock skew: %s: %s\n", s.GetNode(), sk)
		}
	}
	return nil
}

// historyText is an event's WHAT column: what happened and why.
func historyText(e *vipdv1.HistoryEvent) string {
	var b strings.Builder
	add := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	switch history.Kind(e.GetKind()) {
	case history.KindTransition:
		add("%s -> %s, priority %d", dash(e.GetFrom()), e.GetTo(), e.GetPriority())
		if e.GetPreviousPriority() != 0 && e.GetPreviousPriority() != e.GetPriority() {
			add(" (was %d)", e.GetPreviousPriority())
		}
		if e.GetMaster() != "" {
			add(", master %s", e.GetMaster())
		}
		add(": %s [%s]", dash(e.GetReason()), e.GetCause())
	case history.KindPriority:
		add("priority %d -> %d", e.GetPreviousPriority(), e.GetPriority())
		if e.GetTo() == "FAULT" {
			add(", FAULT")
		}
		add(": %s", e.GetReason())
	case history.KindCheck:
		add("check %s: %s -> %s", e.GetCheck(), dash(e.GetFrom()), e.GetTo())
		if e.GetOutput() != "" {
			add(": %s", oneLine(e.GetOutput(), 80))
		}
	case history.KindOrder:
		add("order v%d by %s: %s", e.GetVersion(), dash(e.GetOrigin()), e.GetDetail())
	case history.KindMember:
		add("member %s: %s -> %s", e.GetOrigin(), dash(e.GetFrom()), e.GetTo())
	case history.KindFailover:
		add("failover")
		if e.GetFrom() != "" {
			add(" from %s", e.GetFrom())
		}
		if e.GetTo() != "" {
			add(" to %s", e.GetTo())
		}
		add(" requested on %s", dash(e.GetOrigin()))
		if e.GetVia() != "" {
			add(" via %s", e.GetVia())
		}
		if e.GetCaller() != "" {
			add(" by %s", e.GetCaller())
		}
		if e.GetDetail() != "" {
			add("; %s", e.GetDetail())
		}
	case history.KindMaintenance:
		add("maintenance %s -> %s: %s", dash(e.GetFrom()), e.GetTo(), e.GetReason())
		if e.GetCaller() != "" {
			add(" (via %s by %s)", e.GetVia(), e.GetCaller())
		}
	case history.KindGuard:
		add("split-brain guard: %s: %s", e.GetTo(), e.GetReason())
	case history.KindCloud:
		add("cloud %s in %s", e.GetDetail(), dur(e.GetDuration()))
	case history.KindReload:
		add("reload (%s): %s", e.GetReason(), e.GetDetail())
	default:
		add("%s", e.GetReason())
	}
	if e.GetError() != "" {
		add("; error: %s", oneLine(e.GetError(), 120))
	}
	return b.String()
}
