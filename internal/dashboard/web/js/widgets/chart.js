// chart.js: a Prometheus query result drawn without a charting library.
// A range result (matrix) is one small SVG line chart per series (a
// polyline per run of finite values, the series' labels as its legend,
// and its points as a data table behind a disclosure); an instant vector
// is a table of series and values; a scalar or string a single value.
import { html, useState, KV, EmptyState, fmtTime } from '../ui.js';

// MaxCharts bounds the series drawn; the rest are counted.
export const MaxCharts = 24;

// seriesName renders a metric's labels as PromQL does:
// name{label="value", …}.
export function seriesName(metric = {}) {
  const { __name__: name = '', ...rest } = metric;
  const labels = Object.keys(rest).sort().map((k) => `${k}="${rest[k]}"`).join(', ');
  return `${name}${labels || !name ? `{${labels}}` : ''}`;
}

const num = (v) => Number(v); // "NaN", "+Inf" and "-Inf" parse too

function fmtNum(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
  return String(Math.round(v * 1000) / 1000);
}

const secTime = (t) => fmtTime(new Date(t * 1000).toISOString());

const W = 720;
const H = 160;
const PAD = { l: 56, r: 12, t: 10, b: 22 };

// SeriesChart draws one series' values [[unix seconds, "value"], …].
function SeriesChart({ metric, values, index, testid }) {
  const [table, setTable] = useState(false);
  const name = seriesName(metric);
  const pts = values.map(([t, v]) => [Number(t), num(v)]);
  const finite = pts.filter(([, v]) => Number.isFinite(v));
  const t0 = pts.length ? pts[0][0] : 0;
  const t1 = pts.length ? pts[pts.length - 1][0] : 1;
  let lo = finite.length ? Math.min(...finite.map((p) => p[1])) : 0;
  let hi = finite.length ? Math.max(...finite.map((p) => p[1])) : 1;
  if (lo === hi) { lo -= 1; hi += 1; }
  const x = (t) => PAD.l + ((t - t0) / (t1 - t0 || 1)) * (W - PAD.l - PAD.r);
  const y = (v) => PAD.t + (1 - (v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  // One polyline per run of finite values (a gap where the series has none).
  const runs = [];
  let cur = [];
  for (const [t, v] of pts) {
    if (Number.isFinite(v)) cur.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    else if (cur.length) { runs.push(cur); cur = []; }
  }
  if (cur.length) runs.push(cur);
  const last = finite.length ? finite[finite.length - 1][1] : NaN;
  const summary = `${name}: ${pts.length} points from ${secTime(t0)} to ${secTime(t1)}, min ${fmtNum(lo)}, max ${fmtNum(hi)}, last ${fmtNum(last)}`;
  const cls = `series-${index % 6}`;
  return html`<figure class="chart" data-testid=${`${testid}-series`} data-name=${name} data-points=${pts.length}>
    <figcaption class="chart-legend"><span class=${`swatch-line ${cls}`} aria-hidden="true"></span><span class="mono" data-testid=${`${testid}-legend`}>${name}</span>
      <span class="muted">last ${fmtNum(last)}</span></figcaption>
    <svg viewBox=${`0 0 ${W} ${H}`} width="100%" role="img" aria-label=${summary} class="chart-svg" data-testid=${`${testid}-svg`}>
      <line class="chart-axis" x1=${PAD.l} y1=${PAD.t} x2=${PAD.l} y2=${H - PAD.b} />
      <line class="chart-axis" x1=${PAD.l} y1=${H - PAD.b} x2=${W - PAD.r} y2=${H - PAD.b} />
      <text class="chart-tick" x=${PAD.l - 4} y=${PAD.t + 8} text-anchor="end">${fmtNum(hi)}</text>
      <text class="chart-tick" x=${PAD.l - 4} y=${H - PAD.b} text-anchor="end">${fmtNum(lo)}</text>
      <text class="chart-tick" x=${PAD.l} y=${H - 6} text-anchor="start">${secTime(t0)}</text>
      <text class="chart-tick" x=${W - PAD.r} y=${H - 6} text-anchor="end">${secTime(t1)}</text>
      ${runs.map((r) => (r.length === 1
        ? html`<circle class=${`chart-dot ${cls}`} cx=${r[0].split(',')[0]} cy=${r[0].split(',')[1]} r="2.5" />`
        : html`<polyline class=${`chart-line ${cls}`} points=${r.join(' ')} data-testid=${`${testid}-line`} />`))}
    </svg>
    <details onToggle=${(e) => setTable(e.currentTarget.open)}>
      <summary data-testid=${`${testid}-table-toggle`}>Data table (${pts.length} points)</summary>
      ${table && html`<div class="table-wrap"><table class="data" data-testid=${`${testid}-table`}>
        <caption>${name}</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Value</th></tr></thead>
        <tbody>${pts.map(([t, v]) => html`<tr><td>${secTime(t)}</td><td class="mono">${fmtNum(v)}</td></tr>`)}</tbody>
      </table></div>`}
    </details>
  </figure>`;
}

// PromResult renders a Prometheus query's data {resultType, result}.
export function PromResult({ data, testid = 'metrics-result' }) {
  if (!data) return null;
  const { resultType: type, result } = data;
  if (type === 'scalar' || type === 'string') {
    return html`<div data-testid=${testid} data-type=${type}><${KV} testid=${`${testid}-value`} items=${[
      ['Type', type], ['Time', secTime(Number(result[0]))], ['Value', html`<span class="mono">${type === 'scalar' ? fmtNum(num(result[1])) : result[1]}</span>`],
    ]} /></div>`;
  }
  if (!result?.length) {
    return html`<div data-testid=${testid} data-type=${type}><${EmptyState} title="No series" testid=${`${testid}-empty`}>The expression matched no series of the nodes you may read in this window.<//></div>`;
  }
  if (type === 'vector') {
    return html`<div data-testid=${testid} data-type=${type}><div class="table-wrap"><table class="data">
      <caption>${result.length} series at ${secTime(Number(result[0].value[0]))}</caption>
      <thead><tr><th scope="col">Series</th><th scope="col">Value</th></tr></thead>
      <tbody>${result.map((s) => html`<tr data-testid=${`${testid}-row`} data-name=${seriesName(s.metric)}>
        <td class="mono">${seriesName(s.metric)}</td><td class="mono" data-testid=${`${testid}-value`}>${fmtNum(num(s.value[1]))}</td></tr>`)}</tbody>
    </table></div></div>`;
  }
  const shown = result.slice(0, MaxCharts);
  return html`<div data-testid=${testid} data-type=${type} class="charts">
    <p class="muted" data-testid=${`${testid}-count`}>${result.length} series${result.length > MaxCharts ? `; the first ${MaxCharts} drawn — narrow the expression (e.g. by node_id) to see the others` : ''}.</p>
    ${shown.map((s, i) => html`<${SeriesChart} key=${seriesName(s.metric)} metric=${s.metric} values=${s.values || []} index=${i} testid=${testid} />`)}
  </div>`;
}
