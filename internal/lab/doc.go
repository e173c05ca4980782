// Package lab builds throw-away networks out of Linux network namespaces for
// tests: nodes (one netns each), switches (a bridge in a netns of its own) and
// veth cables between them, plus the helpers tests keep needing: commands,
// long-running processes with their logs (keepalived among them) and Go code
// run inside a node; routes, sysctls, link state and partitions; addresses
// and neighbours; ping; and packet capture with tcpdump, parsed in Go.
//
// Everything a Lab creates carries a per-process, per-lab name prefix
// ("vipdt<pid>x<n>-") and is removed by t.Cleanup even when the test fails:
// processes are killed first, then the namespaces are deleted, which takes
// their veths with them. Namespaces left behind by a killed test binary are
// swept by the next New, recognised by their prefix and a dead pid. Nothing
// is ever created or changed in the root namespace.
//
// Tests call Require (New does too): without root and the ip tool the test is
// skipped on a developer's laptop but fails when CI=true, so a CI machine that
// cannot run namespace tests is noticed instead of passing silently.
//
// This package is for tests only. It must not depend on any other vipd
// package, so that every package's tests can use it.
package lab
