// retention.js: a Domain's node telemetry retention (GET/PUT
// /v1/domains/{domainId}/telemetry-retention), shown on the Domain's page:
// how long its metric samples and its log lines (and host audit records)
// are kept, its own values or the server's, bounded by the server's.
import { html, useState, Card, KV, Button, Form, Field, Spinner, ErrorBox, StatusBadge, fmtTime, useLoad, toast } from '../ui.js';
import { get, put, ApiError } from '../api.js';

const UNITS = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];

// fmtDuration renders seconds in the largest unit that divides them.
export function fmtDuration(s) {
  for (const [u, n] of UNITS) if (s % n === 0) return `${s / n}${u}`;
  return `${s}s`;
}

// parseDuration reads "7d", "72h", "90m", "3600s" (or a sum: "1d12h") as
// seconds; "" is undefined (the server's value).
export function parseDuration(text) {
  const t = String(text ?? '').trim();
  if (!t) return undefined;
  const re = /(\d+)\s*([dhms])/g;
  let total = 0;
  let used = '';
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * UNITS.find(([u]) => u === m[2])[1];
    used += m[0];
  }
  if (!used || used.replace(/\s/g, '') !== t.replace(/\s/g, '')) return NaN;
  return total;
}

function seconds(name, text) {
  const v = parseDuration(text);
  if (Number.isNaN(v)) {
    throw new ApiError(400, { code: 'invalid_duration', detail: 'A retention is a duration such as 7d, 72h or 90m.',
      errors: [{ location: `body.${name}`, message: 'a duration: 7d, 72h, 90m' }] });
  }
  return v;
}

// RetentionCard shows and sets a Domain's retention.
export function RetentionCard({ domainID }) {
  const path = `/v1/domains/${encodeURIComponent(domainID)}/telemetry-retention`;
  const { data: r, error, loading, reload } = useLoad(() => get(path), [path]);
  const [editing, setEditing] = useState(false);
  const save = async (v) => {
    const body = {};
    const m = seconds('metrics_seconds', v.metrics);
    const l = seconds('logs_seconds', v.logs);
    if (m !== undefined) body.metrics_seconds = m;
    if (l !== undefined) body.logs_seconds = l;
    await put(path, body);
    toast('Retention saved', 'success');
    setEditing(false);
    reload();
  };
  const which = (custom) => html`<${StatusBadge} status=${custom ? 'this Domain' : 'server default'} tone=${custom ? 'info' : 'neutral'} />`;
  return html`<${Card} title="Telemetry retention" testid="retention-card">
    ${loading && !r && html`<${Spinner} />`}
    <${ErrorBox} error=${error} testid="retention-error" />
    ${r && !editing && html`<${KV} testid="retention" items=${[
      ['Metrics', html`<span data-testid="retention-metrics" data-seconds=${r.metrics_seconds}>${fmtDuration(r.metrics_seconds)}</span> ${which(r.metrics_custom)} <span class="muted">(at most ${fmtDuration(r.metrics_max_seconds)})</span>`],
      ['Logs and node audit', html`<span data-testid="retention-logs" data-seconds=${r.logs_seconds}>${fmtDuration(r.logs_seconds)}</span> ${which(r.logs_custom)} <span class="muted">(at most ${fmtDuration(r.logs_max_seconds)})</span>`],
      ['Updated', r.updated_at ? fmtTime(r.updated_at) : 'never set'],
    ]} />
      <div class="form-actions"><${Button} onClick=${() => setEditing(true)} data-testid="retention-edit">Change retention<//></div>`}
    ${r && editing && html`<${Form} initial=${{ metrics: r.metrics_custom ? fmtDuration(r.metrics_seconds) : '', logs: r.logs_custom ? fmtDuration(r.logs_seconds) : '' }}
        onSubmit=${save} onCancel=${() => setEditing(false)} submitLabel="Save retention" testid="retention-form">
      <${Field} name="metrics" label="Metrics retention" placeholder=${fmtDuration(r.metrics_max_seconds)}
        hint=${`1h up to ${fmtDuration(r.metrics_max_seconds)} (e.g. 7d, 72h); empty: the server's value. Older samples are deleted at the next sweep.`} />
      <${Field} name="logs" label="Logs and node audit retention" placeholder=${fmtDuration(r.logs_max_seconds)}
        hint=${`1h up to ${fmtDuration(r.logs_max_seconds)}; empty: the server's value.`} />
    <//>`}
  <//>`;
}
