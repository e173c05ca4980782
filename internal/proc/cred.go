package proc

import (
	"errors"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// credential resolves the user and group to run as. It returns nil when
// nothing changes for a non-root vipd, which could not drop supplementary
// groups anyway.
func credential(userName, groupName string) (*syscall.Credential, error) {
	if userName == "" && groupName == "" {
		return nil, nil
	}
	fail := func(err error) (*syscall.Credential, error) {
		return nil, &CredentialError{User: userName, Group: groupName, Err: err}
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil && isNumber(userName) {
			u, err = user.LookupId(userName)
		}
		if err != nil {
			return fail(err)
		}
		if uid, err = parseID(u.Uid); err != nil {
			return fail(err)
		}
		if gid, err = parseID(u.Gid); err != nil {
			return fail(err)
		}
	}
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil && isNumber(groupName) {
			g, err = user.LookupGroupId(groupName)
		}
		if err != nil {
			return fail(err)
		}
		if gid, err = parseID(g.Gid); err != nil {
			return fail(err)
		}
	}
	if os.Geteuid() != 0 && uid == uint32(os.Geteuid()) && gid == uint32(os.Getegid()) {
		return nil, nil
	}
	// Only the chosen group, as keepalived's setgroups(1, &gid).
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{gid}}, nil
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
