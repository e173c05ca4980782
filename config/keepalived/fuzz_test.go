package keepalived

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
)

// The parser must never panic, whatever the input, and must either return
// a Config or a non-empty error list.
func FuzzParseKeepalived(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/*.conf")
	golden, _ := filepath.Glob("../testdata/golden/*.conf")
	for _, name := range append(seeds, golden...) {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("$A=x$A\nk $A\n"))
	f.Add([]byte("vrrp_instance a { interface e virtual_router_id 1 virtual_ipaddress { 1.2.3.4/99 label x dev } }"))
	f.Add([]byte("@^x include {a,b{c,d}}/*.conf\n$M=a \\\n$M\n~SEQ(i,0,1)\n\"unterminated"))
	f.Add([]byte("vrrp_script s { script \"sh -c 'x \\\"y\\\"'\" a\n weight 254 reverse\n user bob staff }\n" +
		"track_file f { file /x\n init_file -3 overwrite }\nvrrp_script interface:e {\n script /usr/bin/true\n}\n" +
		"vrrp_instance a { interface e virtual_router_id 1 priority 255 track_script { s weight -254 noreverse }\n" +
		"track_file { f weight 2 }\ntrack_interface { e weight x reverse }\nnotify_master \"/x \\x41\" bob\n virtual_ipaddress { 1.2.3.4 } }\n" +
		"vrrp_sync_group g { group { a a b }\n track_script { s }\n notify \"'\" }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.conf", data, config.LoadOptions{Hostname: "h", FS: noFS{}, System: rootSys()})
		configtest.CheckResult(t, cfg, err)
	})
}
