package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vipd/vipd/history"
)

// history reads the top-level history section:
//
//	history:
//	  dir: /var/lib/vipd/history
//	  max_size: 16MiB
//	  max_age: 720h
func (p *yamlParser) history(k, n *yaml.Node, path string, h *History) {
	h.Pos = p.pos(k)
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"dir": func(_, v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				if !filepath.IsAbs(s) {
					p.fail(v, path, fmt.Sprintf("%q is not an absolute path", s))
					return
				}
				h.Dir = filepath.Clean(s)
			}
		},
		"max_size": func(_, v *yaml.Node, path string) {
			if !p.scalar(v, path) {
				return
			}
			size, err := parseSize(v.Value)
			if err == nil && size < history.MinMaxSize {
				err = fmt.Errorf("%s is below the minimum of %d bytes (64KiB)", v.Value, history.MinMaxSize)
			}
			if err != nil {
				p.fail(v, path, err.Error())
				return
			}
			h.Limits.MaxSize = size
		},
		"max_age": func(_, v *yaml.Node, path string) {
			if d, ok := p.duration(v, path); ok {
				if d < history.MinMaxAge {
					p.fail(v, path, fmt.Sprintf("%s is below the minimum of %v", v.Value, history.MinMaxAge))
					return
				}
				h.Limits.MaxAge = d
			}
		},
	})
}

// parseSize reads a byte count: digits, optionally followed by KiB, MiB
// or GiB.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size such as 16MiB, 512KiB or 1048576", s)
	}
	return v * mult, nil
}
