// widgets/topology.js: the mesh topology graph (GET
// /v1/domains/{domainId}/mesh/topology) drawn as an SVG with a
// deterministic circular layout: nodes sorted by id around a circle, one
// line per node pair, styled by how the pair reaches each other —
// direct (solid), relayed (dashed, through a bridge) or down (dotted).
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

// layout places n nodes on a circle in a size×size box.
function layout(ids, size) {
  const c = size / 2;
  const r = ids.length <= 1 ? 0 : c - 60;
  const pos = {};
  ids.forEach((id, i) => {
    const a = (2 * Math.PI * i) / ids.length - Math.PI / 2;
    pos[id] = { x: c + r * Math.cos(a), y: c + r * Math.sin(a), a };
  });
  return pos;
}

// TopologyGraph renders topo; names maps node ids to names; onNode(id)
// is called when a node is activated (click or Enter).
export function TopologyGraph({ topo, names = {}, onNode, testid = 'topology' }) {
  const nodes = useMemo(() => [...(topo.nodes || [])].sort((x, y) => (x.node_id < y.node_id ? -1 : 1)), [topo]);
  const ps = useMemo(() => pairs(topo), [topo]);
  const size = Math.max(360, Math.min(900, 160 + nodes.length * 28));
  const pos = layout(nodes.map((n) => n.node_id), size);
  const counts = { direct: 0, relayed: 0, down: 0 };
  ps.forEach((p) => { counts[p.kind]++; });
  const drawEdges = ps.length <= MaxDrawnEdges;
  const small = nodes.length <= 60;
  const r = small ? 9 : 4;
  return html`<figure class="card" data-testid=${testid} data-nodes=${nodes.length} data-pairs=${ps.length}>
    <figcaption class="row" data-testid=${`${testid}-legend`}>
      ${Object.entries(EDGE_STYLE).reverse().map(([k, s]) => html`<span class="row">
        <svg width="36" height="10" aria-hidden="true"><line x1="2" y1="5" x2="34" y2="5" stroke-width="3" stroke-dasharray=${s.dash} style=${{ stroke: s.stroke }} /></svg>
        <span data-testid=${`${testid}-count-${k}`} data-count=${counts[k]}>${s.label}: ${counts[k]}</span></span>`)}
      <span class="muted">${nodes.length} nodes</span>
      ${!drawEdges && html`<span class="muted" data-testid=${`${testid}-edges-hidden`}>(too many pairs to draw; counts shown)</span>`}
    </figcaption>
    <svg viewBox=${`0 0 ${size} ${size}`} width="100%" role="img" data-testid=${`${testid}-svg`}
      aria-label=${`Mesh topology: ${nodes.length} nodes, ${counts.direct} direct, ${counts.relayed} relayed, ${counts.down} down`}
      style=${{ maxWidth: `${size}px`, display: 'block', margin: '0 auto' }}>
      ${drawEdges && ps.map((p) => {
        const a = pos[p.a]; const b = pos[p.b];
        if (!a || !b) return null;
        const s = EDGE_STYLE[p.kind];
        return html`<line key=${`${p.a}|${p.b}`} x1=${a.x} y1=${a.y} x2=${b.x} y2=${b.y} stroke-width="2" stroke-dasharray=${s.dash}
          style=${{ stroke: s.stroke }} data-testid=${`${testid}-edge`} data-kind=${p.kind} data-a=${p.a} data-b=${p.b}>
          <title>${`${names[p.a] || p.a} ↔ ${names[p.b] || p.b}: ${p.kind}${p.relay ? ` via ${names[p.relay] || p.relay}` : ''}`}</title></line>`;
      })}
      ${nodes.map((n) => {
        const q = pos[n.node_id];
        const label = names[n.node_id] || n.mesh_ip;
        const right = Math.cos(q.a) >= 0;
        return html`<g key=${n.node_id} data-testid=${`${testid}-node`} data-id=${n.node_id} data-state=${n.reachability}
            tabindex=${onNode ? 0 : undefined} role=${onNode ? 'link' : undefined} aria-label=${`${label} (${n.mesh_ip}), ${n.reachability}`}
            onClick=${onNode && (() => onNode(n.node_id))} onKeyDown=${onNode && ((e) => { if (e.key === 'Enter') onNode(n.node_id); })}
            style=${{ cursor: onNode ? 'pointer' : 'default' }}>
          <circle cx=${q.x} cy=${q.y} r=${r} stroke-width="2" style=${{ fill: NODE_FILL[n.reachability] || 'var(--color-neutral)', stroke: 'var(--color-surface)' }}>
            <title>${`${label} ${n.mesh_ip}: ${n.reachability}`}</title></circle>
          ${small && html`<text x=${q.x + (right ? 14 : -14)} y=${q.y + 4} text-anchor=${right ? 'start' : 'end'} font-size="12"
            style=${{ fill: 'var(--color-text)' }}>${label}</text>`}
        </g>`;
      })}
    </svg>
  </figure>`;
}
