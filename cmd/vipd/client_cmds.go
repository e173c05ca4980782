package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The API client commands. Each connects (client.go), makes one call and
// prints the answer as an aligned table (render.go), or as protojson with -o json.

const connectHelp = `
By default the command talks to the local agent over its unix socket
(--socket, default /run/vipd/vipd.sock; root or the socket's group). With
--addr HOST:PORT it uses TCP: TLS unless HOST is a loopback address, with
--tls-ca to verify the agent and --tls-cert/--tls-key if it wants a client
certificate; --token-file sends a bearer token. Over TCP, commands
(failover, maintenance, order, reload) need the agent's api.token_file
token, loopback included; reads need a token (that one or
api.read_token_file's) unless the agent has none or sets public_read.`

func newStatusCmd() *cobra.Command {
	var cluster bool
	var f *clientFlags
	cmd := &cobra.Command{
		Use:   "status [--cluster]",
		Short: "Show the agent's instances, checks and drops (or the cluster view)",
		Long: `Show the node's own view of itself: every VRRP instance with its state,
priorities, master and VIPs, every health check with its verdict and last
run, and the adverts it dropped. With --cluster, show the cluster as this
node's gossip sees it instead: each member's instances and the orders.
` + connectHelp,
		Example: `  vipd status
  vipd status --cluster
  vipd status --addr 198.51.100.2:9746 --tls-ca ca.pem --token-file /etc/vipd/api.token -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.connect(cmd); err != nil {
				return err
			}
			defer f.close()
			ctx, cancel := f.callContext(cmd)
			defer cancel()
			if cluster {
				resp, err := f.client.GetCluster(ctx, &vipdv1.GetClusterRequest{})
				if err != nil {
					return f.explain(err)
				}
				if f.jsonOut {
					return f.printJSON(resp, false)
				}
				return printCluster(f.stdout, resp, time.Now())
			}
			resp, err := f.client.GetStatus(ctx, &vipdv1.GetStatusRequest{})
			if err != nil {
				return f.explain(err)
			}
			if f.jsonOut {
				return f.printJSON(resp, false)
			}
			return printStatus(f.stdout, resp, time.Now())
		},
	}
	f = addClientFlags(cmd)
	cmd.Flags().BoolVar(&cluster, "cluster", false, "show the cluster view (every member's instances, orders) instead")
	return cmd
}

func newMembersCmd() *cobra.Command {
	var f *clientFlags
	cmd := &cobra.Command{
		Use:   "members",
		Short: "List the gossip members the agent knows, with their state",
		Long: `List the gossip members the agent knows of, itself included, with their
gossip address, liveness (alive, suspect, dead, left) and since when, zone,
vipd version and API address.
` + connectHelp,
		Example: `  vipd members
  vipd members -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, done, err := unary(f, cmd, func(ctx context.Context, c vipdv1.VipdServiceClient) (*vipdv1.ListMembersResponse, error) {
				return c.ListMembers(ctx, &vipdv1.ListMembersRequest{})
			})
			if done || err != nil {
				return err
			}
			return printMembers(f.stdout, resp.GetMembers(), time.Now())
		},
	}
	f = addClientFlags(cmd)
	return cmd
}

func newWatchCmd() *cobra.Command {
	var instance string
	var cluster bool
	var types []string
	var f *clientFlags
	cmd := &cobra.Command{
		Use:   "watch [--instance NAME] [--cluster] [--type KIND]...",
		Short: "Print events as they happen: transitions, checks, members, orders",
		Long: `Stream events from the agent until interrupted (Ctrl-C): instance
transitions, health check changes, gossip membership changes and order
changes, one line each (-o json: one JSON object a line). Past events are
not replayed; run vipd status first for the current state.

--instance keeps only that instance's transitions and order changes (check
and member events are kept); --cluster adds other nodes' transitions and
check changes as gossip reports them; --type (instance, check, member,
order; repeatable) keeps only those kinds.
` + connectHelp,
		Example: `  vipd watch
  vipd watch --instance VI_1 --cluster
  vipd watch --type instance --type order -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &vipdv1.WatchRequest{Instance: instance, Cluster: cluster}
			for _, t := range types {
				v, ok := vipdv1.EventType_value["EVENT_TYPE_"+strings.ToUpper(t)]
				if !ok || v == 0 {
					return fmt.Errorf("--type %q: want instance, check, member or order", t)
				}
				req.Types = append(req.Types, vipdv1.EventType(v))
			}
			if err := f.connect(cmd); err != nil {
				return err
			}
			defer f.close()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			stream, err := f.client.Watch(ctx, req)
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted before it began
				}
				return f.explain(err)
			}
			for {
				ev, err := stream.Recv()
				switch {
				case errors.Is(err, io.EOF):
					return nil
				case err != nil && ctx.Err() != nil && status.Code(err) == codes.Canceled:
					return nil // interrupted
				case err != nil:
					return f.explain(err)
				}
				if f.jsonOut {
					err = f.printJSON(ev, true)
				} else {
					_, err = fmt.Fprintln(f.stdout, eventLine(ev))
				}
				if err != nil {
					return err
				}
			}
		},
	}
	f = addClientFlags(cmd)
	cmd.Flags().StringVar(&instance, "instance", "", "only this instance's transitions and order changes")
	cmd.Flags().BoolVar(&cluster, "cluster", false, "also other nodes' transitions and check changes (from gossip)")
	cmd.Flags().StringArrayVar(&types, "type", nil, "only these kinds of event: instance, check, member, order (repeatable)")
	return cmd
}

func newFailoverCmd() *cobra.Command {
	var to string
	var f *clientFlags
	cmd := &cobra.Command{
		Use:   "failover INSTANCE [--to NODE]",
		Short: "Move the master role of an instance to another node",
		Long: `Move the master role of INSTANCE: to NODE with --to, otherwise away from
its current master to the best other node. Any node accepts the request and
forwards it to the node that must act. The move is asynchronous: the
command returns when it is accepted; vipd watch --instance INSTANCE shows it
happen.
` + connectHelp,
		Example: `  vipd failover VI_1
  vipd failover VI_1 --to lb2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, done, err := unary(f, cmd, func(ctx context.Context, c vipdv1.VipdServiceClient) (*vipdv1.FailoverResponse, error) {
				return c.Failover(ctx, &vipdv1.FailoverRequest{Instance: args[0], TargetNode: to})
			})
			if done || err != nil {
				return err
			}
			target := "the best other node"
			if to != "" {
				target = to
			}
			fmt.Fprintf(f.stdout, "failover of %s to %s accepted by %s%s", args[0], target, resp.GetNode(), forwarded(resp.GetForwarded()))
			if pm := resp.GetPreviousMaster(); pm != "" {
				fmt.Fprintf(f.stdout, "; master was %s", pm)
			}
			fmt.Fprintf(f.stdout, "\nfollow it with: vipd watch --instance %s --cluster\n", args[0])
			return nil
		},
	}
	f = addClientFlags(cmd)
	cmd.Flags().StringVar(&to, "to", "", "the node that should become master (default: the best other node)")
	return cmd
}

func newMaintenanceCmd() *cobra.Command {
	var f *clientFlags
	cmd := &cobra.Command{
		Use:   "maintenance NODE on|off",
		Short: "Drain a node (it hands over and stays BACKUP) or release it",
		Long: `Put NODE in maintenance ("on"): it hands over every instance it is master
of and stays BACKUP, never taking over, until released ("off"). Any node
accepts the request and forwards it to NODE.
` + connectHelp,
		Example: `  vipd maintenance lb1 on
  vipd maintenance lb1 off`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var on bool
			switch strings.ToLower(args[1]) {
			case "on":
				on = true
			case "off":
			default:
				return fmt.Errorf("%q: want on or off", args[1])
			}
			resp, done, err := unary(f, cmd, func(ctx context.Context, c vipdv1.VipdServiceClient) (*vipdv1.SetMaintenanceResponse, error) {
				return c.SetMaintenance(ctx, &vipdv1.SetMaintenanceRequest{Node: args[0], Enabled: on})
			})
			if done || err != nil {
				return err
			}
			state := "off"
			if resp.GetEnabled() {
				state = "on"
			}
			fmt.Fprintf(f.stdout, "%s: maintenance %s%s\n", resp.GetNode(), state, forwarded(resp.GetForwarded()))
			if h := resp.GetHandedOver(); len(h) > 0 {
				fmt.Fprintf(f.stdout, "handing over: %s\n", strings.Join(h, ", "))
			}
			return nil
		},
	}
	f = addClientFlags(cmd)
	return cmd
}

func newOrderCmd() *cobra.Command {
	var expected uint64
	var disabled []string
	var f *clientFlags
	cmd := &cobra.Command{
		Use:   "order INSTANCE [NODE...] [--expected-version N] [--disabled NODE]...",
		Short: "Show or set the order of nodes of an N-way instance",
		Long: `With only INSTANCE, show its cluster-wide order of nodes. With nodes, replace
the order: the first healthy, enabled node should be master. --disabled
takes listed nodes out of service without removing them; --expected-version
makes the change conditional on the current version (the version shown by
this command), so that two editors cannot overwrite each other.
` + connectHelp,
		Example: `  vipd order testdns0
  vipd order testdns0 cnh sby wcdc --expected-version 7
  vipd order testdns0 cnh sby wcdc --disabled sby`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, nodes := args[0], args[1:]
			if len(nodes) == 0 && (expected != 0 || len(disabled) > 0) {
				return errors.New("--expected-version and --disabled need the new order's nodes")
			}
			req := &vipdv1.SetOrderRequest{Instance: inst, ExpectedVersion: expected}
			off := map[string]bool{}
			for _, d := range disabled {
				off[d] = true
			}
			seen := map[string]bool{}
			for _, n := range nodes {
				if seen[n] {
					return fmt.Errorf("node %q is listed twice", n)
				}
				seen[n] = true
				req.Nodes = append(req.Nodes, &vipdv1.OrderNode{Name: n, Disabled: off[n]})
				delete(off, n)
			}
			if len(off) > 0 {
				left := slices.Sorted(maps.Keys(off))
				return fmt.Errorf("--disabled %q is not in the order", left[0])
			}
			if err := f.connect(cmd); err != nil {
				return err
			}
			defer f.close()
			ctx, cancel := f.callContext(cmd)
			defer cancel()
			var order *vipdv1.Order
			if len(nodes) == 0 {
				resp, err := f.client.GetCluster(ctx, &vipdv1.GetClusterRequest{})
				if err != nil {
					return f.explain(err)
				}
				for _, o := range resp.GetOrders() {
					if o.GetInstance() == inst {
						order = o
					}
				}
				if order == nil {
					return fmt.Errorf("no order for instance %q in the cluster", inst)
				}
			} else {
				resp, err := f.client.SetOrder(ctx, req)
				if err != nil {
					return f.explain(err)
				}
				order = resp.GetOrder()
			}
			if f.jsonOut {
				return f.printJSON(order, false)
			}
			return printOrder(f.stdout, order)
		},
	}
	f = addClientFlags(cmd)
	cmd.Flags().Uint64Var(&expected, "expected-version", 0, "refuse the change unless the current order has this version")
	cmd.Flags().StringArrayVar(&disabled, "disabled", nil, "a listed node to take out of service (repeatable)")
	return cmd
}

// unary connects, makes one call and, with -o json, prints the answer:
// done is then true. Otherwise the caller prints resp as a table.
func unary[R proto.Message](f *clientFlags, cmd *cobra.Command, call func(context.Context, vipdv1.VipdServiceClient) (R, error)) (resp R, done bool, err error) {
	if err := f.connect(cmd); err != nil {
		return resp, false, err
	}
	defer f.close()
	ctx, cancel := f.callContext(cmd)
	defer cancel()
	resp, err = call(ctx, f.client)
	if err != nil {
		return resp, false, f.explain(err)
	}
	if f.jsonOut {
		return resp, true, f.printJSON(resp, false)
	}
	return resp, false, nil
}
