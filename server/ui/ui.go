// Package ui serves vipd's status page: a few static files embedded in the
// binary (plain HTML, CSS and JavaScript: no framework, no build step, no
// CDN, so it works on an isolated management network) and a stream of the
// node's watch events as server-sent events.
//
// The page reads the HTTP/JSON API of the node that serves it (cluster,
// events, access) and sends its commands there too, same-origin with a
// JSON body, so that every rule of the API applies to it unchanged. This
// package holds no authorization of its own: the server guards the event
// stream like any read, and the files carry no data.
//
// It depends only on the generated API and protojson, never on the server
// package (which registers its routes).
package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"

	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

//go:embed static
var static embed.FS

// Prefix is where the page lives; Prefix+"/" holds its files and
// EventsPath its event stream.
const (
	Prefix     = "/ui"
	EventsPath = Prefix + "/events"
)

// WatchFunc opens a watch stream (the API's Watch, as a client of the
// serving node).
type WatchFunc func(ctx context.Context, req *vipdv1.WatchRequest) (vipdv1.VipdService_WatchClient, error)

// Page serves the status page.
type Page struct {
	watch WatchFunc
	log   *slog.Logger
}

// New returns a Page whose event stream comes from watch; log may be nil.
func New(watch WatchFunc, log *slog.Logger) *Page {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Page{watch: watch, log: log}
}

// contentTypes are the types of the embedded files, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
}

// securityHeaders keep the page to its own files and its own origin: no
// inline script or style, no framing (its buttons must not be clicked
// through another site's page), no referrer.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}

// ServeFiles serves the page (Prefix and Prefix+"/") and its files
// (Prefix+"/NAME"); anything else under Prefix is 404. GET and HEAD only:
// the caller checks the method.
func (p *Page) ServeFiles(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		name = "index.html"
	}
	ct, ok := contentTypes[path.Ext(name)]
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	data, err := static.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// watchTypes are the events the page draws: transitions and checks of
// every node (cluster), members, orders, and this node's history.
var watchTypes = []vipdv1.EventType{
	vipdv1.EventType_EVENT_TYPE_INSTANCE,
	vipdv1.EventType_EVENT_TYPE_CHECK,
	vipdv1.EventType_EVENT_TYPE_MEMBER,
	vipdv1.EventType_EVENT_TYPE_ORDER,
	vipdv1.EventType_EVENT_TYPE_HISTORY,
}

// ServeEvents streams the watch as server-sent events: "event: open"
// once the stream is set up, then one "event: watch" per WatchResponse
// (its JSON as the API writes it), and "event: end" with the error's
// message when the stream ends on the server's side (the agent stopping, a
// watcher too slow); the client reconnects and reloads the state. It ends
// when the client goes away. The caller checks the method and access, and
// clears the connection's read deadline.
func (p *Page) ServeEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		return
	}
	rc := http.NewResponseController(w)
	stream, err := p.watch(r.Context(), &vipdv1.WatchRequest{Types: watchTypes, Cluster: true})
	if err != nil {
		http.Error(w, "watch: "+status.Convert(err).Message(), http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not hold events back
	w.WriteHeader(http.StatusOK)
	send := func(event string, data []byte) error {
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send("open", []byte("{}")) != nil {
		return
	}
	marshal := protojson.MarshalOptions{}
	for {
		ev, err := stream.Recv()
		if err != nil {
			if r.Context().Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			if status.Code(err) != codes.Canceled {
				p.log.Debug("status page event stream ended", "remote", r.RemoteAddr, "err", err)
			}
			msg, _ := json.Marshal(map[string]string{"error": status.Convert(err).Message()})
			_ = send("end", msg)
			return
		}
		data, err := marshal.Marshal(ev)
		if err != nil {
			p.log.Warn("status page: cannot encode an event", "err", err)
			continue
		}
		if send("watch", data) != nil {
			return
		}
	}
}
