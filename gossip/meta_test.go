package gossip

import (
	"errors"
	"strings"
	"testing"
)

func TestMetaSize(t *testing.T) {
	// Overhead: version byte + four one-byte lengths (strings < 128 bytes)
	// or two-byte lengths (128 bytes and more).
	tests := []struct {
		name    string
		meta    NodeMeta
		wantErr error
	}{
		{"typical", NodeMeta{Name: "cnh", AZ: "eu-west-2a", Version: "0.1.0", APIAddr: "198.51.100.1:9100"}, nil},
		{"empty", NodeMeta{}, nil},
		// 1 + (2+500) + 1 + 1 + (1+6) = 512
		{"exactly 512 bytes", NodeMeta{Name: strings.Repeat("n", 500), APIAddr: "a:9100"}, nil},
		{"513 bytes", NodeMeta{Name: strings.Repeat("n", 500), APIAddr: "ab:9100"}, ErrMetaTooLarge},
		{"long version", NodeMeta{Name: "a", Version: strings.Repeat("v", 600)}, ErrMetaTooLarge},
		{"invalid UTF-8", NodeMeta{Name: "\xff"}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeMeta(tt.meta)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("encodeMeta error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if b != nil {
					t.Errorf("encodeMeta returned %d bytes with an error", len(b))
				}
				return
			}
			if len(b) > MetaMaxSize {
				t.Fatalf("encoded %d bytes, over %d", len(b), MetaMaxSize)
			}
			got, err := decodeMeta(b)
			if err != nil {
				t.Fatalf("decodeMeta: %v", err)
			}
			if got != tt.meta {
				t.Errorf("round trip: got %+v, want %+v", got, tt.meta)
			}
		})
	}
}

func TestDecodeMetaMalformed(t *testing.T) {
	good, err := encodeMeta(NodeMeta{Name: "a", AZ: "z"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		b       []byte
		wantErr error
	}{
		{"version 2", []byte{2, 0, 0, 0, 0}, ErrVersion},
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"trailing", append(append([]byte(nil), good...), 'x'), ErrTrailing},
		{"string past the end", []byte{metaVersion, 9, 'a'}, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeMeta(tt.b); !errors.Is(err, tt.wantErr) {
				t.Errorf("decodeMeta error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewRejectsLargeMeta(t *testing.T) {
	cfg := testConfig(t, "meta")
	tests := []struct {
		name    string
		meta    NodeMeta
		wantErr bool
	}{
		{"fits", NodeMeta{Version: "1.0", APIAddr: "198.51.100.1:9100"}, false},
		{"too large", NodeMeta{Version: "1.0", APIAddr: strings.Repeat("x", 600)}, true},
		{"az and version too large", NodeMeta{AZ: strings.Repeat("z", 300), Version: strings.Repeat("v", 300)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(cfg, "node-a", Options{Log: discardLog(), Meta: tt.meta})
			if tt.wantErr {
				if !errors.Is(err, ErrMetaTooLarge) {
					t.Fatalf("New error = %v, want ErrMetaTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			m, err := decodeMeta((&delegate{c}).NodeMeta(MetaMaxSize))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.meta
			want.Name = "node-a"
			want.AZ = cfg.AZ
			if m != want {
				t.Errorf("advertised meta %+v, want %+v", m, want)
			}
		})
	}
}
