package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vipd/vipd/config"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// access is what a call needs.
type access int

const (
	// accessOpen: health checks, for load balancers and supervisors.
	accessOpen access = iota
	// accessRead: calls that only read (status, members, watch, reflection,
	// metrics).
	accessRead
	// accessWrite: commands that change the cluster.
	accessWrite
)

// writeMethods are the gRPC methods that change something.
var writeMethods = map[string]bool{
	vipdv1.VipdService_Failover_FullMethodName:       true,
	vipdv1.VipdService_SetMaintenance_FullMethodName: true,
	vipdv1.VipdService_SetOrder_FullMethodName:       true,
	vipdv1.VipdService_Reload_FullMethodName:         true,
}

// methodAccess classifies a full gRPC method name. Anything not known to
// be a command is a read, so that a new command must be listed here to be
// callable without the token only if it is harmless.
func methodAccess(fullMethod string) access {
	switch {
	case writeMethods[fullMethod]:
		return accessWrite
	case strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/"):
		return accessOpen
	}
	return accessRead
}

// httpAccess classifies an HTTP request: GET and HEAD read, every other
// method is a command (the routes in vipd_http.yaml follow this).
func httpAccess(method string) access {
	if method == "GET" || method == "HEAD" {
		return accessRead
	}
	return accessWrite
}

// origin says where a request came in.
type origin int

const (
	// originTCP: a TCP listener; the token rules apply.
	originTCP origin = iota
	// originLocal: the unix socket (guarded by its file mode) or the
	// in-process gateway connection (whose HTTP request was checked before
	// it was forwarded).
	originLocal
)

type originKey struct{}

func withOrigin(ctx context.Context, o origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// originOf returns the origin recorded in ctx; a context without one is
// treated as TCP, the strictest.
func originOf(ctx context.Context) origin {
	if o, ok := ctx.Value(originKey{}).(origin); ok {
		return o
	}
	return originTCP
}

// authorizer applies the token rules.
type authorizer struct {
	// readsOpen: reads over TCP need no token (config.API.ReadsOpen).
	readsOpen bool
	full      *tokenFile // nil: no command token, so no command over TCP
	read      *tokenFile // nil: no read-only token
}

// check returns nil or the status error for a call needing acc from o,
// with the values of its authorization header (gRPC metadata or HTTP).
// Over TCP a command always needs the full token: any local user can
// reach a loopback port, so the address proves nothing about the caller;
// only the unix socket's file mode does.
func (a *authorizer) check(o origin, acc access, authz []string) error {
	if acc == accessOpen || o == originLocal {
		return nil
	}
	if acc == accessRead && a.readsOpen {
		return nil
	}
	if acc == accessWrite && a.full == nil {
		return status.Error(codes.PermissionDenied, "commands over TCP are refused: the server has no api.token_file; "+
			"send them through the unix socket (root or its group) or configure a token")
	}
	switch len(authz) {
	case 0:
		return status.Error(codes.Unauthenticated, "this call needs a bearer token: send the header \"authorization: Bearer TOKEN\"")
	case 1:
	default:
		return status.Error(codes.InvalidArgument, "more than one authorization header")
	}
	scheme, tok, ok := strings.Cut(authz[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return status.Error(codes.InvalidArgument, "malformed authorization header: want \"Bearer TOKEN\"")
	}
	got := sha256.Sum256([]byte(tok))
	isFull, fullErr := a.full.matches(got)
	isRead, readErr := a.read.matches(got)
	switch {
	case isFull:
		return nil
	case isRead && acc == accessWrite:
		return status.Error(codes.PermissionDenied, "the read-only token may not run commands")
	case isRead:
		return nil
	case fullErr != nil || readErr != nil:
		// Fail closed: a token that cannot be read accepts nothing, and
		// the caller learns it is the server's fault.
		return status.Error(codes.Unavailable, "the server cannot read its token file; see its log")
	}
	return status.Error(codes.PermissionDenied, "the bearer token is not accepted")
}

// tokenFile holds the digest of the token in a file, re-read when the
// file's time, size or mode changes, so that a token can be rotated without
// a restart and a file opened to others stops being trusted.
type tokenFile struct {
	path string
	log  func(msg string, args ...any)

	mu      sync.Mutex
	modTime time.Time
	size    int64
	mode    fs.FileMode
	digest  [sha256.Size]byte
	err     error
}

// newTokenFile reads the token once, so that a bad file stops New.
func newTokenFile(path string, log func(string, ...any)) (*tokenFile, error) {
	t := &tokenFile{path: path, log: log}
	if _, err := t.sum(); err != nil {
		return nil, err
	}
	return t, nil
}

// matches reports whether got is the digest of t's token; a nil t matches
// nothing. The comparison of digests takes the same time whatever the
// token's length or content.
func (t *tokenFile) matches(got [sha256.Size]byte) (bool, error) {
	if t == nil {
		return false, nil
	}
	want, err := t.sum()
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1, nil
}

// sum returns the digest of the current token.
func (t *tokenFile) sum() ([sha256.Size]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := os.Stat(t.path)
	if err == nil && st.ModTime().Equal(t.modTime) && st.Size() == t.size && st.Mode() == t.mode && t.err == nil {
		return t.digest, nil
	}
	tok, err := config.ReadAPIToken(t.path)
	if err != nil {
		if t.err == nil || t.err.Error() != err.Error() {
			t.log("API token file unusable: refusing every call that needs its token", "err", err)
		}
		t.err = err
		return [sha256.Size]byte{}, err
	}
	if t.err != nil || !t.modTime.IsZero() {
		t.log("API token file read", "path", t.path)
	}
	t.err = nil
	t.digest = sha256.Sum256([]byte(tok))
	if st != nil {
		t.modTime, t.size, t.mode = st.ModTime(), st.Size(), st.Mode()
	}
	return t.digest, nil
}
