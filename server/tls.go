package server

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vipd/vipd/config"
)

// serverTLS builds the TLS configuration of the TCP listeners. The
// certificate is re-read when its files change (a renewed certificate is
// picked up by the next handshake); the client CA is read once.
func serverTLS(t *config.APITLS, log func(string, ...any)) (*tls.Config, error) {
	kp := &keyPair{cert: t.Cert, key: t.Key, log: log}
	if _, err := kp.get(nil); err != nil {
		return nil, err
	}
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: kp.get,
	}
	if t.ClientCA != "" {
		pool, err := config.LoadCertPool(t.ClientCA)
		if err != nil {
			return nil, err
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// keyPair serves a certificate and key from files, reloading them when
// either file's modification time or size changes. A reload that fails
// keeps the previous pair (and logs), so a half-written renewal does not
// take the API down.
type keyPair struct {
	cert, key string
	log       func(string, ...any)

	mu    sync.Mutex
	stamp [2]fileStamp
	pair  *tls.Certificate
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) fileStamp {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{st.ModTime(), st.Size()}
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	stamp := [2]fileStamp{stampOf(k.cert), stampOf(k.key)}
	if k.pair != nil && stamp == k.stamp {
		return k.pair, nil
	}
	pair, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		err = fmt.Errorf("API certificate %s and key %s: %w", k.cert, k.key, err)
		if k.pair == nil {
			return nil, err
		}
		k.log("API certificate not reloaded: keeping the previous one", "err", err)
		k.stamp = stamp // do not retry on every handshake until the files change again
		return k.pair, nil
	}
	if k.pair != nil {
		k.log("API certificate reloaded", "cert", k.cert)
	}
	k.pair, k.stamp = &pair, stamp
	return k.pair, nil
}
