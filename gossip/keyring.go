package gossip

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/memberlist"

	"github.com/vipd/vipd/config"
)

// LoadKeys returns the encryption keys of the gossip section: Keys first,
// then the key file's, one base64 AES key (16, 24 or 32 bytes) per line;
// blank lines and lines starting with '#' are skipped, duplicates dropped.
// The first key encrypts, all decrypt. No keys means no encryption. The
// agent calls it at start and on reload, then UpdateKeys.
func LoadKeys(cfg *config.Gossip) ([][]byte, error) {
	var keys [][]byte
	add := func(k []byte) {
		for _, have := range keys {
			if bytes.Equal(have, k) {
				return
			}
		}
		keys = append(keys, k)
	}
	for i, s := range cfg.Keys {
		k, err := decodeKey(s)
		if err != nil {
			return nil, &KeyError{Source: "keys", Index: i, Err: err}
		}
		add(k)
	}
	if cfg.KeyFile == "" {
		return keys, nil
	}
	f, err := os.Open(cfg.KeyFile)
	if err != nil {
		return nil, &KeyError{Source: cfg.KeyFile, Err: err}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, err := decodeKey(s)
		if err != nil {
			return nil, &KeyError{Source: cfg.KeyFile, Index: line, Err: err}
		}
		add(k)
	}
	if err := sc.Err(); err != nil {
		return nil, &KeyError{Source: cfg.KeyFile, Index: line, Err: err}
	}
	return keys, nil
}

// decodeKey decodes one base64 key and checks its AES size. Errors never
// include the key.
func decodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if err := memberlist.ValidateKey(k); err != nil {
		return nil, fmt.Errorf("%d bytes: want 16, 24 or 32 (AES-128, -192, -256)", len(k))
	}
	return k, nil
}

// newKeyring builds memberlist's keyring with keys[0] as the primary; nil
// when there are no keys (memberlist then neither encrypts nor expects
// encrypted packets).
func newKeyring(keys [][]byte) (*memberlist.Keyring, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	return memberlist.NewKeyring(keys[1:], keys[0])
}

// UpdateKeys rotates the encryption keys without downtime: it installs
// every key, makes keys[0] the primary (the one that encrypts) and removes
// the installed keys not listed. A rotation across the cluster runs it
// three times on every node: [old, new] (everyone can read new), then
// [new, old] (everyone writes new), then [new] (old retired). Each step
// must reach every node before the next starts.
func (c *Cluster) UpdateKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return ErrNoKeys
	}
	for i, k := range keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return &KeyError{Source: "keys", Index: i, Err: fmt.Errorf("%d bytes: want 16, 24 or 32", len(k))}
		}
	}
	kr := c.keyring
	if kr == nil {
		return ErrEncryptionOff
	}
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	for _, k := range keys {
		if err := kr.AddKey(k); err != nil {
			return err
		}
	}
	if err := kr.UseKey(keys[0]); err != nil {
		return err
	}
	// GetKeys returns the ring's own slice, which memberlist may be
	// reading while RemoveKey shifts the keys after the removed one in
	// place. Removing from the end keeps that shift empty in the usual
	// rotation (the retired key is last), and iterating over a copy keeps
	// this loop's view stable.
	installed := append([][]byte(nil), kr.GetKeys()...)
	for i := len(installed) - 1; i >= 0; i-- {
		if !containsKey(keys, installed[i]) {
			if err := kr.RemoveKey(installed[i]); err != nil {
				return err
			}
		}
	}
	c.log.Info("gossip: encryption keys updated", "keys", len(keys), "primary", keyFingerprint(keys[0]))
	return nil
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, have := range keys {
		if bytes.Equal(have, k) {
			return true
		}
	}
	return false
}

// keyFingerprint names a key in logs without revealing it.
func keyFingerprint(k []byte) string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:4])
}
