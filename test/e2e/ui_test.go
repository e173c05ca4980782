package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// browser starts Debian's chromium, headless, inside node's namespace (so
// that it reaches the node's loopback API and nothing of the root
// namespace), with a fresh profile, and returns a tab. chromedp talks to it
// over a pipe (file descriptors 3 and 4, kept by `ip netns exec`), not over
// a DevTools port. The browser is killed when the test ends.
func browser(t *testing.T, node *lab.Node) context.Context {
	t.Helper()
	bin := requireTool(t, "chromium")
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // root, in a test namespace
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1200, 1000),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// ip netns exec execs chromium in place: the pipes and the
			// parent-death signal stay chromium's.
			cmd.Args = append([]string{"ip", "netns", "exec", node.Name(), cmd.Path}, cmd.Args[1:]...)
			cmd.Path = ip
			if cmd.SysProcAttr == nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{}
			}
			cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		}),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// Start the browser now. The first action must run on the tab's own
	// context (the browser lives as long as the context it started with),
	// so the bound is a timer rather than a context deadline.
	timer := time.AfterFunc(30*time.Second, cancelTab)
	defer timer.Stop()
	// A headless page never has the window's focus, so focus events would
	// not fire: emulate a focused page, as a user's would be.
	focus := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	})
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank"), focus); err != nil {
		t.Fatalf("chromium in %s: %v", node.Name(), err)
	}
	return tab
}

// consoleLog collects what the page writes to the console (console API
// calls, uncaught exceptions, the browser's log entries such as failed
// loads) until the tab's context ends.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func collectConsole(tab context.Context) *consoleLog {
	c := &consoleLog{}
	msgs := chromedp.Console(tab) // subscribed now, before any navigation
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// errors returns the errors and exceptions so far, as text.
func (c *consoleLog) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			out = append(out, fmt.Sprintf("%s %s (%s %s:%d)", m.Type, m.Text, m.Source, m.URL, m.Line))
		}
	}
	return out
}

// waitPage waits until the JavaScript condition cond holds in the page; on
// a timeout it fails the test with what diag evaluates to.
func waitPage(t *testing.T, tab context.Context, d time.Duration, what, cond, diag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, d)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		got, _ := chromedp.Run(tab, chromedp.Evaluate[any](diag))
		t.Fatalf("%s (within %v): %v; the page has %v", what, d, err, got)
	}
}

// within runs a browser action with a time bound.
func within[T any](t *testing.T, tab context.Context, d time.Duration, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, d)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s (within %v): %v", what, d, err)
	}
	return v
}

// TestStatusPageInBrowser opens n1's status page (/ui on its loopback API)
// in headless chromium inside n1's namespace, on a 3-node cluster in two
// zones, and checks what an operator relies on: the three nodes grouped by
// zone with their gossip state and the holder; after `vipd failover` the
// timeline shows both transitions with the reason the new master reports,
// within 2 s of the move and without a reload; no command button without
// the full token (not with the read-only one either), while with it a
// failover from the page (keyboard-confirmed) moves the VIP and a node is
// drained and released from it; the same
// command from the page without a token, or with a wrong one, is refused;
// and the page wrote no error to the console. On n3, whose reads are
// private, the page says it has no access until given the read-only token.
// UI_SCREENSHOT=path saves a screenshot (docs/ui.png).
func TestStatusPageInBrowser(t *testing.T) {
	requireTool(t, "chromium")
	nodes := gossipLab(t, gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 2, 150}, gossipSpec{"n3", 1, 100})
	const fullTok, readTok = "ui-full-token-0123456789abcdef", "ui-read-token-0123456789abcdef"
	dir := t.TempDir()
	fullFile, readFile := filepath.Join(dir, "full.token"), filepath.Join(dir, "read.token")
	for p, tok := range map[string]string{fullFile: fullTok, readFile: readTok} {
		if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// n1: loopback API with a command token and a read-only token, reads
	// open (public_read), as a status page on a management host would be.
	nodes[0].extra = fmt.Sprintf("api:\n  listen: [\"127.0.0.1:9746\"]\n  token_file: %s\n  read_token_file: %s\n  public_read: true\n", fullFile, readFile)
	// n3: the same tokens, reads private.
	nodes[2].extra = fmt.Sprintf("api:\n  listen: [\"127.0.0.1:9746\"]\n  token_file: %s\n  read_token_file: %s\n", fullFile, readFile)
	members := startWithMaster(t, nodes)

	tab := browser(t, nodes[0].node)
	console := collectConsole(tab)
	within(t, tab, 15*time.Second, "open the page", chromedp.Navigate("http://127.0.0.1:9746/ui"))
	within(t, tab, 10*time.Second, "the page to show three nodes, n1 holding web, live updates on", chromedp.Poll[bool](
		`document.querySelectorAll('table.nodes tbody tr').length === 3 &&
		 document.querySelector('section.instance[data-instance="web"] .holder strong')?.textContent === 'n1' &&
		 document.getElementById('live').textContent === 'Live updates: on'`, chromedp.WithPollingInterval(50*time.Millisecond)))

	// Nodes by zone, each with its gossip state.
	zones := within(t, tab, 5*time.Second, "read the zones", chromedp.Evaluate[map[string][]string](
		`Object.fromEntries([...document.querySelectorAll('table.nodes')].map(t => [t.dataset.zone,
		   [...t.querySelectorAll('tbody tr')].map(r => r.dataset.node + ' ' + r.cells[1].textContent.trim().split(' ')[0])]))`))
	if got := fmt.Sprint(zones); got != "map[az1:[n1 ALIVE n3 ALIVE] az2:[n2 ALIVE]]" {
		t.Errorf("nodes by zone on the page: %s", got)
	}
	// Each node's state, priority and place (other nodes' states come by
	// gossip: give them a moment to settle).
	const rows = `[...document.querySelectorAll('section.instance[data-instance="web"] table.instance-nodes tbody tr')].map(r =>
		   [...r.cells].slice(0, 5).map(c => c.textContent.trim()).join('|')).join('\n')`
	waitPage(t, tab, 5*time.Second, "instance web's table", rows+` === `+
		jsString("n1|az1|MASTER|200|1 of 3 by priority\nn2|az2|BACKUP|150|2 of 3 by priority\nn3|az1|BACKUP|100|3 of 3 by priority"), rows)
	// Read-only without a token: no command button, and the page says why.
	if n := within(t, tab, 5*time.Second, "count buttons", chromedp.Evaluate[int](`document.querySelectorAll('button.act').length`)); n != 0 {
		t.Errorf("%d command buttons without a token", n)
	}
	if r := within(t, tab, 5*time.Second, "read access", chromedp.Text(chromedp.ID("rights"))); !strings.HasPrefix(r, "Access: read-only") {
		t.Errorf("access line without a token: %q", r)
	}

	// vipd failover, through n3's socket: the page follows without a
	// reload (the marker set now would be gone after one).
	// The marks already there (n2 may have been master for a moment at
	// start-up, before n1's adverts arrived) do not count.
	const n2Marks = `[...document.querySelectorAll('section.instance[data-instance="web"] .mark.transition[data-node="n2"]')]`
	within(t, tab, 5*time.Second, "set the reload marker", chromedp.Evaluate[chromedp.Void](
		`window.vipdTestMarker = 'kept'; window.vipdOldMarks = new Set(`+n2Marks+`.map(m => m.dataset.key))`))
	type seen struct {
		title string
		at    time.Time
		err   error
	}
	shown := make(chan seen, 1)
	go func() {
		title, err := chromedp.Run(tab, chromedp.Poll[string](
			n2Marks+`.filter(m => !window.vipdOldMarks.has(m.dataset.key)).map(m => m.querySelector('title').textContent)
			   .find(s => s.includes(' n2 transition web: ') && s.includes('→ MASTER')) || ''`,
			chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(20*time.Second)))
		shown <- seen{title, time.Now(), err}
	}()
	asked := time.Now()
	run(t, testbed.VipdBinary(t), "failover", "web", "--to", "n2", "--socket", nodes[2].d.Socket)
	took := testbed.WaitSoleHolder(t, members, gossipVIP, "n2", asked, 2*gossipAdvert+time.Second)
	moved := asked.Add(took)
	s := <-shown
	if s.err != nil {
		t.Fatalf("the timeline never showed n2 becoming master: %v", s.err)
	}
	lag := s.at.Sub(moved)
	t.Logf("n2 held the VIP %v after vipd failover; the page showed it %v later: %q", took, lag, s.title)
	if lag > 2*time.Second {
		t.Errorf("the timeline showed the transition %v after it happened, want within 2 s", lag)
	}
	reason := instanceReason(t, curlJSON(t, nodes[1].d.Socket, "GET", "/v1/status", ""), "web")
	if reason == "" || !strings.Contains(s.title, "— "+reason) {
		t.Errorf("the mark %q lacks n2's reason %q", s.title, reason)
	}
	waitPage(t, tab, 3*time.Second, "n1's lane to show its MASTER → BACKUP and n2's last band MASTER",
		`[...document.querySelectorAll('.mark.transition[data-node="n1"] title')].some(e => e.textContent.includes('MASTER → BACKUP')) &&
		 [...document.querySelectorAll('section.instance[data-instance="web"] .band[data-node="n2"]')].pop()?.dataset.state === 'MASTER' &&
		 document.querySelector('section.instance[data-instance="web"] .holder strong')?.textContent === 'n2'`,
		`[[...document.querySelectorAll('.mark title')].map(e => e.textContent),
		  [...document.querySelectorAll('.band')].map(e => e.dataset.node + ':' + e.dataset.state),
		  document.querySelector('.holder')?.textContent]`)
	// The mark takes the keyboard focus, and its reason is then written
	// out under the picture (a title shows only on hover).
	focused := within(t, tab, 5*time.Second, "focus the mark", chromedp.Evaluate[string](
		`(() => { const m = `+n2Marks+`.find(m => m.querySelector('title').textContent === `+jsString(s.title)+`);
		   m.focus(); return document.activeElement === m ? document.getElementById('focus-web').textContent : 'not focusable'; })()`))
	if focused != s.title {
		t.Errorf("focused mark shows %q, want %q", focused, s.title)
	}
	if m := within(t, tab, 5*time.Second, "read the marker", chromedp.Evaluate[string](`window.vipdTestMarker || 'reloaded'`)); m != "kept" {
		t.Errorf("the page reloaded (marker %q)", m)
	}

	// The read-only token shows no button either.
	setToken(t, tab, readTok)
	within(t, tab, 5*time.Second, "the read-only token to be taken", chromedp.Poll[bool](
		`document.getElementById('rights').textContent.startsWith('Access: read-only') && document.getElementById('message').textContent === 'Token set for this tab.'`,
		chromedp.WithPollingInterval(50*time.Millisecond)))
	if n := within(t, tab, 5*time.Second, "count buttons", chromedp.Evaluate[int](`document.querySelectorAll('button.act').length`)); n != 0 {
		t.Errorf("%d command buttons with the read-only token", n)
	}

	// With the full token: buttons; a failover back to n1 from the page,
	// armed by a click and confirmed from the keyboard.
	setToken(t, tab, fullTok)
	btn := `button.act[data-key="failover:web:n1"]`
	within(t, tab, 5*time.Second, "the command buttons to appear", chromedp.Poll[bool](
		`document.getElementById('rights').textContent === 'Access: read and commands' && !!document.querySelector('`+btn+`')`,
		chromedp.WithPollingInterval(50*time.Millisecond)))
	within(t, tab, 5*time.Second, "arm the failover button", chromedp.Click(chromedp.CSS(btn)))
	if txt := within(t, tab, 5*time.Second, "read the armed button", chromedp.Text(chromedp.CSS(btn))); txt != "Confirm: make n1 master of web" {
		t.Errorf("armed button says %q", txt)
	}
	asked = time.Now()
	within(t, tab, 5*time.Second, "confirm with Enter", chromedp.SendKeys(chromedp.CSS(btn), kb.Enter))
	testbed.WaitSoleHolder(t, members, gossipVIP, "n1", asked, 2*gossipAdvert+time.Second)
	if msg := within(t, tab, 5*time.Second, "read the answer", chromedp.Text(chromedp.ID("message"))); !strings.Contains(msg, "Failover of web to n1: accepted by n1") {
		t.Errorf("the page's answer to its failover: %q", msg)
	}
	within(t, tab, 5*time.Second, "the page to show n1 holding again", chromedp.Poll[bool](
		`document.querySelector('section.instance[data-instance="web"] .holder strong')?.textContent === 'n1'`,
		chromedp.WithPollingInterval(50*time.Millisecond)))

	// Maintenance from the page: drain n3 (a backup: nothing to hand
	// over), then release it.
	for _, m := range []struct {
		key, cell string
		on        bool
	}{{"maint:n3:on", "drained", true}, {"maint:n3:off", "no", false}} {
		b := `button.act[data-key="` + m.key + `"]`
		waitPage(t, tab, 5*time.Second, "the "+m.key+" button", `!!document.querySelector('`+b+`')`, `document.getElementById('nodes').textContent`)
		within(t, tab, 5*time.Second, "arm "+m.key, chromedp.Click(chromedp.CSS(b)))
		within(t, tab, 5*time.Second, "confirm "+m.key, chromedp.Click(chromedp.CSS(b)))
		waitPage(t, tab, 5*time.Second, "n3's maintenance shown as "+m.cell,
			`document.querySelector('table.nodes tr[data-node="n3"]')?.cells[5].textContent === '`+m.cell+`' &&
			 document.getElementById('message').textContent.startsWith('Maintenance of n3 is `+map[bool]string{true: "on", false: "off"}[m.on]+`')`,
			`[document.querySelector('table.nodes tr[data-node="n3"]')?.textContent, document.getElementById('message').textContent]`)
		if st := curlJSON(t, nodes[2].d.Socket, "GET", "/v1/status", ""); st["maintenance"] != m.on {
			t.Errorf("after %s from the page n3's maintenance is %v", m.key, st["maintenance"])
		}
	}

	if path := os.Getenv("UI_SCREENSHOT"); path != "" {
		// The last minute, where this test's events are, once the bands
		// since the failovers are wide enough to read.
		time.Sleep(20 * time.Second)
		within(t, tab, 5*time.Second, "zoom the timeline", chromedp.Evaluate[chromedp.Void](
			`(() => { const s = document.getElementById('span'); s.value = '60000'; s.dispatchEvent(new Event('change')); })()`))
		waitPage(t, tab, 5*time.Second, "the zoomed timeline", `document.querySelector('.timeline')?.getAttribute('aria-label').endsWith('minute')`,
			`document.querySelector('.timeline')?.getAttribute('aria-label')`)
		png := within(t, tab, 15*time.Second, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", path, len(png))
	}

	// Everything so far without a console error.
	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}

	// Forgetting the token takes the buttons away; the same command sent
	// by the page without a token, or with a wrong one, is refused.
	within(t, tab, 5*time.Second, "forget the token", chromedp.Click(chromedp.ID("token-forget")))
	within(t, tab, 5*time.Second, "the buttons to go", chromedp.Poll[bool](`document.querySelectorAll('button.act').length === 0`,
		chromedp.WithPollingInterval(50*time.Millisecond)))
	for _, tc := range []struct {
		authz string
		want  int
	}{{"", 401}, {"Bearer wrong-token-0123456789abcdef", 403}} {
		code := within(t, tab, 5*time.Second, "a command without the token", chromedp.Evaluate[int](fmt.Sprintf(
			`fetch('/v1/instances/web:failover', {method: 'POST', headers: Object.assign({'Content-Type': 'application/json'}, %s),
			   body: JSON.stringify({targetNode: 'n2'})}).then(r => r.status)`, authzJS(tc.authz)), chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
		if code != tc.want {
			t.Errorf("failover from the page with authorization %q: HTTP %d, want %d", tc.authz, code, tc.want)
		}
	}
	if st := instanceState(t, curlJSON(t, nodes[0].d.Socket, "GET", "/v1/status", ""), "web"); st != "INSTANCE_STATE_MASTER" {
		t.Errorf("after the refused commands n1 is %s", st)
	}

	// n3's reads are private: its page loads, reads nothing and says so
	// (no refused call on the console), and shows the cluster with the
	// read-only token, without buttons.
	tab3 := browser(t, nodes[2].node)
	console3 := collectConsole(tab3)
	within(t, tab3, 15*time.Second, "open n3's page", chromedp.Navigate("http://127.0.0.1:9746/ui"))
	waitPage(t, tab3, 5*time.Second, "n3's page to say it has no access",
		`document.getElementById('rights').textContent.startsWith('Access: none') && document.getElementById('nodes').textContent.startsWith('No access: ')`,
		`[document.getElementById('rights').textContent, document.getElementById('nodes').textContent]`)
	setToken(t, tab3, readTok)
	waitPage(t, tab3, 5*time.Second, "n3's page to show the cluster with the read-only token",
		`document.querySelectorAll('table.nodes tbody tr').length === 3 && document.getElementById('live').textContent === 'Live updates: on' &&
		 document.getElementById('rights').textContent.startsWith('Access: read-only') && document.querySelectorAll('button.act').length === 0`,
		`[document.getElementById('rights').textContent, document.getElementById('live').textContent, document.querySelectorAll('button.act').length]`)
	if errs := console3.errors(); len(errs) > 0 {
		t.Errorf("console errors on n3's page:\n%s", strings.Join(errs, "\n"))
	}
}

// setToken types a token into the page's form and submits it.
func setToken(t *testing.T, tab context.Context, tok string) {
	t.Helper()
	within(t, tab, 5*time.Second, "enter a token", chromedp.Steps(chromedp.SendKeys(chromedp.ID("token"), tok), chromedp.Click(chromedp.ID("token-use"))))
}

// authzJS is a JavaScript object literal with the Authorization header, or
// none.
func authzJS(v string) string {
	if v == "" {
		return "{}"
	}
	return "{Authorization: " + jsString(v) + "}"
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// instanceReason digs an instance's reason out of a GetStatus answer.
func instanceReason(t *testing.T, status map[string]any, name string) string {
	t.Helper()
	list, _ := status["instances"].([]any)
	for _, x := range list {
		in, _ := x.(map[string]any)
		if in["name"] == name {
			s, _ := in["reason"].(string)
			return s
		}
	}
	t.Fatalf("no instance %s in %v", name, status)
	return ""
}
