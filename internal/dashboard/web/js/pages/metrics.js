// Metrics: a PromQL query over a Domain's node series (GET
// /v1/domains/{domainId}/metrics/query), instant or range over a preset
// window, drawn by widgets/chart.js. The query lives in the route
// (#/metrics?domain_id=…&q=…&mode=…&window=…), so a link or reload runs it
// again.
import { html, useState, useEffect, PageHeader, Button, Card, Spinner, ErrorBox, useLoad } from '../ui.js';
import { get } from '../api.js';
import { navigate, href } from '../router.js';
import { DomainPicker } from '../widgets/domainpick.js';
import { WindowSelect, windowOf, backendBody } from '../widgets/telemetry.js';
import { PromResult } from '../widgets/chart.js';

const EXAMPLES = [
  'plexd_system_cpu_usage_percent',
  'avg by (hostname) (rate(plexd_system_network_rx_bytes[5m]))',
  'plexd_system_memory_used_bytes / plexd_system_memory_total_bytes',
  'count by (project_id) (plexd_system_load1)',
];

function MetricsPage({ query }) {
  const domainID = query.domain_id || '';
  const q = query.q || '';
  const mode = query.mode === 'instant' ? 'instant' : 'range';
  const win = query.window || '1h';
  const [text, setText] = useState(q);
  const [m, setM] = useState(mode);
  const [w, setW] = useState(win);
  const [n, setN] = useState(0);
  useEffect(() => { setText(q); setM(mode); setW(win); }, [q, mode, win]);
  const res = useLoad(async () => {
    if (!domainID || !q) return null;
    const params = { query: q };
    if (mode === 'instant') params.time = new Date().toISOString();
    else Object.assign(params, windowOf(win));
    const r = await get(`/v1/domains/${encodeURIComponent(domainID)}/metrics/query`, params);
    return backendBody(r);
  }, [domainID, q, mode, win, n]);
  const run = (e) => {
    e.preventDefault();
    if (text === q && m === mode && w === win) setN((x) => x + 1);
    else navigate('#/metrics', { domain_id: domainID, q: text, mode: m, window: w });
  };
  const onKey = (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(e); };
  const b = res.data;
  return html`<div data-testid="metrics-page">
    <${PageHeader} title="Metrics">
      <${DomainPicker} value=${domainID} onPick=${(id) => navigate('#/metrics', { domain_id: id, q, mode, window: win })} testid="metrics-domain" />
      ${domainID && html`<a class="btn" href=${href('#/logs', { domain_id: domainID })} data-testid="metrics-logs">Logs</a>
        <a class="btn" href=${href('#/alerts', { domain_id: domainID })} data-testid="metrics-alerts">Alert rules</a>`}
    <//>
    <${Card}>
      <form class="form" onSubmit=${run} data-testid="metrics-form" role="search">
        <div class="field">
          <label for="metrics-query">PromQL expression</label>
          <textarea id="metrics-query" rows="3" spellcheck="false" value=${text} onInput=${(e) => setText(e.target.value)} onKeyDown=${onKey}
            placeholder="plexd_system_cpu_usage_percent" aria-describedby="metrics-query-hint" data-testid="metrics-query"></textarea>
          <span class="hint" id="metrics-query-hint">Series are <span class="mono">${'plexd_<group>_<field>'}</span> with labels node_id, hostname, project_id (docs/observability.md); every selector sees only the nodes you may read. Ctrl+Enter runs.
            Examples: ${EXAMPLES.map((x, i) => html`${i ? ', ' : ''}<a href=${href('#/metrics', { domain_id: domainID, q: x, mode, window: win })} class="mono" data-testid="metrics-example">${x}</a>`)}</span>
        </div>
        <div class="filters">
          <label class="filter">Query
            <select value=${m} onChange=${(e) => setM(e.target.value)} data-testid="metrics-mode">
              <option value="range">Range (chart)</option><option value="instant">Instant (table, now)</option>
            </select></label>
          ${m === 'range' && html`<${WindowSelect} value=${w} onChange=${setW} testid="metrics-window" />`}
          <${Button} type="submit" variant="primary" disabled=${!domainID || !text.trim()} data-testid="metrics-run">Run query<//>
          ${res.loading && q && html`<${Spinner} label="Querying" />`}
        </div>
      </form>
    <//>
    <${ErrorBox} error=${res.error} testid="metrics-error" />
    ${b && !b.ok && html`<${ErrorBox} error=${b.error} testid="metrics-error" />`}
    ${b && b.ok && b.warnings.length > 0 && html`<p class="muted" data-testid="metrics-warnings">${b.warnings.join('; ')}</p>`}
    ${b && b.ok && html`<${PromResult} data=${b.data} />`}
    ${!q && html`<p class="muted" data-testid="metrics-hint">Enter a PromQL expression: a range query draws a chart per series, an instant query lists the current values.</p>`}
  </div>`;
}

export const routes = [
  { path: '#/metrics', title: 'Metrics', nav: 'Metrics', component: MetricsPage },
];
