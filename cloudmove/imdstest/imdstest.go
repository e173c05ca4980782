// Package imdstest serves EC2 instance metadata the way IMDSv2 does, for
// tests: a session token must be fetched with PUT /latest/api/token (its
// TTL header is required and echoed, as the SDK expects) and sent with
// every request; requests without a valid token get 401.
package imdstest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Interface is one ENI of the instance.
type Interface struct {
	MAC, ENI, SubnetID, VPCID string
	DeviceNumber              int
	LocalIPv4s                []string
}

// Instance is what the server describes.
type Instance struct {
	InstanceID, Region, AZ, AccountID string
	// Interfaces are the ENIs; the first is the primary.
	Interfaces []Interface
	// Role, when set, is served as the instance profile's role, with
	// fixed test credentials.
	Role string
}

// Server is a running metadata server.
type Server struct {
	// URL is the endpoint to give the SDK (http://127.0.0.1:PORT/).
	URL string

	srv *httptest.Server
	mu  sync.Mutex
	in  Instance
	tok map[string]time.Time

	// Requests counts metadata reads that carried a valid token;
	// Rejected those that did not (401).
	Requests, Rejected atomic.Int64
}

// New starts a server on a loopback port.
func New(in Instance) *Server {
	s := &Server{in: in, tok: map[string]time.Time{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/"
	return s
}

// Handler serves the same metadata, for a listener of the caller's own
// (one inside a network namespace, say).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetLocalIPv4s changes what an interface's local-ipv4s lists, as EC2
// does when secondary IPs move.
func (s *Server) SetLocalIPv4s(mac string, ips []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.in.Interfaces {
		if s.in.Interfaces[i].MAC == mac {
			s.in.Interfaces[i].LocalIPv4s = append([]string(nil), ips...)
		}
	}
}

const ttlHeader = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "forbidden", http.StatusForbidden) // IMDS refuses proxied requests
		return
	}
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ttl, err := strconv.Atoi(r.Header.Get(ttlHeader))
		if err != nil || ttl < 1 || ttl > 21600 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		t := hex.EncodeToString(b)
		s.mu.Lock()
		s.tok[t] = time.Now().Add(time.Duration(ttl) * time.Second)
		s.mu.Unlock()
		w.Header().Set(ttlHeader, strconv.Itoa(ttl))
		_, _ = w.Write([]byte(t))
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	exp, ok := s.tok[r.Header.Get("X-Aws-Ec2-Metadata-Token")]
	in := s.in
	s.mu.Unlock()
	if !ok || time.Now().After(exp) {
		s.Rejected.Add(1)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	s.Requests.Add(1)
	body, found := lookup(in, r.URL.Path)
	if !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(body))
}

// lookup answers a metadata path.
func lookup(in Instance, path string) (string, bool) {
	if path == "/latest/dynamic/instance-identity/document" {
		ip := ""
		if len(in.Interfaces) > 0 && len(in.Interfaces[0].LocalIPv4s) > 0 {
			ip = in.Interfaces[0].LocalIPv4s[0]
		}
		b, _ := json.Marshal(map[string]string{
			"instanceId": in.InstanceID, "region": in.Region, "availabilityZone": in.AZ,
			"accountId": in.AccountID, "privateIp": ip, "architecture": "x86_64",
		})
		return string(b), true
	}
	p, ok := strings.CutPrefix(path, "/latest/meta-data/")
	if !ok {
		return "", false
	}
	var primary Interface
	if len(in.Interfaces) > 0 {
		primary = in.Interfaces[0]
	}
	switch p {
	case "instance-id":
		return in.InstanceID, true
	case "placement/availability-zone":
		return in.AZ, true
	case "placement/region":
		return in.Region, true
	case "mac":
		return primary.MAC, true
	case "local-ipv4":
		if len(primary.LocalIPv4s) > 0 {
			return primary.LocalIPv4s[0], true
		}
		return "", false
	case "network/interfaces/macs", "network/interfaces/macs/":
		var b strings.Builder
		for _, ni := range in.Interfaces {
			b.WriteString(ni.MAC + "/\n")
		}
		return b.String(), true
	case "iam/security-credentials", "iam/security-credentials/":
		return in.Role, in.Role != ""
	case "iam/info":
		if in.Role == "" {
			return "", false
		}
		b, _ := json.Marshal(map[string]string{"Code": "Success", "InstanceProfileArn": "arn:aws:iam::" + in.AccountID + ":instance-profile/" + in.Role,
			"InstanceProfileId": "AIPATEST", "LastUpdated": time.Now().UTC().Format(time.RFC3339)})
		return string(b), true
	}
	if in.Role != "" && p == "iam/security-credentials/"+in.Role {
		b, _ := json.Marshal(map[string]string{"Code": "Success", "Type": "AWS-HMAC",
			"AccessKeyId": "ASIATESTROLE", "SecretAccessKey": "test-secret", "Token": "test-token",
			"Expiration": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339), "LastUpdated": time.Now().UTC().Format(time.RFC3339)})
		return string(b), true
	}
	if rest, ok := strings.CutPrefix(p, "network/interfaces/macs/"); ok {
		mac, field, _ := strings.Cut(rest, "/")
		for _, ni := range in.Interfaces {
			if ni.MAC != mac {
				continue
			}
			switch field {
			case "":
				return "device-number\ninterface-id\nlocal-ipv4s\nmac\nsubnet-id\nvpc-id\n", true
			case "interface-id":
				return ni.ENI, true
			case "subnet-id":
				return ni.SubnetID, true
			case "vpc-id":
				return ni.VPCID, true
			case "device-number":
				return strconv.Itoa(ni.DeviceNumber), true
			case "mac":
				return ni.MAC, true
			case "local-ipv4s":
				return strings.Join(ni.LocalIPv4s, "\n"), true
			}
		}
	}
	return "", false
}
