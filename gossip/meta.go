package gossip

import (
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"
)

// MetaMaxSize is the most bytes memberlist carries as node meta.
const MetaMaxSize = memberlist.MetaMaxSize

// metaVersion is the version of the node meta encoding.
const metaVersion = 1

// encodeMeta encodes m compactly. It returns an error wrapping
// ErrMetaTooLarge when the result would not fit MetaMaxSize: the meta is
// never cut short, since a truncated API address or version misleads.
func encodeMeta(m NodeMeta) ([]byte, error) {
	for _, f := range []struct{ name, v string }{{"name", m.Name}, {"az", m.AZ}, {"version", m.Version}, {"api address", m.APIAddr}} {
		if !utf8.ValidString(f.v) {
			return nil, fmt.Errorf("%w: node meta %s is not valid UTF-8", ErrInvalid, f.name)
		}
	}
	e := encoder{b: []byte{metaVersion}}
	e.str(m.Name)
	e.str(m.AZ)
	e.str(m.Version)
	e.str(m.APIAddr)
	if len(e.b) > MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, at most %d (name %d, az %d, version %d, api address %d bytes)",
			ErrMetaTooLarge, len(e.b), MetaMaxSize, len(m.Name), len(m.AZ), len(m.Version), len(m.APIAddr))
	}
	return e.b, nil
}

// decodeMeta decodes what encodeMeta wrote. Empty meta (a member that
// advertises none) decodes to the zero NodeMeta.
func decodeMeta(b []byte) (NodeMeta, error) {
	if len(b) == 0 {
		return NodeMeta{}, nil
	}
	d := decoder{what: "meta", b: b}
	if v := d.byte("version"); v != metaVersion {
		d.off = 0
		d.fail("version", ErrVersion)
		return NodeMeta{}, d.error()
	}
	var m NodeMeta
	m.Name = d.str("name", MetaMaxSize)
	m.AZ = d.str("az", MetaMaxSize)
	m.Version = d.str("version", MetaMaxSize)
	m.APIAddr = d.str("api address", MetaMaxSize)
	d.end()
	if err := d.error(); err != nil {
		return NodeMeta{}, err
	}
	return m, nil
}
