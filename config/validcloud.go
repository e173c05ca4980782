package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vipd/vipd/cloudmove"
)

// This file reports the problems cloudmove.Validate finds in the cloud
// sections at the lines they were written, with their fields named as the
// user wrote them. The rules themselves are cloudmove's; the only one
// applied here is the kernel's spelling of interface names, which holds
// for every interface a configuration names.

// cloud reports every problem of every cloud section, and of resources
// claimed by two actions.
func (v *validator) cloud(c *Config) {
	owners := c.cloudOwners()
	if len(owners) == 0 {
		return
	}
	list := make([]cloudmove.Owner, len(owners))
	for i, o := range owners {
		list[i] = o.Owner
	}
	for i, err := range cloudmove.Validate(list) {
		o := owners[i]
		var problems cloudmove.ValidationError
		if err != nil && !errors.As(err, &problems) {
			v.d.err(o.pos, o.prefix, err.Error())
			continue
		}
		for _, p := range withInterfaceNames(o.Cloud, problems) {
			msg := p.Err.Error()
			var ce *cloudmove.ConflictError
			if errors.As(p.Err, &ce) && ce.Owner >= 0 && ce.Owner < len(owners) {
				_, prev := owners[ce.Owner].at(ce.Field)
				msg = fmt.Sprintf("%s is already moved by %s", ce.Resource, prev)
			}
			pos, f := o.at(p.Field)
			v.d.err(pos, f, msg)
		}
	}
}

// at returns the position and full name of a field below the section.
func (o cloudOwner) at(field string) (Pos, string) {
	src := o.section.src
	if src == nil {
		src = NewSource(o.prefix)
	}
	def := o.section.Pos
	if def.Line == 0 {
		def = o.pos
	}
	return src.nested(field, def)
}

// withInterfaceNames adds the spelling problems of the interfaces the
// actions name to an owner's problems, each first among its action's (where
// a field-by-field check would find it).
func withInterfaceNames(cl *cloudmove.Config, problems []*cloudmove.FieldError) []*cloudmove.FieldError {
	var extra []*cloudmove.FieldError
	for field, name := range cl.Interfaces() {
		if msg := CheckIfName(name); msg != "" {
			extra = append(extra, &cloudmove.FieldError{Field: field, Err: fmt.Errorf("%q %s", name, msg)})
		}
	}
	if len(extra) == 0 {
		return problems
	}
	all := append(extra, problems...)
	// Interfaces' order is a map's: sort by action, interface problems
	// first, the others in cloudmove's order.
	slices.SortStableFunc(all, func(a, b *cloudmove.FieldError) int { return actionIndex(a.Field) - actionIndex(b.Field) })
	return all
}

// actionIndex returns J of a field "actions[J]...", -1 for a field of the
// section itself.
func actionIndex(field string) int {
	rest, ok := strings.CutPrefix(field, "actions[")
	if !ok {
		return -1
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return -1
	}
	j, err := strconv.Atoi(rest[:end])
	if err != nil {
		return -1
	}
	return j
}
