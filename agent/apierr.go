package agent

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errKind says why an API request failed, in the agent's own terms;
// grpcStatus is the one place that turns it into a gRPC code.
type errKind int

const (
	errInvalid       errKind = iota + 1 // the request itself is wrong
	errNotFound                         // it names something that does not exist
	errPrecondition                     // the cluster is not in a state that allows it
	errUnavailable                      // a part it needs could not be reached
	errInternal                         // something failed that the caller cannot fix
	errDeadline                         // it did not complete in time
	errExhausted                        // the caller fell too far behind
	errUnimplemented                    // this agent cannot do it at all
)

// requestError is a failed request: its kind and the message for the caller.
type requestError struct {
	kind errKind
	msg  string
}

func (e *requestError) Error() string { return e.msg }

// reqErrorf returns a requestError of kind with a formatted message.
func reqErrorf(kind errKind, format string, args ...any) error {
	return &requestError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// grpcStatus maps the agent's errors to gRPC status errors. Errors that
// are not requestErrors (already a status, say) pass unchanged.
func grpcStatus(err error) error {
	var re *requestError
	if !errors.As(err, &re) {
		return err
	}
	code := codes.Internal
	switch re.kind {
	case errInvalid:
		code = codes.InvalidArgument
	case errNotFound:
		code = codes.NotFound
	case errPrecondition:
		code = codes.FailedPrecondition
	case errUnavailable:
		code = codes.Unavailable
	case errDeadline:
		code = codes.DeadlineExceeded
	case errExhausted:
		code = codes.ResourceExhausted
	case errUnimplemented:
		code = codes.Unimplemented
	}
	return status.Error(code, re.msg)
}
