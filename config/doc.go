// Package config holds vipd's one in-memory configuration model and the two
// front ends that fill it: the native YAML format (strict: every problem is an
// error) and keepalived.conf syntax for the VRRP subset (as lenient as
// keepalived 2.2.7: where keepalived warns and carries on, vipd warns with
// PATH:LINE and does what keepalived does).
//
// Load picks the front end from the file name, runs the shared validation and
// returns either a usable *Config (warnings in Config.Warnings) or every
// problem at once as Diagnostics, each rendered "PATH:LINE: field: message".
//
// This package only reads files and, optionally, asks a Host about interface
// addresses. It must not depend on any other vipd package (the agent, the
// election code and the command line depend on it, not the reverse) and it
// never opens sockets or changes the system.
package config
