package cloudmove

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// PolicyDocument is an IAM policy document.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement of a policy.
type PolicyStatement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// Policy returns the least-privilege IAM policy for the owners' actions:
// the describe calls (which take no resource-level permissions) on "*",
// and each mutating call on the resources the configuration names (all
// of a type where it names them only at run time: ENIs found by MAC
// address, route tables found by subnet tags, instances a volume is
// attached to).
func Policy(owners []Owner) PolicyDocument {
	doc := PolicyDocument{Version: "2012-10-17"}
	describe := map[string]bool{}
	n := 0
	for _, o := range owners {
		for _, a := range o.Cloud.Actions {
			blocks := a.blocks()
			if len(blocks) == 0 {
				continue
			}
			g := blocks[0].grant(o.Cloud.Region)
			for _, d := range g.describe {
				describe[d] = true
			}
			n++
			slices.Sort(g.resources)
			doc.Statement = append(doc.Statement, PolicyStatement{Sid: fmt.Sprintf("%s%d", g.sid, n), Effect: "Allow",
				Action: g.actions, Resource: slices.Compact(g.resources)})
		}
	}
	if len(describe) > 0 {
		var acts []string
		for a := range describe {
			acts = append(acts, a)
		}
		slices.Sort(acts)
		doc.Statement = append([]PolicyStatement{{Sid: "VipdDescribe", Effect: "Allow", Action: acts, Resource: []string{"*"}}}, doc.Statement...)
	}
	return doc
}

// grant is what one action needs in an IAM policy; each kind says it.
type grant struct {
	// describe are the describe calls it makes (they take no
	// resource-level permissions: granted on "*").
	describe []string
	// sid prefixes the statement's id ("VipdRoute").
	sid string
	// actions are the mutating calls, on resources.
	actions   []string
	resources []string
}

// ec2ARN is the ARN of an EC2 resource; an empty region or id means all.
func ec2ARN(region, kind, id string) string {
	if region == "" {
		region = "*"
	}
	if id == "" {
		id = "*"
	}
	return fmt.Sprintf("arn:aws:ec2:%s:*:%s/%s", region, kind, id)
}

// JSON renders the document, indented.
func (d PolicyDocument) JSON() string {
	b, _ := json.MarshalIndent(d, "", "  ")
	return string(b)
}

// ActionReport says what one action would do now.
type ActionReport struct {
	// Name identifies the action.
	Name string
	// Current is what the cloud looks like.
	Current string
	// Ours says the resource already points at this node.
	Ours bool
	// Change is what becoming master would do ("" for nothing).
	Change string
	// Error is why the action could not be looked at.
	Error string
	// Warnings are problems that do not stop the action.
	Warnings []string
}

// Report is what Inspect found for one owner.
type Report struct {
	Owner       Owner
	Actions     []ActionReport
	Permissions []PermissionCheck
}

// OK reports whether every action could be looked at and no checked
// permission is denied.
func (r *Report) OK() bool {
	for _, a := range r.Actions {
		if a.Error != "" {
			return false
		}
	}
	for _, p := range r.Permissions {
		if p.Checked && !p.Allowed {
			return false
		}
	}
	return true
}

// Inspect resolves the owner's actions, looks at every resource, says
// what becoming master would change and checks the permissions with
// DryRun, without changing anything and without starting a Set.
// Against an endpoint that ignores DryRun (moto does for routes) the
// permission checks would make the calls: Options.NoPermissionCheck (or
// the section's skip_dry_run) skips them.
func Inspect(ctx context.Context, owner Owner, opts Options) (*Report, error) {
	s, err := build(ctx, owner, opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{Owner: owner, Actions: make([]ActionReport, len(s.rs))}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, r := range s.rs {
		wg.Go(func() {
			ar := ActionReport{Name: r.a.name()}
			err := r.a.resolve(ctx, s.e)
			if err == nil {
				var obs observation
				obs, ar.Current, err = r.a.observe(ctx, s.e)
				ar.Ours = obs == ours
				if err == nil && obs != ours {
					ar.Change = r.a.change()
				}
			}
			if err != nil {
				ar.Error = describeError(err)
			}
			ar.Warnings = r.a.warnings()
			rep.Actions[i] = ar
			if !s.opts.NoPermissionCheck && r.a.resolved() { // the option or skip_dry_run
				pcs := r.a.dryRun(ctx, s.e)
				mu.Lock()
				rep.Permissions = append(rep.Permissions, pcs...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(rep.Permissions, func(a, b PermissionCheck) int {
		return strings.Compare(a.Action+a.Permission, b.Action+b.Permission)
	})
	return rep, nil
}
