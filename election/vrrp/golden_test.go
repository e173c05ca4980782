package vrrp

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// goldenCase is what each capture holds (as shared/keepalived-golden's
// README, where they were captured, describes it). TestGoldenConfig checks it against the keepalived.conf that sent it.
type goldenCase struct {
	name     string // file stem in testdata/
	src, dst netip.Addr
	want     Advert
}

var goldenCases = []goldenCase{
	{
		name: "vrrp-v2-unicast-pass",
		src:  netip.MustParseAddr("192.0.2.1"), dst: netip.MustParseAddr("192.0.2.2"),
		want: Advert{Version: 2, VRID: 51, Priority: 150, Interval: time.Second,
			AuthType: AuthPass, AuthData: PassAuthData("s3cret"),
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}},
	},
	{
		name: "vrrp-v3-unicast",
		src:  netip.MustParseAddr("192.0.2.1"), dst: netip.MustParseAddr("192.0.2.2"),
		want: Advert{Version: 3, VRID: 52, Priority: 150, Interval: 500 * time.Millisecond,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.101")}},
	},
	{
		name: "vrrp-v3-ipv6-unicast",
		src:  netip.MustParseAddr("2001:db8::1"), dst: netip.MustParseAddr("2001:db8::2"),
		want: Advert{Version: 3, VRID: 53, Priority: 150, Interval: time.Second,
			Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::100")}},
	},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			pkts, err := readPcap(filepath.Join("testdata", tc.name+".pcap"))
			if err != nil {
				t.Fatal(err)
			}
			if len(pkts) == 0 {
				t.Fatal("capture holds no VRRP packets")
			}
			for i, p := range pkts {
				if p.src != tc.src || p.dst != tc.dst {
					t.Errorf("packet %d: %v -> %v, README says %v -> %v", i, p.src, p.dst, tc.src, tc.dst)
				}
				got, err := Unmarshal(p.payload, p.src, p.dst)
				if err != nil {
					t.Errorf("packet %d: Unmarshal: %v", i, err)
					continue
				}
				if !got.Equal(&tc.want) {
					t.Errorf("packet %d: decoded\n %+v\nwant\n %+v", i, got, tc.want)
				}
				enc, err := tc.want.Marshal(p.src, p.dst)
				if err != nil {
					t.Errorf("packet %d: Marshal: %v", i, err)
					continue
				}
				if !bytes.Equal(enc, p.payload) {
					t.Errorf("packet %d: encoded\n % x\nkeepalived sent\n % x", i, enc, p.payload)
				}
			}
		})
	}
}

// TestGoldenFilesComplete checks that testdata/ holds a capture and its
// keepalived.conf for every case, and no capture without one, so a capture
// added later is not silently left out. The files are keepalived 2.2.7's
// adverts captured with tcpdump (shared/keepalived-golden/README.md, beside
// the repository, says how); the tests read only this copy, so the module
// tests on its own.
func TestGoldenFilesComplete(t *testing.T) {
	want := map[string]bool{}
	for _, tc := range goldenCases {
		want[tc.name+".pcap"] = true
		want[tc.name+".keepalived.conf"] = true
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		if !strings.HasSuffix(base, ".pcap") && !strings.HasSuffix(base, ".conf") {
			continue
		}
		if !want[base] {
			t.Errorf("testdata/%s has no goldenCases entry", base)
		}
		delete(want, base)
	}
	for base := range want {
		t.Errorf("testdata/%s is missing", base)
	}
}

// TestGoldenConfig checks goldenCases against the keepalived.conf beside
// each capture, so the expected fields come from the sender's config and
// not only from the README's prose.
func TestGoldenConfig(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join("testdata", tc.name+".keepalived.conf"))
			if err != nil {
				t.Fatal(err)
			}
			c := parseKeepalivedConf(string(text))
			w := tc.want
			check := func(key, want string) {
				t.Helper()
				if got := c.scalar[key]; got != want {
					t.Errorf("%s = %q in the config, goldenCases has %q", key, got, want)
				}
			}
			version := c.scalar["vrrp_version"]
			if version == "" {
				version = "2" // keepalived's default
			}
			if version != strconv.Itoa(int(w.Version)) {
				t.Errorf("vrrp_version %s in the config, goldenCases has %d", version, w.Version)
			}
			check("virtual_router_id", strconv.Itoa(int(w.VRID)))
			check("priority", strconv.Itoa(int(w.Priority)))
			secs, err := strconv.ParseFloat(c.scalar["advert_int"], 64)
			if err != nil {
				t.Fatalf("advert_int: %v", err)
			}
			if d := time.Duration(secs * float64(time.Second)); d != w.Interval {
				t.Errorf("advert_int %v in the config, goldenCases has %v", d, w.Interval)
			}
			switch c.scalar["auth_type"] {
			case "PASS":
				if w.AuthType != AuthPass || w.AuthData != PassAuthData(c.scalar["auth_pass"]) {
					t.Errorf("config has auth PASS %q, goldenCases has %v %q", c.scalar["auth_pass"], w.AuthType, w.AuthData)
				}
			case "":
				if w.AuthType != AuthNone {
					t.Errorf("config has no auth, goldenCases has %v", w.AuthType)
				}
			default:
				t.Errorf("auth_type %q not handled by this test", c.scalar["auth_type"])
			}
			check("unicast_src_ip", tc.src.String())
			if peers := c.block["unicast_peer"]; len(peers) != 1 || peers[0] != tc.dst.String() {
				t.Errorf("unicast_peer %v in the config, goldenCases has %v", peers, tc.dst)
			}
			vips := c.block["virtual_ipaddress"]
			if len(vips) != len(w.Addrs) {
				t.Fatalf("virtual_ipaddress %v in the config, goldenCases has %v", vips, w.Addrs)
			}
			for i, v := range vips {
				p, err := netip.ParsePrefix(v)
				if err != nil {
					t.Fatalf("virtual_ipaddress %q: %v", v, err)
				}
				if p.Addr() != w.Addrs[i] {
					t.Errorf("virtual_ipaddress %d is %v in the config, goldenCases has %v", i, p.Addr(), w.Addrs[i])
				}
			}
		})
	}
}

// keepalivedConf is the little of a keepalived.conf the golden test reads.
type keepalivedConf struct {
	scalar map[string]string   // "key value" lines
	block  map[string][]string // "key {" ... "}": first word of each line
}

// parseKeepalivedConf reads one-instance test configs line by line; it is
// not a keepalived.conf parser.
func parseKeepalivedConf(text string) keepalivedConf {
	c := keepalivedConf{scalar: map[string]string{}, block: map[string][]string{}}
	var inBlock string
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case inBlock != "" && f[0] == "}":
			inBlock = ""
		case inBlock != "":
			c.block[inBlock] = append(c.block[inBlock], f[0])
		case len(f) == 2 && f[1] == "{" && (f[0] == "unicast_peer" || f[0] == "virtual_ipaddress"):
			inBlock = f[0]
		case len(f) == 2 && f[1] != "{":
			c.scalar[f[0]] = f[1]
		}
	}
	return c
}
