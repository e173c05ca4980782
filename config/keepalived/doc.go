// Package keepalived reads keepalived.conf syntax (the VRRP subset) into
// vipd's configuration model (package config), as keepalived 2.2.7 reads
// it: the lexer (kalex.go: comments, @id lines, $DEFS, includes, braces),
// keepalived's number readers (kanumber.go), the keywords (kaparse.go,
// katrack.go, kaprocess.go) and keepalived's vrrp_complete_init fix-ups
// (kacomplete.go). Where keepalived logs a problem and carries on, vipd
// warns with PATH:LINE and does the same; where keepalived refuses to
// start, vipd reports an error.
//
// It records where each setting was written through config's position API
// (config.Source, config.InstanceSource) and ends every load in
// config.Finish, the validation both formats share. It depends on config
// only; config/load picks this front end for files not named *.yaml or
// *.yml.
package keepalived
