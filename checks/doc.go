// Package checks will hold vipd's health checks (exec scripts with
// keepalived's interval/timeout/fall/rise/weight semantics, and built-in
// process, TCP, HTTP and DNS checks) that drive instance priorities.
//
// It is empty until the health-check issue lands; the VRRP core does not
// depend on it.
package checks
