// Package fielderr is the error a runtime package's Validate returns: one
// problem per setting, named by the setting's path as the native format
// spells its keys ("dns.server", "master.group"), so that a front end can
// report it at the line the setting was written. Packages that own their
// configuration (checks, notify) give these types their own names.
package fielderr

import (
	"errors"
	"strings"
)

// Error is a problem with one setting.
type Error struct {
	// Field is the setting's path below what was validated.
	Field string
	// Err says what is wrong.
	Err error
}

// Error returns "field: problem".
func (e *Error) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the problem.
func (e *Error) Unwrap() error { return e.Err }

// List is every problem found, in the order of the settings.
type List []*Error

// Error joins the problems, one a line.
func (l List) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Add appends a problem with field.
func (l *List) Add(field, msg string) {
	*l = append(*l, &Error{Field: field, Err: errors.New(msg)})
}

// Err returns l, or nil when it holds no problem (a nil List in an error
// interface would not be nil).
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
