package gossip

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vipd/vipd/config"
)

func TestLoadKeys(t *testing.T) {
	k1, k2, k3 := testKey(1), testKey(2), testKey(3)[:16]
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", "# rotation in progress\n\n"+b64(k2)+"\n  "+b64(k3)+"  \n"+b64(k1)+"\n")
	bad := file("bad", b64(k2)+"\nnot-base64!\n")
	short := file("short", "\n"+b64([]byte("0123456789"))+"\n")

	tests := []struct {
		name    string
		cfg     config.Gossip
		want    [][]byte
		wantErr bool
		errIdx  int
	}{
		{"none", config.Gossip{}, nil, false, 0},
		{"keys in order", config.Gossip{Keys: []string{b64(k1), b64(k2)}}, [][]byte{k1, k2}, false, 0},
		{"keys then file, duplicates dropped", config.Gossip{Keys: []string{b64(k1)}, KeyFile: good}, [][]byte{k1, k2, k3}, false, 0},
		{"file only", config.Gossip{KeyFile: good}, [][]byte{k2, k3, k1}, false, 0},
		{"bad base64 in keys", config.Gossip{Keys: []string{b64(k1), "@@"}}, nil, true, 1},
		{"wrong key size in keys", config.Gossip{Keys: []string{b64(k1[:20])}}, nil, true, 0},
		{"bad line in file", config.Gossip{KeyFile: bad}, nil, true, 2},
		{"short key in file", config.Gossip{KeyFile: short}, nil, true, 2},
		{"missing file", config.Gossip{KeyFile: filepath.Join(dir, "nope")}, nil, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadKeys(&tt.cfg)
			if tt.wantErr {
				var ke *KeyError
				if !errors.As(err, &ke) {
					t.Fatalf("error = %v, want *KeyError", err)
				}
				if ke.Index != tt.errIdx {
					t.Errorf("error index %d, want %d (%v)", ke.Index, tt.errIdx, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Errorf("key %d differs", i)
				}
			}
		})
	}
}

func TestUpdateKeys(t *testing.T) {
	k1, k2, k3 := testKey(1), testKey(2), testKey(3)
	tests := []struct {
		name        string
		start       [][]byte
		update      [][]byte
		wantErr     error
		wantPrimary []byte
		wantKeys    [][]byte
	}{
		{"add a key, keep primary", [][]byte{k1}, [][]byte{k1, k2}, nil, k1, [][]byte{k1, k2}},
		{"switch primary", [][]byte{k1, k2}, [][]byte{k2, k1}, nil, k2, [][]byte{k2, k1}},
		{"retire old key", [][]byte{k2, k1}, [][]byte{k2}, nil, k2, [][]byte{k2}},
		{"replace all at once", [][]byte{k1, k2}, [][]byte{k3}, nil, k3, [][]byte{k3}},
		{"empty list", [][]byte{k1}, nil, ErrNoKeys, k1, [][]byte{k1}},
		{"bad size", [][]byte{k1}, [][]byte{k1[:10]}, nil, k1, [][]byte{k1}},
		{"no encryption at start", nil, [][]byte{k1}, ErrEncryptionOff, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "keys")
			for _, k := range tt.start {
				cfg.Keys = append(cfg.Keys, b64(k))
			}
			c, err := New(cfg, "a", Options{Log: discardLog()})
			if err != nil {
				t.Fatal(err)
			}
			err = c.UpdateKeys(tt.update)
			switch {
			case tt.name == "bad size":
				var ke *KeyError
				if !errors.As(err, &ke) {
					t.Fatalf("error = %v, want *KeyError", err)
				}
			case !errors.Is(err, tt.wantErr):
				t.Fatalf("UpdateKeys error = %v, want %v", err, tt.wantErr)
			}
			if c.keyring == nil {
				if tt.wantKeys != nil {
					t.Fatal("no keyring")
				}
				return
			}
			if p := c.keyring.GetPrimaryKey(); !bytes.Equal(p, tt.wantPrimary) {
				t.Errorf("primary key %x, want %x", p, tt.wantPrimary)
			}
			got := c.keyring.GetKeys()
			if len(got) != len(tt.wantKeys) {
				t.Fatalf("%d keys installed, want %d", len(got), len(tt.wantKeys))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.wantKeys[i]) {
					t.Errorf("key %d differs", i)
				}
			}
		})
	}
}

func TestNoKeysWarns(t *testing.T) {
	rec := &recorder{}
	if _, err := New(testConfig(t, "plain"), "a", Options{Log: slogFor(rec)}); err != nil {
		t.Fatal(err)
	}
	if !rec.has(slogWarn, "no encryption keys") {
		t.Error("no warning about missing encryption")
	}
}
