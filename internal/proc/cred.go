package proc

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// ErrNotRoot is wrapped by the *CredentialError of a Spec asking for
// another user or group while vipd does not run as root: without the
// privilege every run would fail, so Run refuses it up front.
var ErrNotRoot = errors.New("needs vipd to run as root")

// credential resolves the user and group to run as, for vipd running as
// euid and egid. It returns nil when nothing changes: no user or group
// given, or a non-root vipd asking for exactly what it is (it could not
// drop supplementary groups anyway).
func credential(userName, groupName string, euid, egid uint32) (*syscall.Credential, error) {
	if userName == "" && groupName == "" {
		return nil, nil
	}
	fail := func(inGroup bool, err error) (*syscall.Credential, error) {
		return nil, &CredentialError{User: userName, Group: groupName, BadGroup: inGroup, Err: err}
	}
	uid, gid := euid, egid
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil && isNumber(userName) {
			u, err = user.LookupId(userName)
		}
		if err != nil {
			return fail(false, err)
		}
		if uid, err = parseID(u.Uid); err != nil {
			return fail(false, fmt.Errorf("uid %q: %w", u.Uid, err))
		}
		if gid, err = parseID(u.Gid); err != nil {
			return fail(false, fmt.Errorf("gid %q: %w", u.Gid, err))
		}
	}
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil && isNumber(groupName) {
			g, err = user.LookupGroupId(groupName)
		}
		if err != nil {
			return fail(true, err)
		}
		if gid, err = parseID(g.Gid); err != nil {
			return fail(true, fmt.Errorf("gid %q: %w", g.Gid, err))
		}
	}
	if euid != 0 {
		if uid == euid && gid == egid {
			return nil, nil
		}
		return fail(groupName != "" && uid == euid, fmt.Errorf("running as uid %d gid %d: %w", uid, gid, ErrNotRoot))
	}
	// Only the chosen group, as keepalived's setgroups(1, &gid).
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{gid}}, nil
}

// ownCredential is credential for the identity vipd runs as.
func ownCredential(userName, groupName string) (*syscall.Credential, error) {
	return credential(userName, groupName, uint32(os.Geteuid()), uint32(os.Getegid()))
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

var errBadID = errors.New("not a numeric id")

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errBadID
	}
	return uint32(n), nil
}
