// Groups of a Domain: list, create, rename, delete, members add/remove.
// IdP-synced groups follow their binding's groups claim and are read-only
// here (a badge says so; the API answers 409 group_read_only anyway).
import { html, useState, PageHeader, DataTable, Button, Dialog, Form, Field, KV, Card, Spinner, ErrorBox, StatusBadge, EmptyState, Short, fmtTime, useLoad, toast } from '../ui.js';
import { get, post, patch, del, list } from '../api.js';
import { navigate, href } from '../router.js';
import { useDomainList, pickDomain, DomainSelect, Confirm } from '../widgets/identity.js';

// SourceBadge tells manual groups from IdP-synced (read-only) ones.
export function SourceBadge({ source }) {
  return source === 'idp'
    ? html`<${StatusBadge} status="IdP-synced" tone="info" testid="group-source" />`
    : html`<${StatusBadge} status="manual" tone="neutral" testid="group-source" />`;
}

function CreateGroup({ domainID, onCreated, onCancel }) {
  const submit = async (v) => {
    const g = await post('/v1/admin/groups', { domain_id: domainID, slug: v.slug, display_name: v.display_name, source: 'manual' });
    toast(`Group ${g.display_name} created`, 'success');
    onCreated(g);
  };
  return html`<${Form} onSubmit=${submit} onCancel=${onCancel} submitLabel="Create group" testid="group-form">
    <${Field} name="display_name" label="Name" required autofocus />
    <${Field} name="slug" label="Slug" required hint="Lower-case letters, digits and dashes; cannot change later." />
  <//>`;
}

function GroupsPage({ query, user }) {
  const domains = useDomainList();
  const [open, setOpen] = useState(false);
  const domainID = pickDomain(query, user, domains.data);
  return html`<div>
    <${PageHeader} title="Groups">
      <${DomainSelect} route="#/groups" query=${query} value=${domainID} domains=${domains.data} testid="groups-domain" />
      <${Button} variant="primary" onClick=${() => setOpen(true)} disabled=${!domainID} data-testid="group-create">New group<//>
    <//>
    ${domainID && html`<${DataTable} path="/v1/admin/groups" params=${{ domain_id: domainID }} testid="groups" caption="Groups of the Domain"
      onRow=${(g) => navigate(`#/groups/${g.id}`)}
      empty=${html`<${EmptyState} title="No groups yet" testid="groups-empty">Create a group to grant roles to many principals at once.<//>`}
      columns=${[
        { key: 'display_name', label: 'Name', render: (g) => html`<a href=${`#/groups/${g.id}`} data-testid="group-link">${g.display_name}</a>` },
        { key: 'slug', label: 'Slug' },
        { key: 'source', label: 'Source', render: (g) => html`<${SourceBadge} source=${g.source} />` },
        { key: 'idp_claim_value', label: 'IdP claim', render: (g) => g.idp_claim_value || '—' },
        { key: 'created_at', label: 'Created', render: (g) => fmtTime(g.created_at) },
      ]} />`}
    <${Dialog} open=${open} title="New group" onClose=${() => setOpen(false)} testid="group-dialog">
      ${open && html`<${CreateGroup} domainID=${domainID} onCancel=${() => setOpen(false)}
        onCreated=${(g) => { setOpen(false); navigate(`#/groups/${g.id}`); }} />`}
    <//>
  </div>`;
}

const kindOf = { user: 'user', 'service-identity': 'service_identity' };

// AddMember picks a principal of the Domain (users, service identities,
// other groups) and adds it as a manual member.
function AddMember({ group, onAdded, onCancel }) {
  const candidates = useLoad(async () => {
    const [ids, groups] = await Promise.all([
      list(`/v1/domains/${encodeURIComponent(group.domain_id)}/identities`, { limit: 200 }),
      list('/v1/admin/groups', { domain_id: group.domain_id, limit: 200 }),
    ]);
    return [
      ...ids.items.map((i) => [`${kindOf[i.kind] || i.kind}:${i.id}`, `${i.display_name || i.email || i.id} (${i.kind})`]),
      ...groups.items.filter((g) => g.id !== group.id && g.source === 'manual').map((g) => [`group:${g.id}`, `${g.display_name} (group)`]),
    ];
  }, [group.id]);
  if (candidates.loading) return html`<${Spinner} />`;
  if (candidates.error) return html`<${ErrorBox} error=${candidates.error} testid="member-candidates-error" />`;
  const options = [['', 'Choose a principal…'], ...candidates.data];
  const submit = async (v) => {
    const [kind, ...rest] = String(v.principal || '').split(':');
    const m = await post(`/v1/admin/groups/${encodeURIComponent(group.id)}/members`, { principal_id: rest.join(':'), principal_kind: kind, source: 'manual' });
    toast('Member added', 'success');
    onAdded(m);
  };
  return html`<${Form} onSubmit=${submit} onCancel=${onCancel} submitLabel="Add member" testid="member-form">
    <${Field} name="principal" label="Principal" type="select" options=${options} required
      hint="A user or service identity of the Domain, or another manual group (its members join too)." />
  <//>`;
}

// useNames maps the principal ids of a Domain (identities and groups) to
// display names, for the members table; ids stay shown when a name is
// not readable.
function useNames(domainID, members) {
  const { data } = useLoad(async () => {
    if (!domainID) return {};
    const out = {};
    const [ids, groups] = await Promise.all([
      list(`/v1/domains/${encodeURIComponent(domainID)}/identities`, { limit: 200 }).catch(() => ({ items: [] })),
      list('/v1/admin/groups', { domain_id: domainID, limit: 200 }).catch(() => ({ items: [] })),
    ]);
    for (const i of ids.items) out[i.id] = i.display_name || i.email || i.id;
    for (const g of groups.items) out[g.id] = g.display_name;
    return out;
  }, [domainID, members]);
  return data || {};
}

function Rename({ group, onDone, onCancel }) {
  const submit = async (v) => {
    const g = await patch(`/v1/admin/groups/${encodeURIComponent(group.id)}`, { display_name: v.display_name });
    toast('Group renamed', 'success');
    onDone(g);
  };
  return html`<${Form} initial=${{ display_name: group.display_name }} onSubmit=${submit} onCancel=${onCancel} submitLabel="Rename" testid="group-rename-form">
    <${Field} name="display_name" label="Name" required autofocus />
  <//>`;
}

function GroupPage({ params, user }) {
  const id = encodeURIComponent(params.id);
  const g = useLoad(() => get(`/v1/admin/groups/${id}`), [params.id]);
  const members = useLoad(() => get(`/v1/admin/groups/${id}/members`), [params.id]);
  const [dialog, setDialog] = useState('');
  const [removing, setRemoving] = useState(null);
  const names = useNames(g.data?.domain_id, members.data);
  if (g.loading) return html`<${Spinner} />`;
  if (g.error) return html`<${PageHeader} title="Group" /><${ErrorBox} error=${g.error} />`;
  const grp = g.data;
  const manual = grp.source === 'manual';
  const items = members.data?.items || [];
  return html`<div data-testid="group-detail" data-id=${grp.id}>
    <${PageHeader} title=${grp.display_name}>
      <${SourceBadge} source=${grp.source} />
      ${manual && html`<${Button} onClick=${() => setDialog('rename')} data-testid="group-rename">Rename<//>
        <${Button} variant="danger" onClick=${() => setDialog('delete')} data-testid="group-delete">Delete<//>`}
    <//>
    ${!manual && html`<p class="muted" data-testid="group-read-only">This group follows the groups claim of its IdP binding: its members change at each sign-in and cannot be edited here.</p>`}
    <${Card}>
      <${KV} testid="group-kv" items=${[
        ['ID', html`<span class="mono" data-testid="group-id">${grp.id}</span>`],
        ['Slug', grp.slug],
        ['Domain', html`<a href=${`#/domains/${grp.domain_id}`} class="mono">${grp.domain_id}</a>`],
        ['Grant as', html`<span class="mono">group:${grp.id}#member</span>`],
        ...(manual ? [] : [['IdP binding', html`<${Short} value=${grp.idp_binding_id} />`], ['IdP claim', grp.idp_claim_value]]),
        ['Created', fmtTime(grp.created_at)],
        ['Updated', fmtTime(grp.updated_at)],
      ]} />
    <//>
    <${Card} title="Members" testid="group-members">
      ${manual && html`<p><${Button} variant="primary" onClick=${() => setDialog('add')} data-testid="member-add">Add member<//></p>`}
      ${members.loading && html`<${Spinner} />`}
      <${ErrorBox} error=${members.error} testid="members-error" />
      ${!members.loading && items.length === 0 && html`<${EmptyState} title="No members" testid="members-empty" />`}
      ${items.length > 0 && html`<div class="table-wrap"><table class="data"><caption>Direct members</caption>
        <thead><tr><th scope="col">Principal</th><th scope="col">Kind</th><th scope="col">Source</th><th scope="col">Added</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${items.map((m) => html`<tr key=${m.principal_kind + m.principal_id} data-testid="member-row" data-id=${m.principal_id} data-kind=${m.principal_kind}>
          <td>${m.principal_kind === 'group' ? html`<a href=${`#/groups/${m.principal_id}`} data-testid="member-name">${names[m.principal_id] || m.principal_id}</a>`
            : html`<a href=${`#/domains/${grp.domain_id}/identities/${m.principal_id}`} data-testid="member-name">${names[m.principal_id] || m.principal_id}</a>`}</td>
          <td>${m.principal_kind}</td><td>${m.source}</td><td>${fmtTime(m.created_at)}</td>
          <td>${manual && html`<${Button} size="sm" variant="danger" onClick=${() => setRemoving(m)} data-testid="member-remove"
            aria-label=${`Remove ${m.principal_kind} ${m.principal_id}`}>Remove<//>`}</td></tr>`)}</tbody>
      </table></div>`}
    <//>
    <p><a href=${href('#/groups', { domain_id: grp.domain_id })} data-testid="groups-back">All groups of this Domain</a></p>
    <${Dialog} open=${dialog === 'add'} title="Add member" onClose=${() => setDialog('')} testid="member-dialog">
      ${dialog === 'add' && html`<${AddMember} group=${grp} onCancel=${() => setDialog('')} onAdded=${() => { setDialog(''); members.reload(); }} />`}
    <//>
    <${Dialog} open=${dialog === 'rename'} title="Rename group" onClose=${() => setDialog('')} testid="group-rename-dialog">
      ${dialog === 'rename' && html`<${Rename} group=${grp} onCancel=${() => setDialog('')} onDone=${() => { setDialog(''); g.reload(); }} />`}
    <//>
    <${Confirm} open=${dialog === 'delete'} title="Delete group" confirmLabel="Delete group" user=${user} testid="group-delete-confirm"
      onClose=${() => setDialog('')}
      onConfirm=${async () => { await del(`/v1/admin/groups/${id}`); toast('Group deleted', 'success'); navigate('#/groups', { domain_id: grp.domain_id }); }}>
      Deleting ${grp.display_name} removes its memberships and every grant made to it.
    <//>
    <${Confirm} open=${!!removing} title="Remove member" confirmLabel="Remove" user=${user} testid="member-remove-confirm"
      onClose=${() => setRemoving(null)}
      onConfirm=${async () => {
        await del(`/v1/admin/groups/${id}/members/${encodeURIComponent(removing.principal_id)}`, { params: { kind: removing.principal_kind } });
        toast('Member removed', 'success');
        setRemoving(null);
        members.reload();
      }}>
      The member loses what the group grants at once.
    <//>
  </div>`;
}

export const routes = [
  { path: '#/groups', title: 'Groups', nav: 'Groups', component: GroupsPage },
  { path: '#/groups/{id}', title: 'Group', component: GroupPage, navParent: '#/groups' },
];
