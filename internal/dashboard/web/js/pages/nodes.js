// Nodes: a Domain's nodes (server-side paged) with status and Project,
// a Project's nodes' capabilities, one node's detail (reachability,
// labels, capabilities), and the live mesh topology of a Domain.
import { html, useState, useEffect, useRef, PageHeader, DataTable, Button, Card, KV, Spinner, ErrorBox, Short, StatusBadge, EmptyState, fmtTime, useLoad, toast } from '../ui.js';
import { get, list, del, stream } from '../api.js';
import { navigate, href } from '../router.js';
import { DomainPicker } from '../widgets/domainpick.js';
import { TopologyGraph, TopologySummary, MaxDrawnEdges } from '../widgets/topology.js';
import { NodeLabels } from './labels.js';

// The list row has no status: each shown row reads its node (GET
// /v1/nodes/{id}) after the rows render, a few at a time, so the table
// shows at once and its status column fills in.
const nodeCache = new Map();
const queue = [];
let running = 0;
function readNode(id) {
  if (nodeCache.has(id)) return nodeCache.get(id);
  const p = new Promise((resolve, reject) => { queue.push({ id, resolve, reject }); pump(); });
  nodeCache.set(id, p);
  p.catch(() => nodeCache.delete(id));
  return p;
}
function pump() {
  while (running < 4 && queue.length) {
    const job = queue.shift();
    running++;
    get(`/v1/nodes/${encodeURIComponent(job.id)}`).then(job.resolve, job.reject).finally(() => { running--; pump(); });
  }
}

// REACH_TONE colours a node's reachability state.
export const REACH_TONE = { healthy: 'success', stale: 'warning', unreachable: 'danger' };

function NodeCell({ id, field }) {
  const [n, setN] = useState(null);
  useEffect(() => {
    let live = true;
    readNode(id).then((v) => live && setN(v)).catch(() => live && setN({ error: true }));
    return () => { live = false; };
  }, [id]);
  if (!n) return html`<span class="muted" aria-label="loading">…</span>`;
  if (n.error) return html`<span class="muted" data-testid=${field === 'state' ? 'node-state-error' : undefined}>—</span>`;
  if (field === 'state') return html`<${StatusBadge} status=${n.reachability?.state || 'unknown'} tone=${REACH_TONE[n.reachability?.state]} testid="node-state" />`;
  if (field === 'project') return html`<a href=${`#/projects/${n.project_id}`}><${Short} value=${n.project_id} /></a>`;
  if (field === 'mesh_ip') return html`<span class="mono">${n.mesh_ip || '—'}</span>`;
  return '';
}

function NodesPage({ query }) {
  const domainID = query.domain_id || '';
  const [reload, setReload] = useState(0);
  useLiveNodes(domainID, () => { nodeCache.clear(); setReload((n) => n + 1); });
  return html`<div>
    <${PageHeader} title="Nodes">
      <${DomainPicker} value=${domainID} onPick=${(id) => navigate('#/nodes', { domain_id: id })} testid="nodes-domain" />
      ${domainID && html`<a class="btn" href=${href('#/topology', { domain_id: domainID })} data-testid="nodes-topology">Topology<//>`}
      ${domainID && html`<a class="btn" href=${href('#/labels', { scope: `domain:${domainID}` })} data-testid="nodes-labels">Labels<//>`}
      <a class="btn" href=${href('#/bootstrap-tokens', { domain_id: domainID })} data-testid="nodes-tokens">Bootstrap tokens</a>
    <//>
    ${domainID ? html`<${DataTable} path="/v1/nodes" params=${{ domain_id: domainID }} testid="nodes" reload=${reload}
      onRow=${(n) => navigate(`#/nodes/${n.id}`)}
      empty=${html`<${EmptyState} testid="nodes-empty" title="No nodes yet">Issue a bootstrap token and run plexd with it.<//>`}
      columns=${[
        { key: 'name', label: 'Name', render: (n) => html`<a href=${`#/nodes/${n.id}`} data-testid="node-link">${n.name || n.id}</a>` },
        { key: 'state', label: 'Status', render: (n) => html`<${NodeCell} id=${n.id} field="state" />` },
        { key: 'kind', label: 'Kind' },
        { key: 'mesh_ip', label: 'Mesh IP', render: (n) => html`<${NodeCell} id=${n.id} field="mesh_ip" />` },
        { key: 'project', label: 'Project', render: (n) => html`<${NodeCell} id=${n.id} field="project" />` },
        { key: 'created_at', label: 'Enrolled', render: (n) => fmtTime(n.created_at) },
      ]} />` : html`<${Spinner} />`}
  </div>`;
}

// useLiveNodes calls onChange (debounced) when the Domain's event stream
// reports a node registered, deleted or changing reachability.
export function useLiveNodes(domainID, onChange) {
  const cb = useRef(onChange);
  cb.current = onChange;
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!domainID) return undefined;
    let timer = 0;
    const kick = () => { clearTimeout(timer); timer = setTimeout(() => cb.current(), 150); };
    const close = stream(`/v1/domains/${encodeURIComponent(domainID)}/events`, {
      node_registered: kick, node_deleted: kick, node_reachability_changed: kick,
      open: () => setLive(true), error: () => setLive(false),
    }, { types: 'node_registered,node_deleted,node_reachability_changed' });
    // A reload or navigation away ends the stream at once: a lingering
    // stream holds one of the browser's few connections to this host.
    addEventListener('pagehide', close);
    return () => { clearTimeout(timer); close(); removeEventListener('pagehide', close); setLive(false); };
  }, [domainID]);
  return live;
}

function ProjectNodesPage({ params }) {
  const pid = params.id;
  const { data: p, error } = useLoad(() => get(`/v1/projects/${encodeURIComponent(pid)}`), [pid]);
  if (error) return html`<${PageHeader} title="Project nodes" /><${ErrorBox} error=${error} />`;
  return html`<div data-testid="project-nodes">
    <${PageHeader} title=${p ? `${p.name}: nodes` : 'Project nodes'}>
      ${p && html`<a class="btn" href=${href('#/nodes', { domain_id: p.domain_id })} data-testid="project-nodes-domain">All nodes of the Domain</a>`}
      <a class="btn" href=${href('#/bootstrap-tokens', { project_id: pid, domain_id: p?.domain_id })} data-testid="project-nodes-tokens">Bootstrap tokens</a>
    <//>
    <h2>Capabilities</h2>
    <${DataTable} path=${`/v1/projects/${encodeURIComponent(pid)}/capabilities`} testid="capabilities" rowKey="node_id"
      filters=${[{ name: 'status', label: 'Status', type: 'select', options: [['', 'any'], 'match', 'drift', 'unknown'] }]}
      onRow=${(c) => navigate(`#/nodes/${c.node_id}`)}
      empty=${html`<${EmptyState} testid="capabilities-empty" title="No capabilities reported">Nodes report theirs when their agent starts.<//>`}
      columns=${[
        { key: 'node_id', label: 'Node', render: (c) => html`<a href=${`#/nodes/${c.node_id}`}><${Short} value=${c.node_id} /></a>` },
        { key: 'state', label: 'Reachability', render: (c) => html`<${NodeCell} id=${c.node_id} field="state" />` },
        { key: 'binary_version', label: 'Binary' },
        { key: 'status', label: 'Integrity', render: (c) => html`<${StatusBadge} status=${c.status} tone=${{ match: 'success', drift: 'danger' }[c.status]} />` },
        { key: 'builtin_actions', label: 'Actions', render: (c) => (c.builtin_actions || []).join(', ') || '—' },
        { key: 'hooks', label: 'Hooks', render: (c) => (c.hooks || []).join(', ') || '—' },
        { key: 'reported_at', label: 'Reported', render: (c) => fmtTime(c.reported_at) },
      ]} />
  </div>`;
}

function Capabilities({ node }) {
  const { data, error, loading } = useLoad(() => list(`/v1/projects/${encodeURIComponent(node.project_id)}/capabilities`, { node_id: node.id, limit: 1 }), [node.id]);
  if (loading) return html`<${Spinner} />`;
  if (error) return html`<${ErrorBox} error=${error} testid="node-capabilities-error" />`;
  const c = data.items[0];
  if (!c) return html`<p class="muted" data-testid="node-capabilities-none">This node has not reported its capabilities yet.</p>`;
  return html`<${KV} testid="node-capabilities" items=${[
    ['Binary', c.binary_version || '—'],
    ['Integrity', html`<${StatusBadge} status=${c.status} tone=${{ match: 'success', drift: 'danger' }[c.status]} />`],
    ['Built-in actions', (c.builtin_actions || []).join(', ') || '—'],
    ['Hooks', (c.hooks || []).join(', ') || '—'],
    ['Reported', fmtTime(c.reported_at)],
  ]} />`;
}

function NodePage({ params }) {
  const { data: n, error, loading, reload } = useLoad(() => get(`/v1/nodes/${encodeURIComponent(params.id)}`), [params.id]);
  useLiveNodes(n?.domain_id, reload);
  if (loading && !n) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title="Node" /><${ErrorBox} error=${error} />`;
  const remove = async () => {
    if (!confirm(`Decommission ${n.name || n.id}? Its key is revoked and its mesh address freed.`)) return;
    try {
      await del(`/v1/nodes/${encodeURIComponent(n.id)}`);
      nodeCache.delete(n.id);
      toast('Node decommissioned', 'success');
      navigate('#/nodes', { domain_id: n.domain_id });
    } catch (e) { toast(e.detail || e.message, 'danger'); }
  };
  return html`<div data-testid="node-detail" data-id=${n.id}>
    <${PageHeader} title=${n.name || n.id}>
      <${StatusBadge} status=${n.reachability.state} tone=${REACH_TONE[n.reachability.state]} testid="node-detail-state" />
      <a class="btn" href=${href('#/topology', { domain_id: n.domain_id })} data-testid="node-topology">Topology</a>
      <a class="btn" href=${href('#/metrics', { domain_id: n.domain_id, q: `{node_id="${n.id}"}` })} data-testid="node-metrics">Metrics</a>
      <a class="btn" href=${href('#/logs', { domain_id: n.domain_id, q: `{node_id="${n.id}"}` })} data-testid="node-logs">Logs</a>
      <${Button} variant="danger" onClick=${remove} data-testid="node-delete">Decommission<//>
    <//>
    <${Card}>
      <${KV} testid="node-kv" items=${[
        ['ID', html`<span class="mono" data-testid="node-id">${n.id}</span>`],
        ['Kind', n.kind || '—'],
        ['Mesh IP', html`<span class="mono">${n.mesh_ip || '—'}</span>`],
        ['Reachability', html`${n.reachability.state}${n.reachability.last_heartbeat_at ? ` — last heartbeat ${fmtTime(n.reachability.last_heartbeat_at)}` : ''}`],
        ['Domain', html`<a class="mono" href=${`#/domains/${n.domain_id}`}>${n.domain_id}</a>`],
        ['Project', html`<a class="mono" href=${`#/projects/${n.project_id}/nodes`}>${n.project_id}</a>`],
        ['Version', `${n.binary_version || '—'} ${n.architecture || ''}`],
        ['Public key', html`<span class="mono">${n.public_key}</span>`],
        ['Enrolled', fmtTime(n.created_at)],
      ]} />
    <//>
    <${Card} title="Labels" testid="node-labels-card">
      <${NodeLabels} node=${n} />
    <//>
    <${Card} title="Capabilities"><${Capabilities} node=${n} /><//>
  </div>`;
}

// The topology operation pages its n·(n−1) directed edges. The page asks
// at once for the nodes and the summary (one edge) and for a whole page of
// edges: a mesh small enough to draw (MaxDrawnEdges) is drawn from that
// page; a larger one shows its summary as soon as it arrives and draws the
// edges of one node — its neighbourhood — read next.
const TopoPage = 4000; // the operation's largest page

function topoPath(domainID) {
  return `/v1/domains/${encodeURIComponent(domainID)}/mesh/topology`;
}

// topoPages reads the pages from first on until max edges.
async function topoPages(domainID, params, max, first) {
  let t = first || await get(topoPath(domainID), { ...params, limit: TopoPage });
  const edges = [...t.edges];
  while (t.next_cursor && edges.length < max) {
    t = await get(topoPath(domainID), { ...params, limit: TopoPage, cursor: t.next_cursor });
    edges.push(...t.edges);
  }
  return { ...t, edges, next_cursor: t.next_cursor };
}

// useTopology reads a Domain's topology whenever domainID, focus or n
// change: {head (nodes and summary), topo (what to draw), large, focus
// (the node whose edges topo holds when large), names, error}. What was
// read stays shown while the next read runs.
function useTopology(domainID, focus, n) {
  const [st, setSt] = useState({});
  const shownFor = useRef('');
  useEffect(() => {
    if (!domainID) return undefined;
    let live = true;
    const ctl = new AbortController();
    const set = (patch) => { if (live) setSt((o) => ({ ...o, ...patch })); };
    if (shownFor.current !== domainID) { shownFor.current = domainID; setSt({}); }
    list('/v1/nodes', { domain_id: domainID, limit: 200 }).then((l) => set({ names: l.items }), () => {});
    const wholeP = get(topoPath(domainID), { limit: TopoPage }, { signal: ctl.signal });
    wholeP.catch(() => {});
    (async () => {
      const head = await get(topoPath(domainID), { limit: 1 });
      if ((head.summary?.edges ?? 0) <= MaxDrawnEdges) {
        const topo = await topoPages(domainID, {}, MaxDrawnEdges, await wholeP);
        set({ head: topo, topo, large: false, focus: undefined, error: null });
        return;
      }
      ctl.abort();
      const ids = new Set(head.nodes.map((x) => x.node_id));
      const pick = (focus && ids.has(focus) && focus)
        || (head.nodes.find((x) => x.reachability === 'unreachable') || head.nodes[0]).node_id;
      set({ head, large: true, error: null });
      const near = await topoPages(domainID, { node_id: pick }, MaxDrawnEdges);
      set({ topo: near, focus: pick });
    })().catch((error) => set({ error }));
    return () => { live = false; ctl.abort(); };
  }, [domainID, focus, n]);
  return st;
}

function TopologyPage({ query }) {
  const domainID = query.domain_id || '';
  const focusQ = query.node_id || '';
  const [n, setN] = useState(0);
  const shown = useTopology(domainID, focusQ, n);
  const live = useLiveNodes(domainID, () => setN((x) => x + 1));
  const nameOf = Object.fromEntries((shown.names || []).map((x) => [x.id, x.name || x.id.slice(0, 8)]));
  const { head, topo } = shown;
  const focusOn = (id) => navigate('#/topology', { domain_id: domainID, node_id: id });
  return html`<div data-testid="topology-page">
    <${PageHeader} title="Mesh topology">
      <${DomainPicker} value=${domainID} onPick=${(id) => navigate('#/topology', { domain_id: id })} testid="topology-domain" />
      <span data-testid="topology-live" data-live=${live ? 'yes' : 'no'}><${StatusBadge} status=${live ? 'live' : 'offline'} tone=${live ? 'success' : 'neutral'} testid="topology-live-badge" /></span>
      ${domainID && html`<a class="btn" href=${href('#/nodes', { domain_id: domainID })} data-testid="topology-nodes">Nodes</a>`}
    <//>
    ${shown.error && html`<${ErrorBox} error=${shown.error} />`}
    ${domainID && !head && !shown.error && html`<${Spinner} />`}
    ${shown.large && head && html`<${TopologySummary} topo=${head} />
      <div class="row" data-testid="topology-large">
        <p class="muted">This mesh has ${head.summary.edges.toLocaleString()} directed edges, too many to draw at once: the graph shows one node's pairs. Pick a node here or on the graph.</p>
        <label class="filter">Node
          <select value=${shown.focus || focusQ} onChange=${(e) => focusOn(e.target.value)} data-testid="topology-focus">
            ${head.nodes.map((x) => html`<option value=${x.node_id}>${nameOf[x.node_id] || x.mesh_ip} (${x.reachability})</option>`)}
          </select></label>
        ${shown.focus && html`<a class="btn" href=${`#/nodes/${shown.focus}`} data-testid="topology-focus-open">Open node</a>`}
      </div>
      ${!topo && html`<${Spinner} label="Loading the node's pairs" />`}`}
    ${topo && topo.nodes.length === 0 && html`<${EmptyState} testid="topology-empty" title="No nodes in this mesh yet">Enrolled nodes appear here as they join.<//>`}
    ${topo && topo.nodes.length > 0 && html`<${TopologyGraph} topo=${topo} names=${nameOf} focus=${shown.large ? shown.focus : undefined}
        onNode=${shown.large ? focusOn : (id) => navigate(`#/nodes/${id}`)} />
      <p class="muted" data-testid="topology-generated">Generated ${fmtTime(topo.generated_at)}; updates as nodes join, leave or change reachability.</p>`}
  </div>`;
}

export const routes = [
  { path: '#/nodes', title: 'Nodes', nav: 'Nodes', component: NodesPage },
  { path: '#/nodes/{id}', title: 'Node', component: NodePage, navParent: '#/nodes' },
  { path: '#/projects/{id}/nodes', title: 'Project nodes', component: ProjectNodesPage, navParent: '#/nodes' },
  { path: '#/topology', title: 'Topology', nav: 'Topology', component: TopologyPage },
];
