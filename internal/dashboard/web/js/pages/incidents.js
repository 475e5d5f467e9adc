// Incidents of a Domain (/v1/domains/{domainId}/incidents): list with a
// status filter (server-side paged, newest first), open one by hand, and
// one incident's detail: its timeline, a note appended, resolve.
import { html, useState, PageHeader, DataTable, Button, Dialog, Form, Field, KV, Card, Spinner, ErrorBox, StatusBadge, EmptyState, Short, fmtTime, useLoad, toast } from '../ui.js';
import { get, post } from '../api.js';
import { navigate, href } from '../router.js';
import { DomainPicker } from '../widgets/domainpick.js';
import { SEVERITY_TONE } from './alerts.js';

const ip = (d) => `/v1/domains/${encodeURIComponent(d)}/incidents`;

// STATUS_TONE colours incident statuses.
const STATUS_TONE = { open: 'danger', resolved: 'success' };

function OpenIncident({ domainID, onOpened, onCancel }) {
  const submit = async (v) => {
    const inc = await post(ip(domainID), { title: v.title, severity: v.severity });
    toast(`Incident opened: ${inc.title}`, 'success');
    onOpened(inc);
  };
  return html`<${Form} initial=${{ title: '', severity: 'warning' }} onSubmit=${submit} onCancel=${onCancel} submitLabel="Open incident" testid="incident-form">
    <${Field} name="title" label="Title" required autofocus hint="1 to 256 characters: what is wrong." />
    <${Field} name="severity" label="Severity" type="select" options=${['info', 'warning', 'critical']} />
  <//>`;
}

function IncidentsPage({ query }) {
  const domainID = query.domain_id || '';
  const [open, setOpen] = useState(false);
  return html`<div data-testid="incidents-page">
    <${PageHeader} title="Incidents">
      <${DomainPicker} value=${domainID} onPick=${(id) => navigate('#/incidents', { domain_id: id })} testid="incidents-domain" />
      ${domainID && html`<a class="btn" href=${href('#/alerts', { domain_id: domainID })} data-testid="incidents-rules">Alert rules</a>
        <${Button} variant="primary" onClick=${() => setOpen(true)} data-testid="incident-create">Open incident<//>`}
    <//>
    ${domainID ? html`<${DataTable} path=${ip(domainID)} testid="incidents" caption="Incidents, newest first"
      filters=${[{ name: 'status', label: 'Status', type: 'select', options: [['', 'any'], ['open', 'open'], ['resolved', 'resolved']] }]}
      onRow=${(i) => navigate(`#/domains/${domainID}/incidents/${i.id}`)}
      empty=${html`<${EmptyState} testid="incidents-empty" title="No incidents">Firing alert rules open incidents here; you can also open one by hand.<//>`}
      columns=${[
        { key: 'title', label: 'Title', render: (i) => html`<a href=${`#/domains/${domainID}/incidents/${i.id}`} data-testid="incident-link">${i.title}</a>` },
        { key: 'status', label: 'Status', render: (i) => html`<${StatusBadge} status=${i.status} tone=${STATUS_TONE[i.status]} testid="incident-status" />` },
        { key: 'severity', label: 'Severity', render: (i) => html`<${StatusBadge} status=${i.severity} tone=${SEVERITY_TONE[i.severity]} />` },
        { key: 'source', label: 'Source', render: (i) => (i.alert_rule_id ? html`rule <${Short} value=${i.alert_rule_id} />` : 'by hand') },
        { key: 'opened_at', label: 'Opened', render: (i) => fmtTime(i.opened_at) },
        { key: 'resolved_at', label: 'Resolved', render: (i) => fmtTime(i.resolved_at) || '—' },
      ]} />` : html`<${Spinner} />`}
    <${Dialog} open=${open} title="Open an incident" onClose=${() => setOpen(false)} testid="incident-dialog">
      ${open && html`<${OpenIncident} domainID=${domainID} onCancel=${() => setOpen(false)}
        onOpened=${(inc) => { setOpen(false); navigate(`#/domains/${domainID}/incidents/${inc.id}`); }} />`}
    <//>
  </div>`;
}

function Timeline({ events }) {
  if (!events.length) return html`<p class="muted" data-testid="incident-timeline-empty">No events yet.</p>`;
  return html`<ol class="timeline" data-testid="incident-timeline">
    ${events.map((e) => html`<li key=${e.id} data-testid="incident-event" data-kind=${e.kind}>
      <${StatusBadge} status=${e.kind === 'note' ? 'note' : 'status change'} tone=${e.kind === 'note' ? 'info' : 'warning'} />
      <span class="muted">${fmtTime(e.occurred_at)}</span>
      <div class="timeline-message" data-testid="incident-event-message">${e.message}</div>
    </li>`)}
  </ol>`;
}

function IncidentPage({ params }) {
  const { id: domainID, iid } = params;
  const path = `${ip(domainID)}/${encodeURIComponent(iid)}`;
  const { data: inc, error, loading, reload } = useLoad(() => get(path), [path]);
  const [confirm, setConfirm] = useState(false);
  const [resolving, setResolving] = useState(false);
  const [nk, setNK] = useState(0);
  if (loading && !inc) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title="Incident" /><${ErrorBox} error=${error} />`;
  const resolve = async () => {
    setResolving(true);
    try {
      await post(`${path}:resolve`, {});
      toast('Incident resolved', 'success');
      reload();
    } catch (e) { toast(e.detail || e.message, 'danger'); } finally { setResolving(false); setConfirm(false); }
  };
  const note = async (v) => {
    await post(`${path}/events`, { kind: 'note', message: v.message });
    toast('Note added', 'success');
    setNK((x) => x + 1);
    reload();
  };
  const events = [...(inc.timeline || [])].sort((a, b) => (a.occurred_at < b.occurred_at ? -1 : a.occurred_at > b.occurred_at ? 1 : 0));
  return html`<div data-testid="incident-detail" data-id=${inc.id} data-status=${inc.status}>
    <${PageHeader} title=${inc.title}>
      <${StatusBadge} status=${inc.status} tone=${STATUS_TONE[inc.status]} testid="incident-detail-status" />
      <a class="btn" href=${href('#/incidents', { domain_id: domainID })} data-testid="incident-back">All incidents</a>
      ${inc.status === 'open' && html`<${Button} variant="primary" onClick=${() => setConfirm(true)} data-testid="incident-resolve">Resolve<//>`}
    <//>
    <${Card}>
      <${KV} testid="incident-kv" items=${[
        ['ID', html`<span class="mono">${inc.id}</span>`],
        ['Severity', html`<${StatusBadge} status=${inc.severity} tone=${SEVERITY_TONE[inc.severity]} />`],
        ['Opened', fmtTime(inc.opened_at)],
        ['Resolved', inc.resolved_at ? fmtTime(inc.resolved_at) : '—'],
        ['Alert rule', inc.alert_rule_id ? html`<a href=${href('#/alerts', { domain_id: domainID })} class="mono">${inc.alert_rule_id}</a>` : 'opened by hand'],
        ['Labels', inc.labels ? html`<span class="mono">${Object.entries(inc.labels).map(([k, v]) => `${k}="${v}"`).join(', ')}</span>` : '—'],
      ]} />
      ${inc.labels?.node_id && html`<p><a href=${href('#/metrics', { domain_id: domainID, q: `{node_id="${inc.labels.node_id}"}`, mode: 'range', window: '6h' })} data-testid="incident-metrics">The node's series</a>
        · <a href=${href('#/logs', { domain_id: domainID, q: `{node_id="${inc.labels.node_id}"}`, window: '6h' })} data-testid="incident-logs">The node's logs</a></p>`}
    <//>
    <${Card} title="Timeline" testid="incident-timeline-card">
      <${Timeline} events=${events} />
      ${inc.status === 'open' ? html`<h3>Add a note</h3>
        <${Form} key=${nk} initial=${{ message: '' }} onSubmit=${note} submitLabel="Add note" testid="note-form">
          <${Field} name="message" label="Note" type="textarea" required hint="1 to 4096 characters, appended to the timeline." />
        <//>` : html`<p class="muted" data-testid="incident-closed">Resolved: the timeline is closed.</p>`}
    <//>
    <${Dialog} open=${confirm} title="Resolve this incident?" onClose=${() => setConfirm(false)} testid="incident-resolve-dialog">
      <p>${inc.alert_rule_id ? 'An alert incident resolved by hand is not reopened while the same alert keeps firing.' : 'The incident is closed; its timeline takes no more events.'}</p>
      <div class="form-actions"><${Button} onClick=${() => setConfirm(false)}>Cancel<//>
        <${Button} variant="primary" onClick=${resolve} disabled=${resolving} data-testid="incident-resolve-confirm">${resolving ? html`<${Spinner} />` : ''} Resolve<//></div>
    <//>
  </div>`;
}

export const routes = [
  { path: '#/incidents', title: 'Incidents', nav: 'Incidents', component: IncidentsPage },
  { path: '#/domains/{id}/incidents/{iid}', title: 'Incident', component: IncidentPage, navParent: '#/incidents' },
];
