// widgets/topology.js: the mesh topology graph (GET
// /v1/domains/{domainId}/mesh/topology) drawn as an SVG with a
// deterministic circular layout: nodes sorted by id around a circle, one
// line per node pair, styled by how the pair reaches each other —
// direct (solid), relayed (dashed, through a bridge) or down (dotted);
// and the operation's summary (counts of every edge, drawn or not).
import { html, useMemo } from '../lib.js';

// Edge classes of a pair, worst first.
export const EDGE_STYLE = {
  down: { stroke: 'var(--color-danger)', dash: '2 4', label: 'down' },
  relayed: { stroke: 'var(--color-warning)', dash: '8 5', label: 'relayed' },
  direct: { stroke: 'var(--color-success)', dash: '', label: 'direct' },
};

const NODE_FILL = {
  healthy: 'var(--color-success)', stale: 'var(--color-warning)', unreachable: 'var(--color-danger)',
};

// MaxDrawnEdges bounds the lines drawn; a larger mesh shows its nodes
// and the counts of each kind of pair only.
export const MaxDrawnEdges = 4000;

// pairs folds the directed edges into one entry per unordered pair: down
// when either direction is unreachable or either end is unreachable,
// relayed when either direction goes through a relay, else direct.
export function pairs(topo) {
  const state = Object.fromEntries((topo.nodes || []).map((n) => [n.node_id, n.reachability]));
  const out = new Map();
  for (const e of topo.edges || []) {
    const [a, b] = e.source_node_id < e.target_node_id ? [e.source_node_id, e.target_node_id] : [e.target_node_id, e.source_node_id];
    const key = `${a}|${b}`;
    let p = out.get(key);
    if (!p) { p = { a, b, relayed: false, down: false, relay: null }; out.set(key, p); }
    if (e.mode === 'relayed') { p.relayed = true; p.relay = e.relay_node_id || p.relay; }
    if (e.status === 'unreachable') p.down = true;
  }
  for (const p of out.values()) {
    if (state[p.a] === 'unreachable' || state[p.b] === 'unreachable') p.down = true;
    p.kind = p.down ? 'down' : p.relayed ? 'relayed' : 'direct';
  }
  return [...out.values()].sort((x, y) => (x.a + x.b < y.a + y.b ? -1 : 1));
}

// layout places n nodes on a circle in a size×size box; a focus node
// (whose pairs are drawn) goes to the centre, so its pairs radiate.
function layout(ids, size, focus) {
  const c = size / 2;
  const ring = focus ? ids.filter((id) => id !== focus) : ids;
  const r = ring.length <= 1 && !focus ? 0 : c - 60;
  const pos = {};
  ring.forEach((id, i) => {
    const a = (2 * Math.PI * i) / ring.length - Math.PI / 2;
    pos[id] = { x: c + r * Math.cos(a), y: c + r * Math.sin(a), a };
  });
  if (focus && ids.includes(focus)) pos[focus] = { x: c, y: c, a: 0 };
  return pos;
}

// nodeCounts counts a topology's nodes by reachability.
export function nodeCounts(topo) {
  const c = { healthy: 0, stale: 0, unreachable: 0 };
  for (const n of topo.nodes || []) c[n.reachability] = (c[n.reachability] || 0) + 1;
  return c;
}

// TopologySummary shows the counts of a topology: its nodes by
// reachability and its directed edges (every one the request selects, over
// all pages) by mode and by status.
export function TopologySummary({ topo, title = 'Mesh summary', testid = 'topology-summary' }) {
  const s = topo.summary || {};
  const nc = nodeCounts(topo);
  const n = (k, v) => html`<span data-testid=${`${testid}-${k}`} data-count=${v ?? 0}>${(v ?? 0).toLocaleString()}</span>`;
  return html`<section class="card" data-testid=${testid}>
    <h2>${title}</h2>
    <dl class="kv">
      <dt>Nodes</dt><dd>${n('nodes', s.nodes ?? (topo.nodes || []).length)}: ${n('nodes-healthy', nc.healthy)} healthy, ${n('nodes-stale', nc.stale)} stale, ${n('nodes-unreachable', nc.unreachable)} unreachable</dd>
      <dt>Directed edges</dt><dd>${n('edges', s.edges)}: ${n('direct', s.direct)} direct, ${n('relayed', s.relayed)} relayed</dd>
      <dt>Path reports</dt><dd>${n('healthy', s.healthy)} healthy, ${n('stale', s.stale)} stale, ${n('unreachable', s.unreachable)} down, ${n('never_reported', s.never_reported)} never reported</dd>
    </dl>
  </section>`;
}

// TopologyGraph renders topo; names maps node ids to names; onNode(id)
// is called when a node is activated (click or Enter); focus, when set,
// is the node whose edges topo holds (drawn larger, ringed).
export function TopologyGraph({ topo, names = {}, onNode, focus, testid = 'topology' }) {
  const nodes = useMemo(() => [...(topo.nodes || [])].sort((x, y) => (x.node_id < y.node_id ? -1 : 1)), [topo]);
  const ps = useMemo(() => pairs(topo), [topo]);
  const size = Math.max(360, Math.min(900, 160 + nodes.length * 28));
  const pos = layout(nodes.map((n) => n.node_id), size, focus);
  const counts = { direct: 0, relayed: 0, down: 0 };
  ps.forEach((p) => { counts[p.kind]++; });
  const drawEdges = ps.length <= MaxDrawnEdges;
  const small = nodes.length <= 60;
  // Each line's tooltip only on a graph small enough to hover: a title
  // is one more element per line to build.
  const lineTitles = ps.length <= 300;
  const r = small ? 9 : 4;
  const fr = Math.max(r, 9);
  return html`<figure class="card" data-testid=${testid} data-nodes=${nodes.length} data-pairs=${ps.length} data-focus=${focus || ''}>
    <figcaption class="row" data-testid=${`${testid}-legend`}>
      ${Object.entries(EDGE_STYLE).reverse().map(([k, s]) => html`<span class="row">
        <svg width="36" height="10" aria-hidden="true"><line x1="2" y1="5" x2="34" y2="5" stroke-width="3" stroke-dasharray=${s.dash} style=${{ stroke: s.stroke }} /></svg>
        <span data-testid=${`${testid}-count-${k}`} data-count=${counts[k]}>${s.label}: ${counts[k]}</span></span>`)}
      <span class="muted">${nodes.length} nodes${focus ? `; the pairs of ${names[focus] || focus}` : ''}</span>
      ${!drawEdges && html`<span class="muted" data-testid=${`${testid}-edges-hidden`}>(too many pairs to draw; counts shown)</span>`}
    </figcaption>
    <svg viewBox=${`0 0 ${size} ${size}`} width="100%" role="img" data-testid=${`${testid}-svg`}
      aria-label=${`Mesh topology: ${nodes.length} nodes, ${counts.direct} direct, ${counts.relayed} relayed, ${counts.down} down`}
      style=${{ maxWidth: `${size}px`, display: 'block', margin: '0 auto' }}>
      ${drawEdges && ps.map((p) => {
        const a = pos[p.a]; const b = pos[p.b];
        if (!a || !b) return null;
        const s = EDGE_STYLE[p.kind];
        return html`<line key=${`${p.a}|${p.b}`} x1=${a.x} y1=${a.y} x2=${b.x} y2=${b.y} stroke-width=${lineTitles ? 2 : 1} stroke-dasharray=${s.dash}
          style=${{ stroke: s.stroke }} data-testid=${`${testid}-edge`} data-kind=${p.kind} data-a=${p.a} data-b=${p.b}>
          ${lineTitles && html`<title>${`${names[p.a] || p.a} ↔ ${names[p.b] || p.b}: ${p.kind}${p.relay ? ` via ${names[p.relay] || p.relay}` : ''}`}</title>`}</line>`;
      })}
      ${nodes.map((n) => {
        const q = pos[n.node_id];
        const label = names[n.node_id] || n.mesh_ip;
        const right = Math.cos(q.a) >= 0;
        const isFocus = n.node_id === focus;
        return html`<g key=${n.node_id} data-testid=${`${testid}-node`} data-id=${n.node_id} data-state=${n.reachability}
            tabindex=${onNode ? 0 : undefined} role=${onNode ? 'link' : undefined} aria-label=${`${label} (${n.mesh_ip}), ${n.reachability}`}
            onClick=${onNode && (() => onNode(n.node_id))} onKeyDown=${onNode && ((e) => { if (e.key === 'Enter') onNode(n.node_id); })}
            style=${{ cursor: onNode ? 'pointer' : 'default' }}>
          <circle cx=${q.x} cy=${q.y} r=${isFocus ? fr : r} stroke-width=${isFocus ? 3 : 2} data-testid=${isFocus ? `${testid}-focus` : undefined}
            style=${{ fill: NODE_FILL[n.reachability] || 'var(--color-neutral)', stroke: isFocus ? 'var(--color-text)' : 'var(--color-surface)' }}>
            <title>${`${label} ${n.mesh_ip}: ${n.reachability}`}</title></circle>
          ${(small || isFocus) && html`<text x=${q.x + (right ? 14 : -14)} y=${q.y + 4} text-anchor=${right ? 'start' : 'end'} font-size="12"
            style=${{ fill: 'var(--color-text)' }}>${label}</text>`}
        </g>`;
      })}
    </svg>
  </figure>`;
}
