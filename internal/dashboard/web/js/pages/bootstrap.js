// Bootstrap tokens of a Project: list, issue (the plaintext shown once,
// with ready-to-paste cloud-init, systemd and Kubernetes DaemonSet
// snippets), revoke.
import { html, useState, useEffect, PageHeader, DataTable, Button, Dialog, Form, Field, SecretReveal, CodeBlock, StatusBadge, EmptyState, Spinner, fmtTime, useLoad, toast } from '../ui.js';
import { post, del, list } from '../api.js';
import { navigate } from '../router.js';
import { useDomains } from './projects.js';

// Snippets that enrol a machine with token against this control plane.
export function snippets(server, token, kind = 'node') {
  const mode = kind === 'bridge' ? ' --mode bridge' : '';
  const cloudInit = `#cloud-config
write_files:
  - path: /etc/plexd/bootstrap-token
    permissions: "0600"
    owner: root:root
    content: ${token}
runcmd:
  - [ sh, -c, "plexd install --server ${server} --token-file /etc/plexd/bootstrap-token${mode}" ]
  - [ systemctl, enable, --now, plexd ]
`;
  const systemd = `# As root on the machine (plexd on the PATH):
install -d -m 0700 /etc/plexd
umask 077; printf '%s' '${token}' > /etc/plexd/bootstrap-token
plexd install --server ${server} --token-file /etc/plexd/bootstrap-token${mode}
systemctl enable --now plexd
`;
  const daemonSet = `apiVersion: v1
kind: Secret
metadata:
  name: plexd-bootstrap
  namespace: kube-system
type: Opaque
stringData:
  token: ${token}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: plexd
  namespace: kube-system
spec:
  selector:
    matchLabels: { app: plexd }
  template:
    metadata:
      labels: { app: plexd }
    spec:
      hostNetwork: true
      containers:
        - name: plexd
          image: plexd:latest  # an image carrying the plexd binary (cmd/plexd)
          args: ["up"]
          env:
            - name: PLEXD_SERVER
              value: ${server}
            - name: PLEXD_HOSTNAME
              valueFrom: { fieldRef: { fieldPath: spec.nodeName } }
            - name: PLEXD_BOOTSTRAP_TOKEN
              valueFrom: { secretKeyRef: { name: plexd-bootstrap, key: token } }${kind === 'bridge' ? `
            - name: PLEXD_MODE
              value: bridge` : ''}
          securityContext:
            capabilities: { add: ["NET_ADMIN"] }
          volumeMounts:
            - { name: state, mountPath: /var/lib/plexd }
      volumes:
        - name: state
          hostPath: { path: /var/lib/plexd, type: DirectoryOrCreate }
`;
  return { cloudInit, systemd, daemonSet };
}

function Issued({ issued, kind, onClose }) {
  const [tab, setTab] = useState('cloud-init');
  const [token] = useState(issued.token);
  const s = snippets(location.origin, token, kind);
  const tabs = [['cloud-init', 'cloud-init', s.cloudInit, 'yaml'], ['systemd', 'systemd', s.systemd, 'shell'], ['daemonset', 'Kubernetes DaemonSet', s.daemonSet, 'yaml']];
  const cur = tabs.find((t) => t[0] === tab);
  return html`<div class="stack" data-testid="token-issued" data-token-id=${issued.token_id} style=${{ maxWidth: 'min(46rem, 84vw)' }}>
    <p>Expires ${fmtTime(issued.expires_at)}.</p>
    <${SecretReveal} value=${token} label="Bootstrap token" testid="token-secret" />
    <div role="tablist" aria-label="Install snippets" class="row">
      ${tabs.map(([id, label]) => html`<${Button} size="sm" variant=${id === tab ? 'primary' : 'default'} role="tab" aria-selected=${id === tab ? 'true' : 'false'}
        onClick=${() => setTab(id)} data-testid=${`token-snippet-tab-${id}`}>${label}<//>`)}
    </div>
    <div role="tabpanel"><${CodeBlock} code=${cur[2]} lang=${cur[3]} title=${cur[1]} wrap testid=${`token-snippet-${tab}`} /></div>
    <p class="muted">The snippets carry the token: close this dialog when you have them, and the token is no longer shown.</p>
    <div class="form-actions"><${Button} variant="primary" onClick=${onClose} data-testid="token-issued-close">Done<//></div>
  </div>`;
}

function IssueToken({ projectID, onIssued, onCancel }) {
  const submit = async (v) => {
    const labels = {};
    for (const pair of String(v.labels || '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const i = pair.indexOf('=');
      if (i > 0) labels[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
    }
    const body = { kind: v.kind || 'node', env_prefix: v.env_prefix };
    if (v.ttl_seconds) body.ttl_seconds = Number(v.ttl_seconds);
    if (v.max_uses) body.max_uses = Number(v.max_uses);
    if (Object.keys(labels).length) body.labels = labels;
    const issued = await post(`/v1/projects/${encodeURIComponent(projectID)}/bootstrap-tokens`, body);
    onIssued(issued, body.kind);
  };
  return html`<${Form} initial=${{ kind: 'node', env_prefix: 'prod' }} onSubmit=${submit} onCancel=${onCancel} submitLabel="Issue token" testid="token-form">
    <${Field} name="kind" label="Kind" type="select" options=${[['node', 'node'], ['bridge', 'bridge (relay)']]} />
    <${Field} name="env_prefix" label="Environment prefix" required hint="Lower-case letters, e.g. prod." />
    <${Field} name="ttl_seconds" label="Lifetime (seconds)" type="number" hint="300 to 86400; default 3600." />
    <${Field} name="max_uses" label="Enrolments allowed" type="number" hint="Default 1; a DaemonSet needs one per machine." />
    <${Field} name="labels" label="Labels for enrolled nodes" hint="Comma-separated qualified-key=value pairs." />
  <//>`;
}

function tokenState(t) {
  if (t.revoked_at) return 'revoked';
  if (t.uses >= t.max_uses) return 'consumed';
  if (new Date(t.expires_at) < new Date()) return 'expired';
  return 'active';
}

function TokensPage({ query }) {
  const domains = useDomains();
  const domainID = query.domain_id || '';
  const projectID = query.project_id || '';
  const projects = useLoad(() => (domainID ? list('/v1/projects', { domain_id: domainID, limit: 200 }) : Promise.resolve({ items: [] })), [domainID]);
  const [open, setOpen] = useState(false);
  const [issued, setIssued] = useState(null);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    if (!domainID && domains.data?.length) navigate('#/bootstrap-tokens', { domain_id: domains.data[0].id, project_id: projectID });
  }, [domainID, domains.data]);
  useEffect(() => {
    const items = projects.data?.items || [];
    if (domainID && !projectID && items.length) navigate('#/bootstrap-tokens', { domain_id: domainID, project_id: items[0].id });
  }, [domainID, projectID, projects.data]);
  const revoke = async (t) => {
    if (!confirm('Revoke this bootstrap token? Machines not yet enrolled with it will fail to join.')) return;
    try {
      await del(`/v1/projects/${encodeURIComponent(projectID)}/bootstrap-tokens/${encodeURIComponent(t.id)}`);
      toast('Token revoked', 'success');
      setReload((n) => n + 1);
    } catch (e) { toast(e.detail || e.message, 'danger'); }
  };
  const close = () => { setOpen(false); setIssued(null); setReload((n) => n + 1); };
  return html`<div>
    <${PageHeader} title="Bootstrap tokens">
      <label class="filter">Domain
        <select value=${domainID} onChange=${(e) => navigate('#/bootstrap-tokens', { domain_id: e.target.value })} data-testid="tokens-domain">
          ${(domains.data || []).map((d) => html`<option value=${d.id}>${d.name}</option>`)}
        </select></label>
      <label class="filter">Project
        <select value=${projectID} onChange=${(e) => navigate('#/bootstrap-tokens', { domain_id: domainID, project_id: e.target.value })} data-testid="tokens-project">
          ${(projects.data?.items || []).map((p) => html`<option value=${p.id}>${p.name}</option>`)}
        </select></label>
      <${Button} variant="primary" onClick=${() => setOpen(true)} disabled=${!projectID} data-testid="token-create">Issue token<//>
    <//>
    ${!projectID && !projects.loading && html`<${EmptyState} testid="tokens-no-project" title="No Project">Create a Project in this Domain first.<//>`}
    ${!projectID && projects.loading && html`<${Spinner} />`}
    ${projectID && html`<${DataTable} path=${`/v1/projects/${encodeURIComponent(projectID)}/bootstrap-tokens`} testid="tokens" reload=${reload}
      empty=${html`<${EmptyState} testid="tokens-empty" title="No bootstrap tokens">Issue one to enrol machines into this Project.<//>`}
      columns=${[
        { key: 'id', label: 'Token', render: (t) => html`<span class="mono" title=${t.id} data-testid="token-id">…${t.id.slice(-12)}</span>` },
        { key: 'state', label: 'State', render: (t) => { const s = tokenState(t); return html`<${StatusBadge} status=${s} tone=${{ active: 'success', consumed: 'neutral', expired: 'warning', revoked: 'danger' }[s]} testid="token-state" />`; } },
        { key: 'kind', label: 'Kind' },
        { key: 'env_prefix', label: 'Env' },
        { key: 'uses', label: 'Uses', render: (t) => `${t.uses} / ${t.max_uses}` },
        { key: 'labels', label: 'Labels', render: (t) => Object.entries(t.labels || {}).map(([k, v]) => `${k}=${v}`).join(', ') || '—' },
        { key: 'issued_at', label: 'Issued', render: (t) => fmtTime(t.issued_at) },
        { key: 'expires_at', label: 'Expires', render: (t) => fmtTime(t.expires_at) },
        { key: 'actions', label: 'Actions', render: (t) => tokenState(t) === 'active'
          ? html`<${Button} size="sm" variant="danger" onClick=${(e) => { e.stopPropagation(); revoke(t); }} data-testid="token-revoke" aria-label=${`Revoke token ${t.id}`}>Revoke<//>` : '' },
      ]} />`}
    <${Dialog} open=${open} title=${issued ? 'Token issued' : 'Issue a bootstrap token'} onClose=${close} testid="token-dialog">
      ${open && !issued && html`<${IssueToken} projectID=${projectID} onCancel=${() => setOpen(false)} onIssued=${(t, kind) => setIssued({ ...t, kind })} />`}
      ${open && issued && html`<${Issued} issued=${issued} kind=${issued.kind} onClose=${close} />`}
    <//>
  </div>`;
}

export const routes = [
  { path: '#/bootstrap-tokens', title: 'Bootstrap tokens', nav: 'Bootstrap tokens', component: TokensPage },
];
