package agent

import "fmt"

// ErrorKind says why an API request failed, in the agent's own terms. The
// server maps each kind to its protocol's code in one place
// (server/convert.go); the agent knows no protocol.
type ErrorKind int

// The kinds of failed requests.
const (
	ErrorInvalid       ErrorKind = iota + 1 // the request itself is wrong
	ErrorNotFound                           // it names something that does not exist
	ErrorPrecondition                       // the cluster is not in a state that allows it
	ErrorUnavailable                        // a part it needs could not be reached
	ErrorInternal                           // something failed that the caller cannot fix
	ErrorDeadline                           // it did not complete in time
	ErrorExhausted                          // the caller fell too far behind
	ErrorUnimplemented                      // this agent cannot do it at all
)

// ErrorKinds lists every ErrorKind, so that a mapping of them (the
// server's) can be tested to cover each.
var ErrorKinds = []ErrorKind{ErrorInvalid, ErrorNotFound, ErrorPrecondition, ErrorUnavailable,
	ErrorInternal, ErrorDeadline, ErrorExhausted, ErrorUnimplemented}

// Error is a failed API request: its kind and the message for the caller.
// The Service's methods return an *Error, a context's error when the
// caller's context ended, or what a Watch's send function returned.
type Error struct {
	Kind ErrorKind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// reqErrorf returns an *Error of kind with a formatted message.
func reqErrorf(kind ErrorKind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
