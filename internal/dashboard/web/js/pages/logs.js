// Logs: a LogQL query over a Domain's node log lines (GET
// /v1/domains/{domainId}/logs/query: a Loki streams body), paged by time,
// with a live tail (GET …/logs/tail, server-sent Loki tail frames); and
// the node audit stream ({stream="audit"}: auditd and Kubernetes audit
// records), shown on the Domain's audit page next to the control plane's
// chain (NodeAudit).
import { html, useState, useEffect, useRef, PageHeader, Button, Card, Spinner, ErrorBox, StatusBadge, EmptyState, Short } from '../ui.js';
import { stream } from '../api.js';
import { navigate, href } from '../router.js';
import { DomainPicker } from '../widgets/domainpick.js';
import { WindowSelect, windowOf, useLogPages, LogFooter, lokiLines, nsTime } from '../widgets/telemetry.js';

// SEVERITY_TONE colours journald severities.
const SEVERITY_TONE = {
  emerg: 'danger', alert: 'danger', crit: 'danger', err: 'danger', warning: 'warning', notice: 'info', info: 'neutral', debug: 'neutral',
};

// LineTable renders log lines {ts, line, labels} with columns [{label,
// render(line)}].
function LineTable({ lines, columns, testid, caption }) {
  return html`<div class="table-wrap"><table class="data" data-testid=${`${testid}-table`}>
    <caption>${caption}</caption>
    <thead><tr>${columns.map((c) => html`<th scope="col">${c.label}</th>`)}</tr></thead>
    <tbody>${lines.map((l) => html`<tr key=${l.key} data-testid=${`${testid}-row`} data-ts=${l.ts}>
      ${columns.map((c) => html`<td>${c.render(l)}</td>`)}</tr>`)}</tbody>
  </table></div>`;
}

function NodeRef({ labels }) {
  if (!labels.node_id) return html`<span class="muted">—</span>`;
  return html`<a href=${`#/nodes/${labels.node_id}`} title=${labels.node_id} data-testid="log-node">${labels.hostname || labels.node_id.slice(0, 8)}</a>`;
}

const LOG_COLUMNS = [
  { label: 'Time', render: (l) => html`<span class="nowrap">${nsTime(l.ts)}</span>` },
  { label: 'Node', render: (l) => html`<${NodeRef} labels=${l.labels} />` },
  { label: 'Unit', render: (l) => html`<span class="mono">${l.labels.unit || '—'}</span>` },
  { label: 'Severity', render: (l) => html`<${StatusBadge} status=${l.labels.severity || '—'} tone=${SEVERITY_TONE[l.labels.severity]} testid="log-severity" />` },
  { label: 'Line', render: (l) => html`<span class="mono log-line" data-testid="log-line">${l.line}</span>` },
];

// TAIL_MAX bounds the lines a live tail keeps on screen.
const TAIL_MAX = 500;

// useTail follows query over the tail stream while on: {lines (newest
// first), live, error}.
function useTail(domainID, query, on) {
  const [st, setSt] = useState({ lines: [], live: false });
  useEffect(() => {
    if (!on || !domainID || !query) { setSt((o) => ({ ...o, live: false })); return undefined; }
    setSt({ lines: [], live: false });
    const close = stream(`/v1/domains/${encodeURIComponent(domainID)}/logs/tail`, {
      message: (frame) => {
        const fresh = lokiLines({ result: frame?.streams || [] }, 'backward');
        if (fresh.length) setSt((o) => ({ ...o, lines: [...fresh, ...o.lines].slice(0, TAIL_MAX) }));
      },
      open: () => setSt((o) => ({ ...o, live: true })),
      error: () => setSt((o) => ({ ...o, live: false })),
    }, { query });
    addEventListener('pagehide', close);
    return () => { close(); removeEventListener('pagehide', close); };
  }, [domainID, query, on]);
  return st;
}

function LogsPage({ query }) {
  const domainID = query.domain_id || '';
  const q = query.q || '';
  const win = query.window || '1h';
  const limit = Number(query.limit) || 100;
  const direction = query.direction === 'forward' ? 'forward' : 'backward';
  const [v, setV] = useState({ q, win, limit, direction });
  const [n, setN] = useState(0);
  const [tailOn, setTailOn] = useState(false);
  useEffect(() => setV({ q, win, limit, direction }), [q, win, limit, direction]);
  // The window ends when the query runs (a re-run, n, moves it to now).
  const [frozen, setFrozen] = useState(null);
  useEffect(() => {
    if (!domainID || !q) { setFrozen(null); return; }
    const { start, end } = windowOf(win);
    setFrozen({ domainID, query: q, start, end, limit, direction });
  }, [domainID, q, win, limit, direction, n]);
  const pages = useLogPages(frozen);
  const tail = useTail(domainID, q, tailOn);
  const set = (k) => (e) => setV((o) => ({ ...o, [k]: e.target ? e.target.value : e }));
  const run = (e) => {
    e.preventDefault();
    const next = { domain_id: domainID, q: v.q, window: v.win, limit: v.limit, direction: v.direction };
    if (v.q === q && v.win === win && Number(v.limit) === limit && v.direction === direction) setN((x) => x + 1);
    else navigate('#/logs', next);
  };
  const onKey = (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(e); };
  return html`<div data-testid="logs-page">
    <${PageHeader} title="Logs">
      <${DomainPicker} value=${domainID} onPick=${(id) => navigate('#/logs', { domain_id: id, q, window: win })} testid="logs-domain" />
      ${domainID && html`<a class="btn" href=${href('#/metrics', { domain_id: domainID })} data-testid="logs-metrics">Metrics</a>
        <a class="btn" href=${`#/domains/${domainID}/audit?view=nodes`} data-testid="logs-node-audit">Node audit</a>`}
    <//>
    <${Card}>
      <form class="form" onSubmit=${run} data-testid="logs-form" role="search">
        <div class="field">
          <label for="logs-query">LogQL expression</label>
          <textarea id="logs-query" rows="2" spellcheck="false" value=${v.q} onInput=${set('q')} onKeyDown=${onKey}
            placeholder='{unit="sshd.service"} |= "Failed"' aria-describedby="logs-query-hint" data-testid="logs-query"></textarea>
          <span class="hint" id="logs-query-hint">A stream selector over node_id, project_id, hostname, source, unit, severity (<span class="mono">=</span>, <span class="mono">!=</span>, <span class="mono">=~</span>, <span class="mono">!~</span>), then line filters (<span class="mono">|=</span>, <span class="mono">!=</span>, <span class="mono">|~</span>, <span class="mono">!~</span>). <span class="mono">{}</span> is every line you may read. Ctrl+Enter runs.</span>
        </div>
        <div class="filters">
          <${WindowSelect} value=${v.win} onChange=${set('win')} testid="logs-window" />
          <label class="filter">Limit
            <select value=${String(v.limit)} onChange=${(e) => setV((o) => ({ ...o, limit: Number(e.target.value) }))} data-testid="logs-limit">
              ${[50, 100, 500, 1000, 5000].map((x) => html`<option value=${String(x)}>${x}</option>`)}
            </select></label>
          <label class="filter">Order
            <select value=${v.direction} onChange=${set('direction')} data-testid="logs-direction">
              <option value="backward">Newest first</option><option value="forward">Oldest first</option>
            </select></label>
          <${Button} type="submit" variant="primary" disabled=${!domainID || !v.q.trim()} data-testid="logs-run">Run query<//>
          <${Button} aria-pressed=${tailOn} variant=${tailOn ? 'primary' : 'default'} disabled=${!q} onClick=${() => setTailOn((x) => !x)} data-testid="logs-tail">
            ${tailOn ? 'Stop live tail' : 'Live tail'}<//>
          ${tailOn && html`<span data-testid="logs-tail-state" data-live=${tail.live ? 'yes' : 'no'}><${StatusBadge} status=${tail.live ? 'live' : 'connecting'} tone=${tail.live ? 'success' : 'warning'} testid="logs-tail-badge" /></span>`}
        </div>
      </form>
    <//>
    ${tailOn && html`<${Card} title="Live tail" testid="logs-tail-card">
      ${tail.lines.length === 0 ? html`<p class="muted" data-testid="logs-tail-waiting">New lines matching <span class="mono">${q}</span> appear here as nodes send them.</p>`
        : html`<${LineTable} lines=${tail.lines} columns=${LOG_COLUMNS} testid="logs-tail" caption=${`${tail.lines.length} new lines, newest first (at most ${TAIL_MAX} kept)`} />`}
    <//>`}
    <${ErrorBox} error=${pages.error} testid="logs-error" />
    ${pages.loading && html`<${Spinner} label="Querying" />`}
    ${frozen && !pages.loading && !pages.error && pages.lines.length === 0 && html`<${EmptyState} title="No lines" testid="logs-empty">No line in this window matches the query.<//>`}
    ${pages.lines.length > 0 && html`<${LineTable} lines=${pages.lines} columns=${LOG_COLUMNS} testid="logs"
      caption=${`${direction === 'forward' ? 'Oldest' : 'Newest'} first, ${frozen ? `${new Date(frozen.start).toLocaleString()} – ${new Date(frozen.end).toLocaleString()}` : ''}`} />
      <${LogFooter} pages=${pages} testid="logs" />`}
    ${!q && html`<p class="muted" data-testid="logs-hint">Enter a LogQL expression to search the journald lines your nodes send (docs/observability.md).</p>`}
  </div>`;
}

// ---- Node audit (the audit stream) ---------------------------------------------

function parseRecord(line) {
  try { return JSON.parse(line) || {}; } catch { return {}; }
}

function subjectText(s) {
  if (!s || typeof s !== 'object') return s ? String(s) : '';
  if (s.username) return s.username;
  return Object.entries(s).map(([k, x]) => `${k}=${Array.isArray(x) ? x.join(',') : x}`).join(' ');
}

const AUDIT_COLUMNS = [
  { label: 'Time', render: (l) => html`<span class="nowrap">${nsTime(l.ts)}</span>` },
  { label: 'Node', render: (l) => html`<${NodeRef} labels=${l.labels} />` },
  { label: 'Source', render: (l) => html`<span class="mono">${l.labels.source}</span>` },
  { label: 'Action', render: (l) => html`<span class="mono" data-testid="node-audit-action">${l.labels.action}</span>` },
  { label: 'Outcome', render: (l) => html`<${StatusBadge} status=${l.labels.outcome || '—'} tone=${{ success: 'success', failure: 'danger' }[l.labels.outcome]} testid="node-audit-outcome" />` },
  { label: 'Subject', render: (l) => html`<span class="mono">${subjectText(parseRecord(l.line).subject)}</span>` },
  { label: 'Object', render: (l) => html`<span class="mono" data-testid="node-audit-object">${String(parseRecord(l.line).object ?? '')}</span>` },
  { label: 'Record', render: (l) => html`<details><summary>JSON</summary><code class="mono log-line">${l.line}</code></details>` },
];

// quote renders a LogQL string.
const quote = (s) => JSON.stringify(s);

// auditQuery builds the audit stream's LogQL from the filters.
export function auditQuery({ source, outcome, node, text }) {
  const sel = ['stream="audit"'];
  if (source === 'k8s') sel.push('source=~"k8s.*"');
  else if (source) sel.push(`source=${quote(source)}`);
  if (outcome) sel.push(`outcome=${quote(outcome)}`);
  if (node) sel.push(`hostname=${quote(node)}`);
  return `{${sel.join(', ')}}${text ? ` |= ${quote(text)}` : ''}`;
}

// NodeAudit lists a Domain's node audit records (auditd, Kubernetes audit)
// through the logs query, newest first, paged by time.
export function NodeAudit({ domainID }) {
  const [f, setF] = useState({ source: '', outcome: '', node: '', text: '', win: '24h' });
  const [applied, setApplied] = useState(f);
  const [n, setN] = useState(0);
  const [req, setReq] = useState(null);
  useEffect(() => {
    const { start, end } = windowOf(applied.win);
    setReq({ domainID, query: auditQuery(applied), start, end, limit: 100, direction: 'backward' });
  }, [domainID, applied, n]);
  const pages = useLogPages(req);
  const set = (k) => (e) => setF((o) => ({ ...o, [k]: e.target ? e.target.value : e }));
  const apply = (e) => { e.preventDefault(); setApplied({ ...f }); setN((x) => x + 1); };
  return html`<section data-testid="node-audit">
    <p class="muted">Host audit records the nodes send (auditd, Kubernetes audit): an append-only stream of its own, kept for the Domain's logs retention. They are not entries of the control plane's hash chain.</p>
    <form class="filters" onSubmit=${apply} role="search" data-testid="node-audit-filters">
      <label class="filter">Source
        <select value=${f.source} onChange=${set('source')} data-testid="node-audit-source">
          <option value="">any</option><option value="auditd">auditd</option><option value="k8s">Kubernetes audit</option>
        </select></label>
      <label class="filter">Outcome
        <select value=${f.outcome} onChange=${set('outcome')} data-testid="node-audit-outcome-filter">
          <option value="">any</option><option value="success">success</option><option value="failure">failure</option><option value="unknown">unknown</option>
        </select></label>
      <label class="filter">Hostname<input value=${f.node} onInput=${set('node')} placeholder="e.g. web-1" data-testid="node-audit-host" /></label>
      <label class="filter">Contains<input value=${f.text} onInput=${set('text')} placeholder="e.g. /etc/shadow" data-testid="node-audit-text" /></label>
      <${WindowSelect} value=${f.win} onChange=${set('win')} testid="node-audit-window" />
      <${Button} type="submit" data-testid="node-audit-apply">Filter<//>
      <a class="btn" href=${href('#/logs', { domain_id: domainID, q: auditQuery(applied), window: applied.win })} data-testid="node-audit-in-logs">Open in Logs</a>
    </form>
    <${ErrorBox} error=${pages.error} testid="node-audit-error" />
    ${pages.loading && html`<${Spinner} />`}
    ${!pages.loading && !pages.error && pages.lines.length === 0 && html`<${EmptyState} title="No node audit records" testid="node-audit-empty">No record in this window matches. Nodes send them when auditd or Kubernetes audit logs exist (docs/observability.md).<//>`}
    ${pages.lines.length > 0 && html`<${LineTable} lines=${pages.lines} columns=${AUDIT_COLUMNS} testid="node-audit" caption=${`Node audit records, newest first: ${auditQuery(applied)}`} />
      <${LogFooter} pages=${pages} testid="node-audit" noun="records" />`}
  </section>`;
}

export const routes = [
  { path: '#/logs', title: 'Logs', nav: 'Logs', component: LogsPage },
];
