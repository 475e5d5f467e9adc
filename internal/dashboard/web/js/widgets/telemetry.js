// telemetry.js: what the metrics, logs and node-audit screens share: time
// windows, the Prometheus and Loki bodies the query operations answer
// ({status_code, body} with body the backend's JSON as a string), and the
// paging of a logs query by time (the operation has no cursor: the next
// page is the window up to the oldest line shown, or from the newest).
import { html, useState, useEffect, useRef, Button, Spinner, ErrorBox } from '../ui.js';
import { get } from '../api.js';

// WINDOWS are the presets of a query window: [value, label, seconds,
// range step].
export const WINDOWS = [
  ['15m', 'Last 15 minutes', 900, '15s'],
  ['1h', 'Last 1 hour', 3600, '30s'],
  ['6h', 'Last 6 hours', 6 * 3600, '2m'],
  ['24h', 'Last 24 hours', 86400, '5m'],
  ['7d', 'Last 7 days', 7 * 86400, '30m'],
];

// windowOf returns {start, end, step} (RFC 3339) of a preset, ending now.
export function windowOf(preset) {
  const w = WINDOWS.find((x) => x[0] === preset) || WINDOWS[1];
  const end = new Date();
  const start = new Date(end.getTime() - w[2] * 1000);
  return { start: start.toISOString(), end: end.toISOString(), step: w[3] };
}

// WindowSelect is a labelled select of WINDOWS.
export function WindowSelect({ value, onChange, testid, label = 'Window' }) {
  return html`<label class="filter">${label}
    <select value=${value} onChange=${(e) => onChange(e.target.value)} data-testid=${testid}>
      ${WINDOWS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
    </select></label>`;
}

// backendBody decodes a query answer's body: {ok, data, error}. A body
// that is not JSON, or a backend status other than 200, is an error (the
// Prometheus error body's errorType and error when present).
export function backendBody(res) {
  let b = null;
  try { b = JSON.parse(res?.body || ''); } catch { b = null; }
  if (res?.status_code === 200 && b && b.status === 'success') return { ok: true, data: b.data, warnings: b.warnings || [] };
  const detail = b?.error || (typeof res?.body === 'string' ? res.body.slice(0, 300) : '') || 'The backend gave no answer.';
  return { ok: false, error: { status: res?.status_code, code: b?.errorType || `backend_${res?.status_code}`, detail } };
}

// nsToRFC3339 renders Unix nanoseconds (a decimal string) as RFC 3339
// with nanoseconds, the precision the logs operation takes.
export function nsToRFC3339(ns) {
  const n = BigInt(ns);
  const sec = n / 1000000000n;
  const frac = (n % 1000000000n).toString().padStart(9, '0');
  return new Date(Number(sec) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

// nsTime renders Unix nanoseconds in the browser's locale (milliseconds).
export function nsTime(ns) {
  const d = new Date(Number(BigInt(ns) / 1000000n));
  return Number.isNaN(d.getTime()) ? ns : d.toLocaleString();
}

// lokiLines flattens a Loki streams result into lines {ts, line, labels,
// key}, in the query's order (backward: newest first).
export function lokiLines(data, direction = 'backward') {
  const out = [];
  for (const s of data?.result || []) {
    for (const [ts, line] of s.values || []) out.push({ ts, line, labels: s.stream || {} });
  }
  out.sort((a, b) => {
    const x = BigInt(a.ts); const y = BigInt(b.ts);
    if (x === y) return 0;
    return (x < y ? -1 : 1) * (direction === 'forward' ? 1 : -1);
  });
  out.forEach((l, i) => { l.key = `${l.ts}:${i}:${l.labels.node_id || ''}`; });
  return out;
}

// queryLogs runs one logs query page: {lines, full (as many as the limit:
// there may be more)}; a backend error is thrown as an error {code,
// detail}.
export async function queryLogs(domainID, { query, start, end, limit, direction }) {
  const res = await get(`/v1/domains/${encodeURIComponent(domainID)}/logs/query`, { query, start, end, limit, direction });
  const b = backendBody(res);
  if (!b.ok) throw b.error;
  const lines = lokiLines(b.data, direction);
  return { lines, full: lines.length >= limit };
}

// useLogPages runs a logs query (req: {domainID, query, start, end, limit,
// direction}, null for none) and pages it by time: more() reads the next
// page, the window past the last line shown (a line sharing the boundary
// nanosecond with the next page's first is not repeated: the next page
// starts one nanosecond on). Returns {lines, error, loading, more,
// hasMore, busy}.
export function useLogPages(req) {
  const [st, setSt] = useState({ lines: [], error: null, loading: false, hasMore: false, busy: false });
  const key = req ? JSON.stringify(req) : '';
  const live = useRef(0);
  useEffect(() => {
    if (!req) { setSt({ lines: [], error: null, loading: false, hasMore: false, busy: false }); return undefined; }
    const n = ++live.current;
    setSt({ lines: [], error: null, loading: true, hasMore: false, busy: false });
    queryLogs(req.domainID, req).then((p) => n === live.current && setSt({ lines: p.lines, error: null, loading: false, hasMore: p.full, busy: false }),
      (error) => n === live.current && setSt({ lines: [], error, loading: false, hasMore: false, busy: false }));
    return () => { live.current++; };
  }, [key]);
  const more = async () => {
    const last = st.lines[st.lines.length - 1];
    if (!last) return;
    const n = live.current;
    const edge = BigInt(last.ts);
    const page = req.direction === 'forward'
      ? { ...req, start: nsToRFC3339(edge + 1n) }
      : { ...req, end: nsToRFC3339(edge - 1n) };
    setSt((o) => ({ ...o, busy: true }));
    try {
      const p = await queryLogs(req.domainID, page);
      if (n === live.current) setSt((o) => ({ ...o, lines: [...o.lines, ...p.lines], hasMore: p.full, busy: false }));
    } catch (error) {
      if (n === live.current) setSt((o) => ({ ...o, error, busy: false }));
    }
  };
  return { ...st, more };
}

// LogFooter shows the count of lines and "Load more" for useLogPages.
export function LogFooter({ pages, testid, noun = 'lines' }) {
  return html`<div class="table-footer">
    <span class="muted" data-testid=${`${testid}-count`}>${pages.lines.length} ${noun} shown</span>
    ${pages.hasMore && html`<${Button} onClick=${pages.more} disabled=${pages.busy} data-testid=${`${testid}-more`}>${pages.busy ? html`<${Spinner} />` : ''} Load more<//>`}
  </div>`;
}

// QueryError shows a query's failure: an API problem (a malformed
// expression is a 400 problem) or the backend's error body.
export function QueryError({ error, testid }) {
  if (!error) return null;
  return html`<${ErrorBox} error=${error} testid=${testid} />`;
}
