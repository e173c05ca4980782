// vipd status page: reads the node's HTTP/JSON API (same origin), draws
// it, and follows the node's watch stream (server-sent events on
// /ui/events). No framework, no build step. Times are shown in UTC.
'use strict';
(() => {
  const HOUR = 3600e3;
  const SVGNS = 'http://www.w3.org/2000/svg';
  const S = {
    token: sessionStorage.getItem('vipd-token') || '',
    access: null,     // GET /access
    cluster: null,    // GET /v1/cluster
    history: 'loading', // 'ok', 'missing' (no ListEvents on this node) or an error
    sources: [],      // ListEvents sources: who answered, clock skew
    events: [],       // normalised events, oldest first
    keys: new Set(),  // keys of the events held
    armed: null,      // {key, until}: a command button awaiting its confirming click
    stream: null,     // AbortController of the event stream
    live: false,
    span: HOUR,       // the timeline's window
  };

  // --- DOM helpers -------------------------------------------------------
  function build(doc, ns, tag, attrs, kids) {
    const e = ns ? doc.createElementNS(ns, tag) : doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.setAttribute('class', v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }
  const h = (tag, attrs, ...kids) => build(document, null, tag, attrs, kids);
  const svg = (tag, attrs, ...kids) => build(document, SVGNS, tag, attrs, kids);
  const $ = (id) => document.getElementById(id);

  const pad = (n) => String(n).padStart(2, '0');
  function clock(ms) {
    if (!ms) return '';
    const d = new Date(ms);
    return pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
  }
  function ago(ms) {
    if (!ms) return '';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 120) return s + ' s ago';
    if (s < 7200) return Math.round(s / 60) + ' min ago';
    return Math.round(s / 3600) + ' h ago';
  }
  const ts = (v) => (v ? Date.parse(v) || 0 : 0);
  // word turns an API enum ("INSTANCE_STATE_MASTER") into its word.
  const word = (v) => String(v || '').replace(/^(INSTANCE_STATE_|CHECK_STATE_|MEMBER_STATUS_)/, '') || 'UNKNOWN';
  const stateSpan = (w) => h('span', { class: 'state ' + w }, w);

  // --- API ---------------------------------------------------------------
  async function api(path, body, method) {
    const headers = {};
    if (S.token) headers['Authorization'] = 'Bearer ' + S.token;
    const init = { method: method || (body === undefined ? 'GET' : 'POST'), headers, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) {
      const err = new Error((data && data.message) || (r.status + ' ' + r.statusText));
      err.status = r.status;
      throw err;
    }
    return data;
  }

  function say(text) { $('message').textContent = text; }

  // --- events ------------------------------------------------------------
  // add keeps one normalised event: {key, t, node, kind, instance, from,
  // to, reason, cause, extra}. A transition seen both on the watch and in
  // the history (the same states and reason, close in time) is kept once,
  // with the history's (the node's own) time.
  function add(ev) {
    if (S.keys.has(ev.key)) return;
    if (ev.kind === 'transition') {
      const i = S.events.findIndex((o) => o.kind === 'transition' && !o.fromHistory !== !ev.fromHistory && o.node === ev.node &&
        o.instance === ev.instance && o.from === ev.from && o.to === ev.to && o.reason === ev.reason && Math.abs(o.t - ev.t) < 3000);
      if (i >= 0) {
        if (!ev.fromHistory || S.events[i].fromHistory) return;
        S.keys.delete(S.events[i].key);
        S.events.splice(i, 1);
      }
    }
    S.keys.add(ev.key);
    let i = S.events.length;
    while (i > 0 && S.events[i - 1].t > ev.t) i--;
    S.events.splice(i, 0, ev);
    const old = Date.now() - 2 * HOUR;
    while (S.events.length > 5000 || (S.events.length && S.events[0].t < old)) S.keys.delete(S.events.shift().key);
  }

  function addHistory(e) {
    const extra = [];
    if (e.check) extra.push('check ' + e.check);
    if (e.output) extra.push('output: ' + e.output);
    if (e.origin) extra.push('asked by ' + e.origin);
    if (e.via) extra.push('via ' + e.via);
    if (e.caller) extra.push('caller ' + e.caller);
    if (e.kind === 'order' && e.version && e.version !== '0') extra.push('version ' + e.version);
    if (e.priority || e.previousPriority) {
      if (e.previousPriority && e.previousPriority !== e.priority) extra.push('priority ' + e.previousPriority + ' → ' + e.priority);
      else if (e.priority) extra.push('priority ' + e.priority);
    }
    if (e.master) extra.push('master ' + e.master);
    if (e.error) extra.push('error: ' + e.error);
    if (e.detail) extra.push(e.detail);
    add({
      key: 'h:' + e.node + ':' + e.seq, t: ts(e.time), node: e.node, kind: e.kind || 'event', instance: e.instance || '',
      from: word(e.from), to: word(e.to), reason: e.reason || '', cause: e.cause || '', extra: extra.join('; '), fromHistory: true,
    });
  }

  // onWatch applies one WatchResponse to the model.
  function onWatch(w) {
    const t = ts(w.time) || Date.now();
    const node = w.node || '';
    if (w.instance) {
      const i = w.instance;
      add({
        key: 'w:' + node + ':' + i.name + ':' + t + ':' + i.to, t, node, kind: 'transition', instance: i.name,
        from: word(i.from), to: word(i.to), reason: i.reason || '', cause: '',
        extra: (i.priority ? 'priority ' + i.priority : '') + (i.masterAddress ? '; master ' + i.masterAddress : ''),
      });
      const cn = clusterNode(node);
      const inst = cn && (cn.instances || []).find((x) => x.name === i.name);
      if (inst) Object.assign(inst, { state: i.to, priority: i.priority, reason: i.reason, masterAddress: i.masterAddress, since: w.time });
    } else if (w.check) {
      const c = w.check;
      add({ key: 'w:' + node + ':check:' + c.name + ':' + t, t, node, kind: 'check', instance: '', from: word(c.from), to: word(c.to),
        reason: c.output || '', cause: '', extra: 'check ' + c.name });
      const cn = clusterNode(node);
      const chk = cn && (cn.checks || []).find((x) => x.name === c.name);
      if (chk) Object.assign(chk, { state: c.to, healthy: word(c.to) === 'HEALTHY', output: c.output, since: w.time });
    } else if (w.member) {
      const m = w.member.member || {};
      add({ key: 'w:' + node + ':member:' + t + ':' + m.status, t, node, kind: 'member', instance: '',
        from: word(w.member.previousStatus), to: word(m.status), reason: 'gossip membership', cause: '', extra: m.address || '' });
      const cn = clusterNode(m.name);
      if (cn) cn.member = m;
    } else if (w.order) {
      const o = (w.order.order) || {};
      add({ key: 'w:order:' + o.instance + ':' + o.version, t, node, kind: 'order', instance: o.instance, from: 'UNKNOWN', to: 'UNKNOWN',
        reason: 'order ' + (o.nodes || []).map((n) => n.name + (n.disabled ? ' (disabled)' : '')).join(', '), cause: '',
        extra: 'version ' + o.version + ' by ' + (o.origin || node) });
      if (S.cluster) {
        S.cluster.orders = (S.cluster.orders || []).filter((x) => x.instance !== o.instance).concat([o]);
      }
    } else if (w.history) {
      addHistory(w.history);
    }
    schedule();
    reloadSoon();
  }

  function clusterNode(name) {
    return S.cluster && (S.cluster.nodes || []).find((n) => n.member && n.member.name === name);
  }

  // --- loading -----------------------------------------------------------
  async function loadAccess() {
    try {
      S.access = await api('/access');
    } catch (e) {
      S.access = { read: false, write: false, readError: e.message, writeError: e.message };
    }
  }

  async function loadCluster() {
    try {
      S.cluster = await api('/v1/cluster');
    } catch (e) {
      say('Cannot read the cluster: ' + e.message);
    }
  }

  async function loadHistory() {
    const since = new Date(Date.now() - HOUR).toISOString();
    try {
      const r = await api('/v1/events?since=' + encodeURIComponent(since));
      (r.events || []).forEach(addHistory);
      S.sources = r.sources || [];
      S.history = 'ok';
    } catch (e) {
      S.history = (e.status === 501 || e.status === 404) ? 'missing' : 'error: ' + e.message;
    }
  }

  let reloadTimer = 0;
  // reloadSoon re-reads the cluster view shortly after events, so that
  // what the events do not carry (orders, member details) stays current.
  function reloadSoon() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(async () => { await loadCluster(); schedule(); }, 400);
  }

  async function refresh() {
    await loadAccess();
    if (S.access.read) {
      await loadCluster();
      await loadHistory();
      startStream();
    } else {
      stopStream();
      $('live').textContent = 'Live updates: off (no read access)';
    }
    render();
  }

  // --- the event stream (server-sent events, read with fetch so that a
  // token can go in a header, which EventSource cannot send) ----------------
  function setLive(on, why) {
    S.live = on;
    $('live').textContent = on ? 'Live updates: on' : 'Live updates: off' + (why ? ' (' + why + '), reconnecting…' : '');
  }

  function stopStream() {
    if (S.stream) S.stream.abort();
    S.stream = null;
  }

  function startStream() {
    stopStream();
    const ctrl = new AbortController();
    S.stream = ctrl;
    const headers = {};
    if (S.token) headers['Authorization'] = 'Bearer ' + S.token;
    (async () => {
      let why = 'stream ended';
      try {
        const r = await fetch('/ui/events', { headers, cache: 'no-store', signal: ctrl.signal });
        if (!r.ok) throw new Error('HTTP ' + r.status);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            why = onBlock(buf.slice(0, i)) || why;
            buf = buf.slice(i + 2);
          }
        }
      } catch (e) {
        why = e.message;
      }
      if (ctrl.signal.aborted || S.stream !== ctrl) return;
      setLive(false, why);
      setTimeout(() => { if (S.stream === ctrl) refresh(); }, 2000);
    })();
  }

  function onBlock(block) {
    let event = 'message', data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trim();
    }
    let v = null;
    try { v = JSON.parse(data || 'null'); } catch (e) { return ''; }
    if (event === 'open') {
      setLive(true);
      // Whatever happened between the first load and the subscription.
      loadCluster().then(loadHistory).then(schedule);
    } else if (event === 'watch' && v) {
      onWatch(v);
    } else if (event === 'end') {
      return (v && v.error) || 'stream ended';
    }
    return '';
  }

  // --- commands ----------------------------------------------------------
  // A command button takes two clicks: the first arms it (it then says
  // what it will do), the second within 5 s sends the command.
  function actButton(key, label, confirm, run) {
    const armed = S.armed && S.armed.key === key && S.armed.until > Date.now();
    return h('button', {
      type: 'button', class: 'act' + (armed ? ' armed' : ''), 'data-key': key,
      onclick: async () => {
        if (!(S.armed && S.armed.key === key && S.armed.until > Date.now())) {
          S.armed = { key, until: Date.now() + 5000 };
          render();
          setTimeout(() => { if (S.armed && S.armed.key === key) { S.armed = null; render(); } }, 5100);
          return;
        }
        S.armed = null;
        try {
          say(await run());
        } catch (e) {
          say('Refused: ' + e.message);
        }
        reloadSoon();
        render();
      },
    }, armed ? confirm : label);
  }

  function failover(inst, node) {
    return actButton('failover:' + inst + ':' + node, 'Make master', 'Confirm: make ' + node + ' master of ' + inst, async () => {
      const r = await api('/v1/instances/' + encodeURIComponent(inst) + ':failover', { targetNode: node });
      return 'Failover of ' + inst + ' to ' + node + ': accepted by ' + r.node + (r.forwarded ? ' (forwarded)' : '') +
        (r.previousMaster ? '; master was ' + r.previousMaster : '');
    });
  }

  function maintenance(node, on) {
    return actButton('maint:' + node + ':' + (on ? 'on' : 'off'), on ? 'Drain' : 'Release', 'Confirm: ' + (on ? 'drain ' : 'release ') + node, async () => {
      const r = await api('/v1/nodes/' + encodeURIComponent(node) + ':maintenance', { enabled: on });
      return 'Maintenance of ' + r.node + ' is ' + (r.enabled ? 'on' : 'off') + (r.forwarded ? ' (forwarded)' : '') +
        ((r.handedOver || []).length ? '; hands over ' + r.handedOver.join(', ') : '');
    });
  }

  // --- rendering ---------------------------------------------------------
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; render(); }, 50);
  }

  function render() {
    // Keep the keyboard focus across the redraw.
    const active = document.activeElement;
    const focusKey = active && active.getAttribute && active.getAttribute('data-key');
    renderHeader();
    const c = S.cluster;
    if (!S.access || !S.access.read) {
      const why = S.access ? S.access.readError : '';
      for (const id of ['nodes', 'instances', 'checks', 'events']) $(id).replaceChildren(h('p', {}, 'No access: ' + (why || 'checking…')));
    } else if (c) {
      $('nodes').replaceChildren(...renderNodes(c));
      $('instances').replaceChildren(...renderInstances(c));
      $('checks').replaceChildren(renderChecks(c));
      $('events').replaceChildren(renderEvents());
      renderHistoryNote();
    }
    if (focusKey) {
      const el = document.querySelector('[data-key="' + CSS.escape(focusKey) + '"]');
      if (el && el !== document.activeElement) el.focus();
    }
  }

  function renderHeader() {
    const c = S.cluster;
    $('cluster').textContent = c && c.cluster ? '— cluster ' + c.cluster : '';
    $('serving').textContent = c ? 'Served by node ' + c.node + '. Times are UTC; the page updates itself.' : '';
    const a = S.access;
    let text = 'Access: checking…';
    if (a) {
      if (a.write) text = 'Access: read and commands';
      else if (a.read) text = 'Access: read-only (commands: ' + (a.writeError || 'refused') + ')';
      else text = 'Access: none (' + (a.readError || 'refused') + ')';
    }
    $('rights').textContent = text;
    $('token-forget').hidden = !S.token;
  }

  const write = () => S.access && S.access.write;
  const zoneOf = (n) => (n.member && n.member.availabilityZone) || '(no zone)';

  function renderNodes(c) {
    const zones = new Map();
    for (const n of c.nodes || []) {
      const z = zoneOf(n);
      if (!zones.has(z)) zones.set(z, []);
      zones.get(z).push(n);
    }
    const out = [];
    for (const z of [...zones.keys()].sort()) {
      const rows = zones.get(z).map((n) => {
        const m = n.member || {};
        return h('tr', { 'data-node': m.name },
          h('th', { scope: 'row' }, m.name, m.name === c.node ? ' (this node)' : ''),
          h('td', {}, stateSpan(word(m.status)), h('span', { class: 'muted' }, ' ', ago(ts(m.since)))),
          h('td', {}, m.address || ''),
          h('td', {}, m.apiAddress || h('span', { class: 'muted' }, 'not advertised')),
          h('td', {}, m.version || ''),
          h('td', {}, n.maintenance ? 'drained' : 'no'),
          write() ? h('td', {}, maintenance(m.name, !n.maintenance)) : null);
      });
      out.push(h('table', { class: 'nodes', 'data-zone': z },
        h('caption', {}, 'Zone ' + z + ' (' + rows.length + ' node' + (rows.length === 1 ? '' : 's') + ')'),
        h('thead', {}, h('tr', {}, ['Node', 'Gossip state', 'Gossip address', 'API', 'Version', 'Maintenance'].map((t) => h('th', { scope: 'col' }, t)),
          write() ? h('th', { scope: 'col' }, 'Action') : null)),
        h('tbody', {}, rows)));
    }
    if (!out.length) out.push(h('p', {}, 'No members.'));
    return out;
  }

  // instanceNames lists the instances any node runs or any event names.
  function instanceNames(c) {
    const names = new Set();
    for (const n of c.nodes || []) for (const i of n.instances || []) names.add(i.name);
    for (const o of c.orders || []) names.add(o.instance);
    return [...names].sort();
  }

  function runners(c, name) {
    const out = [];
    for (const n of c.nodes || []) {
      const i = (n.instances || []).find((x) => x.name === name);
      if (i) out.push({ n, i });
    }
    return out;
  }

  function renderInstances(c) {
    const out = [legend()];
    for (const name of instanceNames(c)) {
      const rs = runners(c, name);
      const holders = rs.filter((r) => word(r.i.state) === 'MASTER').map((r) => r.n.member.name);
      const order = (c.orders || []).find((o) => o.instance === name);
      const byPrio = rs.slice().sort((a, b) => (b.i.priority - a.i.priority) || a.n.member.name.localeCompare(b.n.member.name));
      const rows = rs.map((r) => {
        const m = r.n.member;
        let place;
        if (order) {
          const k = (order.nodes || []).findIndex((x) => x.name === m.name);
          place = k < 0 ? 'not in the order' : (k + 1) + ' of ' + order.nodes.length + ' in the order' + (order.nodes[k].disabled ? ' (disabled)' : '');
        } else {
          place = (byPrio.indexOf(r) + 1) + ' of ' + rs.length + ' by priority';
        }
        const st = word(r.i.state);
        return h('tr', { 'data-node': m.name },
          h('th', { scope: 'row' }, m.name),
          h('td', {}, zoneOf(r.n)),
          h('td', {}, stateSpan(st)),
          h('td', { class: 'num' }, r.i.priority),
          h('td', {}, place),
          h('td', {}, r.n.maintenance ? 'drained' : 'no'),
          h('td', {}, r.i.reason || ''),
          h('td', {}, clock(ts(r.i.since)), h('span', { class: 'muted' }, ' ', ago(ts(r.i.since)))),
          write() ? h('td', {}, st !== 'MASTER' && st !== 'FAULT' && !r.n.maintenance ? failover(name, m.name) : '') : null);
      });
      let holderText = holders.length === 1 ? holders[0] : holders.length === 0 ? 'none' : 'SPLIT BRAIN: ' + holders.join(', ');
      out.push(h('section', { class: 'instance', 'data-instance': name, 'aria-labelledby': 'inst-' + name },
        h('h3', { id: 'inst-' + name }, 'Instance ' + name),
        h('p', { class: 'holder' }, 'Holder: ', h('strong', {}, holderText),
          order ? h('span', { class: 'muted' }, ' · order version ' + order.version + ' written by ' + order.origin) : ''),
        h('table', { class: 'instance-nodes' },
          h('caption', {}, name + ': each node'),
          h('thead', {}, h('tr', {}, ['Node', 'Zone', 'State', 'Priority', 'Place', 'Maintenance', 'Reason', 'Since (UTC)'].map((t) => h('th', { scope: 'col' }, t)),
            write() ? h('th', { scope: 'col' }, 'Action') : null)),
          h('tbody', {}, rows)),
        timeline(c, name, rs.map((r) => r.n.member.name))));
    }
    if (out.length === 1) out.push(h('p', {}, 'No instances.'));
    return out;
  }

  // --- timeline ----------------------------------------------------------
  const FILL = { MASTER: 'url(#p-master)', BACKUP: 'url(#p-backup)', FAULT: 'url(#p-fault)' };
  const DARK_LABEL = { BACKUP: true };

  function legend() {
    const sw = (id, label) => h('span', {}, svg('svg', { width: 28, height: 14, 'aria-hidden': 'true' },
      svg('rect', { x: 0, y: 0, width: 28, height: 14, fill: 'url(#' + id + ')', stroke: '#000' })), ' ', label);
    // The patterns every timeline refers to.
    const defs = svg('svg', { width: 0, height: 0, 'aria-hidden': 'true', focusable: 'false' }, svg('defs', {},
      svg('pattern', { id: 'p-master', width: 6, height: 6, patternUnits: 'userSpaceOnUse' },
        svg('rect', { width: 6, height: 6, fill: '#17663a' })),
      svg('pattern', { id: 'p-backup', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
        svg('rect', { width: 6, height: 6, fill: '#dbe8f4' }), svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#2d5f8b', 'stroke-width': 2 })),
      svg('pattern', { id: 'p-fault', width: 8, height: 8, patternUnits: 'userSpaceOnUse' },
        svg('rect', { width: 8, height: 8, fill: '#a32020' }), svg('path', { d: 'M0 0L8 8M8 0L0 8', stroke: '#fff', 'stroke-width': 1.5 })),
      svg('pattern', { id: 'p-other', width: 6, height: 6, patternUnits: 'userSpaceOnUse' },
        svg('rect', { width: 6, height: 6, fill: '#fff' }), svg('circle', { cx: 3, cy: 3, r: 1, fill: '#777' }))));
    const pick = h('select', { id: 'span', 'data-key': 'span', onchange: (ev) => { S.span = Number(ev.target.value); render(); } },
      SPANS.map(([v, label]) => h('option', { value: v, selected: v === S.span }, label)));
    return h('div', { class: 'legend' }, defs, h('label', { for: 'span' }, h('strong', {}, 'Timeline over the last')), pick,
      sw('p-master', 'MASTER (solid)'),
      sw('p-backup', 'BACKUP (stripes)'), sw('p-fault', 'FAULT (crossed)'), sw('p-other', 'other or unknown (dots)'),
      h('span', {}, '▼ transition, ◆ other event: hover or focus (Tab) a mark for its reason'));
  }

  const SPANS = [[HOUR, 'hour'], [15 * 60e3, '15 minutes'], [5 * 60e3, '5 minutes'], [60e3, 'minute']];
  const spanText = () => (SPANS.find(([v]) => v === S.span) || [0, 'hour'])[1];

  function describe(e) {
    let s = clock(e.t) + ' UTC ' + e.node + ' ' + e.kind;
    if (e.instance) s += ' ' + e.instance;
    if (e.to !== 'UNKNOWN') s += ': ' + (e.from !== 'UNKNOWN' ? e.from + ' → ' : '') + e.to;
    if (e.cause) s += ' (' + e.cause + ')';
    if (e.reason) s += ' — ' + e.reason;
    if (e.extra) s += ' [' + e.extra + ']';
    return s;
  }

  // bands are a lane's states over [start, now]: from the transitions
  // known, then the state the node publishes now (since when it says).
  function bands(node, inst, cur, start, now) {
    const trs = S.events.filter((e) => e.kind === 'transition' && e.node === node && e.instance === inst);
    const before = trs.filter((e) => e.t <= start);
    const within = trs.filter((e) => e.t > start && e.t <= now);
    // Before a node's first known event it was not running (INIT) or we
    // do not know: no band, the lane stays empty.
    let st = before.length ? before[before.length - 1].to : within.length ? within[0].from : 'UNKNOWN';
    if (!before.length && !within.length && cur && !(cur.since > start)) st = cur.state;
    if (st === 'INIT') st = '';
    const out = [];
    let t0 = start;
    for (const e of within) {
      if (e.t > t0 && st) out.push({ from: t0, to: e.t, state: st });
      t0 = Math.max(t0, e.t);
      st = e.to;
    }
    if (cur && cur.state !== st) {
      if (cur.since > t0 && cur.since < now) {
        if (st) out.push({ from: t0, to: cur.since, state: st });
        t0 = cur.since;
      }
      st = cur.state;
    }
    if (now > t0 && st) out.push({ from: t0, to: now, state: st });
    return out;
  }

  function timeline(c, name, lanes) {
    const span = S.span, now = Date.now(), start = now - span;
    const step = span > 20 * 60e3 ? 600e3 : span > 6 * 60e3 ? 120e3 : span > 2 * 60e3 ? 60e3 : 10e3;
    for (const e of S.events) if (e.instance === name && e.t > start && !lanes.includes(e.node)) lanes.push(e.node);
    lanes.sort();
    const W = 900, L = 70, R = 10, top = 20, laneH = 26, gap = 6;
    const H = top + lanes.length * (laneH + gap) + 4;
    const x = (t) => L + ((t - start) / span) * (W - L - R);
    const parts = [];
    for (let t = Math.ceil(start / step) * step; t <= now; t += step) {
      if (x(t) > W - R - 50) break; // leave room for "now"
      parts.push(svg('line', { class: 'tick', x1: x(t), y1: top - 4, x2: x(t), y2: H }),
        svg('text', { x: x(t), y: top - 8, 'text-anchor': 'middle' }, step < 60e3 ? clock(t) : clock(t).slice(0, 5)));
    }
    parts.push(svg('text', { x: W - R, y: top - 8, 'text-anchor': 'end' }, 'now'));
    lanes.forEach((node, k) => {
      const y = top + k * (laneH + gap);
      const cn = clusterNode(node);
      const inst = cn && (cn.instances || []).find((i) => i.name === name);
      const cur = inst ? { state: word(inst.state), since: ts(inst.since) } : null;
      parts.push(svg('text', { x: 4, y: y + laneH / 2 + 4 }, node));
      parts.push(svg('rect', { class: 'lane-bg', x: L, y, width: W - L - R, height: laneH }));
      for (const b of bands(node, name, cur, start, now)) {
        const x0 = x(b.from), w = Math.max(1, x(b.to) - x0);
        parts.push(svg('g', { class: 'band', 'data-node': node, 'data-state': b.state },
          svg('title', {}, node + ': ' + b.state + ' from ' + clock(b.from) + ' to ' + (b.to >= now ? 'now' : clock(b.to)) + ' UTC'),
          svg('rect', { x: x0, y, width: w, height: laneH, fill: FILL[b.state] || 'url(#p-other)', stroke: '#000', 'stroke-width': 0.5 }),
          w > 56 ? svg('text', { class: 'band-label' + (FILL[b.state] && !DARK_LABEL[b.state] ? '' : ' dark'), x: x0 + 4, y: y + laneH / 2 + 4 }, b.state) : null));
      }
      for (const e of S.events) {
        if (e.node !== node || e.t <= start || e.t > now + 1000 || (e.instance && e.instance !== name)) continue;
        const mx = Math.min(x(e.t), W - R), tr = e.kind === 'transition';
        const d = tr ? `M${mx - 5} ${y - 3}L${mx + 5} ${y - 3}L${mx} ${y + 7}Z` : `M${mx} ${y - 4}L${mx + 4} ${y + 1}L${mx} ${y + 6}L${mx - 4} ${y + 1}Z`;
        const text = describe(e);
        parts.push(svg('g', { class: 'mark ' + (tr ? 'transition' : 'other'), 'data-node': node, tabindex: 0, role: 'img', 'aria-label': text, 'data-key': 'mark:' + name + ':' + e.key,
          onfocus: () => { const p = document.getElementById('focus-' + name); if (p) p.textContent = text; } },
        svg('title', {}, text),
        svg('line', { x1: mx, y1: y, x2: mx, y2: y + laneH, stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': tr ? '' : '2 2' }),
        svg('path', { d })));
      }
    });
    return h('figure', {},
      svg('svg', { class: 'timeline', viewBox: `0 0 ${W} ${H}`, role: 'group', 'aria-label': 'States of ' + name + ' on each node over the last ' + spanText() }, parts),
      h('figcaption', {}, h('p', { class: 'focused-mark', id: 'focus-' + name, 'aria-live': 'polite' }, '')));
  }

  function renderChecks(c) {
    const rows = [];
    for (const n of c.nodes || []) {
      for (const k of n.checks || []) {
        rows.push(h('tr', {}, h('th', { scope: 'row' }, n.member.name), h('td', {}, k.name), h('td', {}, stateSpan(word(k.state))),
          h('td', {}, clock(ts(k.since)), h('span', { class: 'muted' }, ' ', ago(ts(k.since)))), h('td', { class: 'output' }, k.output || '')));
      }
    }
    if (!rows.length) return h('p', {}, 'No health checks.');
    return h('table', { class: 'checks' }, h('caption', {}, 'Each node\'s checks'),
      h('thead', {}, h('tr', {}, ['Node', 'Check', 'State', 'Since (UTC)', 'Last output'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows));
  }

  function renderEvents() {
    const recent = S.events.slice(-40).reverse();
    if (!recent.length) return h('p', {}, 'No events in the last hour.');
    return h('table', { class: 'events' }, h('caption', {}, 'Newest first'),
      h('thead', {}, h('tr', {}, ['Time (UTC)', 'Node', 'Kind', 'Instance', 'Change', 'Why'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, recent.map((e) => h('tr', {},
        h('td', {}, clock(e.t)), h('td', {}, e.node), h('td', {}, e.kind), h('td', {}, e.instance),
        h('td', {}, e.to !== 'UNKNOWN' ? (e.from !== 'UNKNOWN' ? e.from + ' → ' : '') + e.to : ''),
        h('td', {}, [e.cause ? '(' + e.cause + ') ' : '', e.reason, e.extra ? ' [' + e.extra + ']' : ''].join(''))))));
  }

  function renderHistoryNote() {
    const notes = [];
    if (S.history === 'missing') {
      notes.push('This node\'s API has no event history: the timeline shows the states nodes publish and the transitions seen since the page was opened.');
    } else if (S.history !== 'ok' && S.history !== 'loading') {
      notes.push('Event history unavailable (' + S.history + '): the timeline shows only what the page saw.');
    }
    for (const s of S.sources) {
      if (!s.answered) notes.push('No history from ' + s.node + (s.error ? ': ' + s.error : '') + '.');
      if ((s.skew || []).length) notes.push('Clock of ' + s.node + ' looks off: ' + s.skew.join('; ') + '.');
    }
    $('history-note').textContent = notes.join(' ');
  }

  // --- start -------------------------------------------------------------
  $('token').value = '';
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    S.token = $('token').value.trim();
    $('token').value = '';
    if (S.token) sessionStorage.setItem('vipd-token', S.token); else sessionStorage.removeItem('vipd-token');
    say(S.token ? 'Token set for this tab.' : '');
    refresh();
  });
  $('token-forget').addEventListener('click', () => {
    S.token = '';
    sessionStorage.removeItem('vipd-token');
    say('Token forgotten.');
    refresh();
  });
  // The window slides: redraw every 10 s; re-read everything each minute.
  setInterval(schedule, 10000);
  setInterval(() => { if (S.access && S.access.read) loadCluster().then(schedule); }, 60000);
  refresh();
})();
