package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Rendering of the API client commands' answers (client_cmds.go makes the
// calls): aligned tables for people, one line per Watch event, and the
// small formatters they share. -o json bypasses all of it (printJSON).

func forwarded(yes bool) string {
	if yes {
		return " (forwarded)"
	}
	return ""
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func printStatus(w io.Writer, s *vipdv1.GetStatusResponse, now time.Time) error {
	maint := "no"
	if s.GetMaintenance() {
		maint = "yes (drained)"
	}
	fmt.Fprintf(w, "node %s, vipd %s, up %s, maintenance: %s\n\n", s.GetNode(), s.GetVersion(), dur(s.GetUptime()), maint)
	tw := table(w)
	fmt.Fprintln(tw, "INSTANCE\tVRID\tFAMILY\tINTERFACE\tSTATE\tSINCE\tPRIORITY\tMASTER\tVIPS\tREASON")
	for _, in := range s.GetInstances() {
		state := enumName(in.GetState().String(), "INSTANCE_STATE_", false)
		if in.GetGuarded() {
			state += " (guarded)"
		} else if in.GetHeld() {
			state += " (held)"
		}
		prio := strconv.Itoa(int(in.GetEffectivePriority()))
		if in.GetEffectivePriority() != in.GetBasePriority() {
			prio += fmt.Sprintf(" (base %d)", in.GetBasePriority())
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.GetName(), in.GetVrid(), family(in.GetFamily()),
			in.GetInterface(), state, ago(in.GetSince(), now), prio, dash(in.GetMasterAddress()),
			dash(strings.Join(in.GetVips(), ",")), dash(in.GetReason()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.GetChecks()) > 0 {
		fmt.Fprintln(w)
		tw = table(w)
		fmt.Fprintln(tw, "CHECK\tKIND\tSTATE\tSINCE\tLAST RUN\tTOOK\tRUNS\tFAILED\tOUTPUT")
		for _, c := range s.GetChecks() {
			out := c.GetLastOutput()
			if e := c.GetLastError(); e != "" {
				out = e
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", c.GetName(), enumName(c.GetKind().String(), "CHECK_KIND_", true),
				enumName(c.GetState().String(), "CHECK_STATE_", false), ago(c.GetSince(), now), ago(c.GetLastRun(), now),
				dur(c.GetLastDuration()), c.GetRuns(), c.GetFailures(), dash(oneLine(out, 60)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if err := printCloudActions(w, s.GetCloudActions(), now); err != nil {
		return err
	}
	if len(s.GetDrops()) > 0 {
		var parts []string
		for _, d := range s.GetDrops() {
			parts = append(parts, fmt.Sprintf("%s=%d", d.GetReason(), d.GetCount()))
		}
		fmt.Fprintf(w, "\ndropped adverts: %s\n", strings.Join(parts, " "))
	}
	return nil
}

// printCloudActions lists the cloud actions with their last error and
// its age: an error stays until a later success, so an owner in FAULT
// (on_failure: fault) still shows why after its release.
func printCloudActions(w io.Writer, cas []*vipdv1.CloudAction, now time.Time) error {
	if len(cas) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := table(w)
	fmt.Fprintln(tw, "CLOUD ACTION	OWNER	STATE	SINCE	TOOK	ATTEMPTS	DETAIL	LAST ERROR")
	for _, ca := range cas {
		last := "-"
		if e := ca.GetError(); e != "" {
			last = oneLine(e, 80)
			if ca.GetErrorAt() != nil {
				last += " (" + ago(ca.GetErrorAt(), now) + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", ca.GetName(), ca.GetOwner(), ca.GetState(),
			ago(ca.GetSince(), now), dur(ca.GetTook()), ca.GetAttempts(), dash(oneLine(ca.GetDetail(), 60)), last)
	}
	return tw.Flush()
}

func printMembers(w io.Writer, ms []*vipdv1.Member, now time.Time) error {
	tw := table(w)
	fmt.Fprintln(tw, "NAME\tADDRESS\tSTATUS\tSINCE\tZONE\tVERSION\tAPI")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.GetName(), dash(m.GetAddress()),
			enumName(m.GetStatus().String(), "MEMBER_STATUS_", true), ago(m.GetSince(), now),
			dash(m.GetAvailabilityZone()), dash(m.GetVersion()), dash(m.GetApiAddress()))
	}
	return tw.Flush()
}

func printCluster(w io.Writer, c *vipdv1.GetClusterResponse, now time.Time) error {
	fmt.Fprintf(w, "cluster %s, seen from %s\n\n", dash(c.GetCluster()), c.GetNode())
	tw := table(w)
	fmt.Fprintln(tw, "NODE\tSTATUS\tINSTANCE\tVRID\tFAMILY\tSTATE\tSINCE\tPRIORITY\tMASTER\tREASON")
	for _, n := range c.GetNodes() {
		m := n.GetMember()
		st := enumName(m.GetStatus().String(), "MEMBER_STATUS_", true)
		if len(n.GetInstances()) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t\t\t\t\t\t\t\n", m.GetName(), st)
		}
		for _, in := range n.GetInstances() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", m.GetName(), st, in.GetName(), in.GetVrid(),
				family(in.GetFamily()), enumName(in.GetState().String(), "INSTANCE_STATE_", false), ago(in.GetSince(), now),
				in.GetPriority(), dash(in.GetMasterAddress()), dash(in.GetReason()))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range c.GetOrders() {
		fmt.Fprintf(w, "\norder ")
		if err := printOrder(w, o); err != nil {
			return err
		}
	}
	return nil
}

func printOrder(w io.Writer, o *vipdv1.Order) error {
	var names []string
	for _, n := range o.GetNodes() {
		name := n.GetName()
		if n.GetDisabled() {
			name += " (disabled)"
		}
		names = append(names, name)
	}
	_, err := fmt.Fprintf(w, "%s: %s (version %d by %s)\n", o.GetInstance(), strings.Join(names, ", "), o.GetVersion(), dash(o.GetOrigin()))
	return err
}

// eventLine renders one Watch event on one line.
func eventLine(ev *vipdv1.WatchResponse) string {
	t := "-"
	if ev.GetTime() != nil {
		t = ev.GetTime().AsTime().Local().Format("2006-01-02T15:04:05.000")
	}
	head := t + "  " + ev.GetNode() + "  "
	switch e := ev.GetEvent().(type) {
	case *vipdv1.WatchResponse_Instance:
		in := e.Instance
		s := fmt.Sprintf("instance %s (vrid %d %s): %s -> %s, priority %d", in.GetName(), in.GetVrid(), family(in.GetFamily()),
			enumName(in.GetFrom().String(), "INSTANCE_STATE_", false), enumName(in.GetTo().String(), "INSTANCE_STATE_", false), in.GetPriority())
		if m := in.GetMasterAddress(); m != "" {
			s += ", master " + m
		}
		if r := in.GetReason(); r != "" {
			s += ": " + r
		}
		return head + s
	case *vipdv1.WatchResponse_Check:
		c := e.Check
		s := fmt.Sprintf("check %s: %s -> %s", c.GetName(), enumName(c.GetFrom().String(), "CHECK_STATE_", false),
			enumName(c.GetTo().String(), "CHECK_STATE_", false))
		if o := c.GetOutput(); o != "" {
			s += ": " + oneLine(o, 80)
		}
		return head + s
	case *vipdv1.WatchResponse_Member:
		m := e.Member.GetMember()
		return head + fmt.Sprintf("member %s (%s): %s -> %s", m.GetName(), dash(m.GetAddress()),
			enumName(e.Member.GetPreviousStatus().String(), "MEMBER_STATUS_", true), enumName(m.GetStatus().String(), "MEMBER_STATUS_", true))
	case *vipdv1.WatchResponse_Order:
		var b strings.Builder
		b.WriteString("order ")
		printOrder(&b, e.Order.GetOrder())
		return head + strings.TrimSuffix(b.String(), "\n")
	case *vipdv1.WatchResponse_History:
		return head + e.History.GetKind() + " " + dash(e.History.GetInstance()) + ": " + historyText(e.History)
	}
	return head + "unknown event"
}

func family(f vipdv1.AddressFamily) string {
	switch f {
	case vipdv1.AddressFamily_ADDRESS_FAMILY_IPV4:
		return "IPv4"
	case vipdv1.AddressFamily_ADDRESS_FAMILY_IPV6:
		return "IPv6"
	}
	return "-"
}

// ago renders a past time as its age ("3m12s"), "-" if unset.
func ago(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "-"
	}
	d := now.Sub(ts.AsTime())
	if d < 0 {
		d = 0
	}
	return roundDur(d) + " ago"
}

func dur(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	return roundDur(d.AsDuration())
}

// roundDur keeps a duration readable: ms below a second, whole seconds
// below a day, then days and hours.
func roundDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < 24*time.Hour:
		return d.Round(time.Second).String()
	}
	days := int(d / (24 * time.Hour))
	return fmt.Sprintf("%dd%dh", days, int((d-time.Duration(days)*24*time.Hour)/time.Hour))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a multi-line output table-friendly: newlines become " | "
// and it is cut to max runes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ")), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
