// Package cloudmove moves AWS resources to a node when it becomes master:
// ENI secondary private IPs, Elastic IPs, VPC routes and EBS volumes. It
// replaces the notify_master scripts people write around keepalived on
// AWS, and is faster and safer than they are: every action starts at
// once, checks before it acts, retries throttling and server errors with
// jittered backoff within its own budget, never repeats a change whose
// answer was lost without looking first, and verifies the outcome.
//
// # Use
//
// The agent builds one Set per instance or sync group that has a cloud
// section (an Owner; config.Config.CloudOwners lists them) and drives it
// from the VRRP state:
//
//	set, err := cloudmove.New(ctx, owner, cloudmove.Options{Logger: log, OnChange: kick})
//	// on MASTER:                 set.Master()
//	// on BACKUP or FAULT:        set.Backup()
//	// another node is master:    set.PeerMaster()
//	// on a re-assert event:      set.Reassert()
//	// on graceful stop:          set.Stop(ctx)
//	// for the API:               set.Status(), set.Permissions()
//	// for priority:              set.Faulted() (on_failure: fault)
//
// New reads this node's identity from instance metadata (IMDSv2 only:
// instance id, region, zone, and per MAC address the ENI, subnet, VPC and
// private addresses), resolves every id the actions need (the ENI behind
// an interface, route tables found by subnet tags, the allocation of an
// Elastic IP given by address), looks at each resource once and checks the
// mutating calls' permissions with DryRun (unless skip_dry_run); a missing
// permission is logged and shown in Status by name. A background refresh
// repeats the resolution and the look every refresh_interval, on entering
// BACKUP, and after PeerMaster until the other node's routes are in place,
// so that a failover makes nothing but the mutating calls (and the
// verifying looks after them). New fails
// only when instance metadata cannot be read; problems of single actions
// are retried by the refresh and by the first master round, which looks
// before it acts while no look has succeeded (an unknown view).
//
// Master returns at once; Wait waits for every action to be verified (or
// failed). While master, each action is looked at again every
// reconcile_interval (and at once on Reassert) and re-asserted when it was
// moved away: the split-brain loser's late calls are undone. An action
// that fails with an error that cannot succeed by retrying (an unknown id,
// a denied permission) is reported at once; one that keeps failing on
// retryable errors is reported failed when its retry_budget runs out and
// keeps trying. With on_failure: fault, either makes Faulted true for
// fault_hold, so that the agent can put the owner in FAULT and let another
// node try; OnChange tells the agent when Faulted or a status changes.
//
// Backup and Stop give up what must be given up: an EBS volume is
// unmounted and detached, once (the other resources are simply taken by
// the next master). A node that dies holding a volume cannot detach it:
// the new master polls the volume every 250 ms and forces the detachment
// at force_detach_after from becoming master. Each action's last error and
// its time stay in Status until a later success; Options.Metrics gets the
// owner and the operation (Operations), never a resource id.
// Close (or the end of New's context) stops the Set without giving
// anything up, as a crash would.
//
// # Configuration
//
// This package owns the section's settings (Config, DefaultConfig, one
// XConfig per kind beside the kind's behaviour), their defaults and their
// rules: Validate checks every owner's section, and that no resource is
// moved by two actions, and returns a ValidationError of FieldErrors,
// each naming its field below the section as the native format spells it
// ("actions[1].route.destination"). Package config decodes files into
// these types and reports each FieldError at the line its field was
// written; it states none of the rules again. This package does not
// import config.
//
// # Actions
//
//   - secondary_ip: AssignPrivateIpAddresses with AllowReassignment on the
//     ENI behind the interface (found by MAC address). AWS only moves a
//     private address within its subnet, so only between nodes of one AZ.
//     Verified with DescribeNetworkInterfaces.
//   - elastic_ip: AssociateAddress with AllowReassociation, optionally to a
//     given private address of the ENI (an Elastic IP on a secondary_ip
//     address of the same Set waits for that address). Works across AZs.
//   - route: ReplaceRoute, or CreateRoute where the route is missing, in
//     every listed table, or every table of the VPC's subnets with the
//     given tags (the main table only with include_main), all tables in
//     parallel. Works across AZs. A warning is logged when the ENI's
//     source/dest check is on.
//   - ebs: a sequence of its own: wait for the old holder (forcing at
//     force_detach_after), AttachVolume, poll the attachment and the block
//     device, mount (optional); on BACKUP or STOP unmount and DetachVolume,
//     polling until the volume is free.
//
// Credentials come from the instance role first, then the SDK's default
// chain; the region from the section, else instance metadata; the
// endpoint from the section (tests, VPC endpoints). The SDK's own retries
// are off: this package decides when to repeat a call, with the SDK's
// lists of throttling and retryable error codes.
//
// Subpackages serve the tests and the benchmark: imdstest is an
// IMDSv2-conformant metadata server, faultproxy a fault-injecting and
// call-counting proxy for the EC2 API, mototest starts moto_server and
// builds fixtures in it.
package cloudmove
