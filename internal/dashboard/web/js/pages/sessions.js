// Mediated-access sessions of a Project (docs/access.md): list, issue
// (ssh / tcp / k8s target; the session token is shown once), the browser
// terminal of an ssh session issued for it (web/terminal.html), revoke, and
// the replay of an ssh session's recording (asciicast v2, played back as
// text).
import { html, useState, useEffect, useRef, PageHeader, DataTable, Button, Dialog, Form, Field, KV, Card, Spinner, ErrorBox, StatusBadge, SecretReveal, Short, fmtTime, useLoad, toast } from '../ui.js';
import { get, post, list } from '../api.js';
import { navigate, href } from '../router.js';
import { ProjectPick, useProjects } from '../widgets/projectpick.js';

const sp = (pid) => `/v1/projects/${encodeURIComponent(pid)}/sessions`;

// terminalHref is the browser terminal page of a session (web/terminal.html).
const terminalHref = (pid, sid) => `terminal.html?project_id=${encodeURIComponent(pid)}&session_id=${encodeURIComponent(sid)}`;

function targetText(t = {}) {
  if (t.ssh) return `ssh ${t.ssh.user}${t.ssh.allowed_commands?.length ? ` (${t.ssh.allowed_commands.length} commands)` : ''}`;
  if (t.tcp) return `tcp ${t.tcp.host}:${t.tcp.port}`;
  if (t.k8s) return `k8s ${t.k8s.user}`;
  return '—';
}

function IssueSession({ pid, onIssued, onCancel }) {
  const resources = useLoad(() => list(`/v1/projects/${encodeURIComponent(pid)}/resources`, { limit: 200 }).then((p) => p.items), [pid]);
  if (resources.loading) return html`<${Spinner} />`;
  const options = (resources.data || []).map((r) => [r.id, `${r.kind} ${r.external_ref || r.id.slice(0, 8)}`]);
  const submit = async (v) => {
    const kind = v.kind || 'ssh';
    let target;
    if (kind === 'ssh') target = { ssh: { user: v.user } };
    else if (kind === 'k8s') target = { k8s: { user: v.user } };
    else target = { tcp: { host: v.host, port: v.port } };
    const terminal = kind === 'ssh' && v.ssh_key === 'terminal';
    const r = await post(sp(pid), {
      resource_id: v.resource_id, kind, target, requested_ttl_seconds: v.ttl || undefined,
      public_key: kind === 'ssh' && !terminal && v.public_key ? v.public_key : undefined,
      terminal: terminal || undefined,
    });
    onIssued(r);
  };
  return html`<${ErrorBox} error=${resources.error} />
  <${Form} initial=${{ resource_id: options[0]?.[0] || '', kind: 'ssh', ssh_key: 'own' }} onSubmit=${submit} onCancel=${onCancel} submitLabel="Issue session" testid="session-form">
    <${Field} name="resource_id" label="Resource" type="select" options=${options} required hint="The Resource the session reaches (its node serves the access listener)." />
    <${Field} name="kind" label="Kind" type="select" options=${[['ssh', 'ssh: a shell'], ['tcp', 'tcp: port forwarding'], ['k8s', 'k8s: Kubernetes API']]} />
    <${Field} name="user" label="User (ssh, k8s)" placeholder="root" />
    <${Field} name="host" label="Host (tcp)" placeholder="127.0.0.1" />
    <${Field} name="port" label="Port (tcp)" type="number" />
    <${Field} name="ttl" label="Lifetime (seconds)" type="number" hint="At most 30 minutes." />
    <${Field} name="ssh_key" label="Key (ssh)" type="select" options=${[['own', 'My OpenSSH public key (plexctl ssh, ssh)'], ['terminal', 'Browser terminal: the control plane holds the key']]}
      hint="A browser terminal session opens here, in a terminal page; the other kind accepts only your key." />
    <${Field} name="public_key" label="OpenSSH public key (ssh)" type="textarea" hint="The one authorized_keys line the session accepts (not for a browser terminal)." />
  <//>`;
}

function SessionsPage({ query }) {
  const projects = useProjects();
  const pid = query.project_id || '';
  const [open, setOpen] = useState(false);
  const [issued, setIssued] = useState(null);
  const [reload, setReload] = useState(0);
  return html`<div>
    <${PageHeader} title="Sessions">
      <${ProjectPick} route="#/sessions" projectID=${pid} projects=${projects.data} />
      ${pid && html`<${Button} variant="primary" onClick=${() => { setIssued(null); setOpen(true); }} data-testid="session-create">Issue session<//>`}
    <//>
    <${ErrorBox} error=${projects.error} />
    ${!pid ? html`<p class="muted" data-testid="sessions-choose">Choose a Project to see its sessions.</p>`
      : html`<${DataTable} path=${sp(pid)} testid="sessions" reload=${reload}
        filters=${[{ name: 'status', label: 'Status', type: 'select', options: ['', 'active', 'revoked', 'expired'] },
          { name: 'kind', label: 'Kind', type: 'select', options: ['', 'ssh', 'tcp', 'k8s'] }]}
        onRow=${(s) => navigate(`#/projects/${pid}/sessions/${s.id}`)}
        columns=${[
          { key: 'id', label: 'Session', render: (s) => html`<a href=${`#/projects/${pid}/sessions/${s.id}`} data-testid="session-link"><${Short} value=${s.id} /></a>` },
          { key: 'kind', label: 'Kind' },
          { key: 'target', label: 'Target', render: (s) => html`<span class="mono">${targetText(s.target)}</span>` },
          { key: 'status', label: 'Status', render: (s) => html`<${StatusBadge} status=${s.status} />` },
          { key: 'issued_at', label: 'Issued', render: (s) => fmtTime(s.issued_at) },
          { key: 'expires_at', label: 'Expires', render: (s) => fmtTime(s.expires_at) },
        ]} />`}
    <${Dialog} open=${open} title="Issue a session" onClose=${() => setOpen(false)} testid="session-dialog">
      ${open && !issued && html`<${IssueSession} pid=${pid} onCancel=${() => setOpen(false)} onIssued=${(r) => { setIssued(r); setReload((n) => n + 1); }} />`}
      ${open && issued && html`<div class="stack">
        <p>Session <a class="mono" href=${`#/projects/${pid}/sessions/${issued.session_id}`} data-testid="session-issued-link">${issued.session_id}</a> expires ${fmtTime(issued.expires_at)}.</p>
        ${issued.session?.terminal && html`<p><a class="btn btn-primary" href=${terminalHref(pid, issued.session_id)} target="_blank" rel="noopener" data-testid="session-issued-terminal">Open the terminal</a></p>`}
        <${SecretReveal} value=${issued.token} label="Session token" testid="session-token" />
      </div>`}
    <//>
  </div>`;
}

// parseCast reads an asciicast v2 recording: a header line, then
// [seconds, "o"|"i", text] events.
export function parseCast(text) {
  const lines = String(text).split('\n').filter((l) => l.trim() !== '');
  let header = {};
  const events = [];
  lines.forEach((l, i) => {
    let v;
    try { v = JSON.parse(l); } catch { return; }
    if (i === 0 && v && !Array.isArray(v)) header = v;
    else if (Array.isArray(v) && v.length >= 3 && v[1] === 'o') events.push([Number(v[0]) || 0, String(v[2])]);
  });
  return { header, events };
}

// plain drops terminal escape sequences so output reads as text.
// eslint-disable-next-line no-control-regex
const ESC = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)|\u001b[()][A-Za-z0-9]|\u001b[=>]|\r(?!\n)/g;
function plain(s) { return s.replace(ESC, ''); }

function Replay({ path }) {
  const { data, error, loading } = useLoad(() => get(`${path}/recording`), [path]);
  const [pos, setPos] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(1);
  const pre = useRef(null);
  const cast = data ? parseCast(data) : { header: {}, events: [] };
  useEffect(() => {
    if (!playing) return undefined;
    if (pos >= cast.events.length) { setPlaying(false); return undefined; }
    const prev = pos === 0 ? 0 : cast.events[pos - 1][0];
    const wait = Math.min(2000, Math.max(0, (cast.events[pos][0] - prev) * 1000 / speed));
    const t = setTimeout(() => setPos((p) => p + 1), wait);
    return () => clearTimeout(t);
  }, [playing, pos, speed, data]);
  useEffect(() => { if (pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [pos]);
  if (loading) return html`<${Spinner} />`;
  if (error) return html`<${ErrorBox} error=${error} />`;
  const shown = plain(cast.events.slice(0, pos).map((e) => e[1]).join(''));
  const total = cast.events.length ? cast.events[cast.events.length - 1][0] : 0;
  return html`<div data-testid="session-replay" data-events=${cast.events.length} data-pos=${pos}>
    <div class="row" role="group" aria-label="Playback">
      <${Button} size="sm" variant="primary" onClick=${() => { if (pos >= cast.events.length) setPos(0); setPlaying(!playing); }} data-testid="replay-play">${playing ? 'Pause' : 'Play'}<//>
      <${Button} size="sm" onClick=${() => { setPlaying(false); setPos(cast.events.length); }} data-testid="replay-all">Show all<//>
      <${Button} size="sm" onClick=${() => { setPlaying(false); setPos(0); }} data-testid="replay-reset">Restart<//>
      <label class="filter">Speed <select value=${speed} onChange=${(e) => setSpeed(Number(e.target.value))} data-testid="replay-speed">
        ${[1, 2, 4, 8].map((s) => html`<option value=${s}>${s}×</option>`)}</select></label>
      <span class="muted">${pos} / ${cast.events.length} events, ${total.toFixed(1)} s${cast.header.width ? `, ${cast.header.width}×${cast.header.height}` : ''}</span>
    </div>
    <div class="code"><pre ref=${pre} tabindex="0" aria-label="Recorded terminal output" aria-live="off" data-testid="replay-screen"><code>${shown}</code></pre></div>
  </div>`;
}

const REASONS = ['operator_request', 'policy_violation', 'identity_compromise', 'resource_decommissioned'];

function SessionPage({ params }) {
  const { pid, id } = params;
  const path = `${sp(pid)}/${encodeURIComponent(id)}`;
  const { data: s, error, loading, reload } = useLoad(() => get(path), [pid, id]);
  const [revoking, setRevoking] = useState(false);
  const [replay, setReplay] = useState(false);
  if (loading && !s) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title="Session" /><${ErrorBox} error=${error} />`;
  const revoke = async (v) => {
    await post(`${path}:revoke`, { revoke_reason: v.revoke_reason });
    toast('Session revoked: the node ends it within a second', 'success');
    setRevoking(false);
    reload();
  };
  return html`<div data-testid="session-detail" data-id=${s.id} data-status=${s.status}>
    <${PageHeader} title=${`Session ${s.id.slice(0, 8)}…`}>
      <a class="btn" href=${href('#/sessions', { project_id: pid })}>All sessions</a>
      ${s.status === 'active' && s.terminal && html`<a class="btn btn-primary" href=${terminalHref(pid, s.id)} target="_blank" rel="noopener" data-testid="session-terminal">Open the terminal</a>`}
      ${s.status === 'active' && html`<${Button} variant="danger" onClick=${() => setRevoking(true)} data-testid="session-revoke">Revoke<//>`}
    <//>
    <${Card}><${KV} testid="session-kv" items=${[
      ['Status', html`<${StatusBadge} status=${s.status} testid="session-status" />`],
      ['Kind', s.terminal ? `${s.kind} (browser terminal)` : s.kind],
      ['Target', html`<span class="mono">${targetText(s.target)}</span>`],
      ['Resource', html`<a class="mono" href=${`#/resources/${s.resource_id}`}>${s.resource_id}</a>`],
      ['Node', s.node_id ? html`<span class="mono">${s.node_id}</span>` : '—'],
      ['Identity', html`<span class="mono">${s.identity_id}</span>`],
      ['Issued', fmtTime(s.issued_at)],
      ['Expires', fmtTime(s.expires_at)],
      ['Last active', fmtTime(s.last_active_at)],
      ...(s.revoked_at ? [['Revoked', `${fmtTime(s.revoked_at)} (${s.revoke_reason || ''})`]] : []),
    ]} /><//>
    ${s.kind === 'ssh' && html`<${Card} title="Recording">
      ${s.has_recording
        ? (replay ? html`<${Replay} path=${path} />` : html`<${Button} onClick=${() => setReplay(true)} data-testid="session-replay-open">Replay the recording<//>`)
        : html`<p class="muted" data-testid="session-no-recording">No recording yet: the node uploads it when the session ends.</p>`}
    <//>`}
    <${Dialog} open=${revoking} title="Revoke this session?" onClose=${() => setRevoking(false)} testid="session-revoke-dialog">
      ${revoking && html`<${Form} initial=${{ revoke_reason: 'operator_request' }} onSubmit=${revoke} onCancel=${() => setRevoking(false)} submitLabel="Revoke" testid="revoke-form">
        <${Field} name="revoke_reason" label="Reason" type="select" options=${REASONS} />
      <//>`}
    <//>
  </div>`;
}

export const routes = [
  { path: '#/sessions', title: 'Sessions', nav: 'Sessions', component: SessionsPage },
  { path: '#/projects/{pid}/sessions/{id}', title: 'Session', component: SessionPage, navParent: '#/sessions' },
];
