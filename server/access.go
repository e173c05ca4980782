package server

import (
	"net/http"

	"google.golang.org/grpc/status"
)

// AccessPath answers GET with what the presented credentials may do on
// this listener, so that a client (the status page) shows only the
// actions it can take. It is open like /healthz: it says nothing about the
// cluster, and a wrong token learns no more here than from any refused
// call.
const AccessPath = "/access"

// Access is AccessPath's answer.
type Access struct {
	// Read: status, members, cluster, events, watch and metrics are allowed.
	Read bool `json:"read"`
	// Write: commands (failover, maintenance, order, reload) are allowed.
	Write bool `json:"write"`
	// ReadError and WriteError say why a kind of call is refused (the
	// message the call itself would get); empty when it is allowed.
	ReadError  string `json:"readError,omitempty"`
	WriteError string `json:"writeError,omitempty"`
}

// access computes Access for a request's origin and authorization header
// with the same rules every call goes through (authorizer.check).
func (a *authorizer) access(o origin, authz []string) Access {
	var acc Access
	if err := a.check(o, accessRead, authz); err != nil {
		acc.ReadError = status.Convert(err).Message()
	} else {
		acc.Read = true
	}
	if err := a.check(o, accessWrite, authz); err != nil {
		acc.WriteError = status.Convert(err).Message()
	} else {
		acc.Write = true
	}
	return acc
}

// serveAccess is the handler of AccessPath.
func (s *Server) serveAccess(w http.ResponseWriter, r *http.Request) {
	if !s.getOnly(w, r) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.auth.access(originOf(r.Context()), r.Header.Values("Authorization")))
}
