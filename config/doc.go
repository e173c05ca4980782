// Package config holds vipd's one in-memory configuration model, its
// defaults and validation, the native YAML format (strict: every problem is
// an error) and its encoder, and the position API with which a front end
// says where each setting was written (PATH:LINE).
//
// The keepalived.conf front end is package config/keepalived (as lenient
// as keepalived 2.2.7: where keepalived warns and carries on, vipd warns
// with PATH:LINE and does what keepalived does); package config/load picks
// one of the two by file name. Both end in Finish, the validation they
// share, which returns either a usable *Config (warnings in
// Config.Warnings) or every problem at once as Diagnostics, each rendered
// "PATH:LINE: field: message".
//
// The model also holds what makes a VIP follow a service (tracking.go):
// health checks, how instances track them, N-way priority orders, notify
// scripts, sync groups and the script security policy. Loading applies
// that policy as keepalived's enable_script_security does: a script that
// would run as root must not be replaceable by another user.
//
// The native format alone has a gossip section (gossip.go): how this node
// joins the cluster membership layer, and which instances take unicast
// peers from it ("peers: gossip").
//
// This package only reads files, file metadata and the user database (for
// script checks) and, optionally, asks a Host about interface addresses.
// It takes the settings types of the runtime packages that own them
// (checks, priority, notify, cloudmove, history) and election/fsm's State
// for an instance's initial state, but must not depend on the agent, the
// election runtime or the command line (they depend on it, not the
// reverse), nor on its front ends, and it never opens sockets, runs
// scripts or changes the system.
package config
