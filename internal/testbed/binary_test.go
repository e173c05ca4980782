package testbed

import (
	"debug/elf"
	"strings"
	"testing"
)

// The shipped binary leaves out what it never calls. One reachable
// text/template execution (golang.org/x/net/trace's debug pages, which gRPC
// links without the grpcnotrace tag) makes the linker keep every exported
// method of every type, all of the EC2 client's hundreds of operations
// among them: 45 MB more binary and 6 MB more resident memory. This test
// fails when the tag is dropped from BuildTags or a new dependency makes a
// template (or any reflect.Method call the linker cannot resolve)
// reachable.
func TestBinaryKeepsOnlyWhatItCalls(t *testing.T) {
	f, err := elf.Open(VipdBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	var trace []string
	for _, s := range syms {
		has[s.Name] = true
		if strings.HasPrefix(s.Name, "golang.org/x/net/trace.") {
			trace = append(trace, s.Name)
		}
	}
	const ec2 = "github.com/aws/aws-sdk-go-v2/service/ec2.(*Client)."
	// An operation cloudmove calls must be there, or the checks below
	// prove nothing (symbols renamed, a stripped binary).
	if !has[ec2+"AssignPrivateIpAddresses"] {
		t.Fatalf("no symbol %sAssignPrivateIpAddresses: cannot check what the linker kept", ec2)
	}
	for _, op := range []string{"RunInstances", "DescribeInstances", "CreateVpc"} {
		if has[ec2+op] {
			t.Errorf("the binary holds %s%s, which vipd never calls: the linker's dead code elimination of methods is off", ec2, op)
		}
	}
	if len(trace) > 0 {
		t.Errorf("the binary links golang.org/x/net/trace (%d symbols, e.g. %s): build with -tags %s", len(trace), trace[0], BuildTags)
	}
}
