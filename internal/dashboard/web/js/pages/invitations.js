// Invitations of a Domain: list (by status), invite an e-mail address with
// roles and group memberships staged for its first sign-in, revoke. No
// e-mail is sent: the answer's sign-in link is shown once to hand over.
import { html, useState, PageHeader, DataTable, Button, Dialog, Form, Field, Card, SecretReveal, StatusBadge, Short, fmtTime, useLoad, toast } from '../ui.js';
import { post, del, list } from '../api.js';
import { useDomainList, pickDomain, DomainSelect, Confirm, splitList } from '../widgets/identity.js';

const domainRoles = [['', 'none'], ['viewer', 'viewer'], ['member', 'member'], ['auditor', 'auditor'], ['admin', 'admin']];

function CreateInvitation({ domainID, onCreated, onCancel }) {
  const groups = useLoad(() => list('/v1/admin/groups', { domain_id: domainID, limit: 200 }).then((p) => p.items.filter((g) => g.source === 'manual')), [domainID]);
  const groupOptions = [['', 'none'], ...(groups.data || []).map((g) => [g.id, g.display_name])];
  const submit = async (v) => {
    const tuples = [];
    if (v.domain_role) tuples.push({ object: `domain:${domainID}`, relation: v.domain_role });
    if (v.group) tuples.push({ object: `group:${v.group}`, relation: 'member' });
    for (const g of splitList(v.grants)) {
      const i = g.lastIndexOf('#');
      tuples.push({ object: i < 0 ? g : g.slice(0, i), relation: i < 0 ? '' : g.slice(i + 1) });
    }
    const inv = await post(`/v1/domains/${encodeURIComponent(domainID)}/invitations`, {
      external_subject: v.email, ttl_seconds: v.ttl_hours ? Math.round(v.ttl_hours * 3600) : undefined,
      initial_tuples: tuples.length ? tuples : undefined,
    });
    toast('Invitation created', 'success');
    onCreated(inv);
  };
  return html`<${Form} initial=${{ domain_role: '', group: '' }} onSubmit=${submit} onCancel=${onCancel} submitLabel="Invite" testid="invitation-form">
    <${Field} name="email" label="E-mail address" type="email" required autofocus hint="Redeemed at the first sign-in whose verified e-mail matches." />
    <${Field} name="domain_role" label="Role on the Domain" type="select" options=${domainRoles} />
    <${Field} name="group" label="Member of group" type="select" options=${groupOptions} />
    <${Field} name="grants" label="More grants" type="textarea" placeholder="project:<uuid>#viewer" hint="One object#relation per line, e.g. a role on one of the Domain's Projects." />
    <${Field} name="ttl_hours" label="Valid for (hours)" type="number" hint="1 minute to 7 days; empty: 24 hours." />
  <//>`;
}

function InvitationsPage({ query, user }) {
  const domains = useDomainList();
  const domainID = pickDomain(query, user, domains.data);
  const [open, setOpen] = useState(false);
  const [created, setCreated] = useState(null);
  const [revoking, setRevoking] = useState(null);
  const [reload, setReload] = useState(0);
  const base = `/v1/domains/${encodeURIComponent(domainID)}/invitations`;
  return html`<div>
    <${PageHeader} title="Invitations">
      <${DomainSelect} route="#/invitations" query=${query} value=${domainID} domains=${domains.data} testid="invitations-domain" />
      <${Button} variant="primary" onClick=${() => setOpen(true)} disabled=${!domainID} data-testid="invitation-create">Invite<//>
    <//>
    ${created && html`<${Card} title="Invitation created" testid="invitation-created">
      <p>No e-mail is sent. Hand the invitee this sign-in link; the invitation is redeemed when they sign in with the invited, verified address.</p>
      <${SecretReveal} key=${created.id} value=${created.sign_in_url} label="Sign-in link" testid="invitation-link" />
    <//>`}
    ${domainID && html`<${DataTable} path=${base} reload=${reload} testid="invitations" caption="Invitations, newest first"
      filters=${[{ name: 'status', label: 'Status', type: 'select', options: [['', 'all'], 'pending', 'accepted', 'revoked', 'expired'] }]}
      columns=${[
        { key: 'external_subject_pseudonym', label: 'Invitee (pseudonym)', render: (v) => html`<${Short} value=${v.external_subject_pseudonym} n=${12} />` },
        { key: 'status', label: 'Status', render: (v) => html`<${StatusBadge} status=${v.status} testid="invitation-status" />` },
        { key: 'initial_tuples', label: 'Grants', render: (v) => html`<span class="mono">${(v.initial_tuples || []).map((t) => `${t.object}#${t.relation}`).join(', ') || '—'}</span>` },
        { key: 'expires_at', label: 'Expires', render: (v) => fmtTime(v.expires_at) },
        { key: 'created_at', label: 'Created', render: (v) => fmtTime(v.created_at) },
        { key: 'actions', label: 'Actions', render: (v) => v.status === 'pending' && html`<${Button} size="sm" variant="danger" onClick=${() => setRevoking(v)}
            data-testid="invitation-revoke" aria-label="Revoke invitation">Revoke<//>` },
      ]} />`}
    <${Dialog} open=${open} title="Invite someone" onClose=${() => setOpen(false)} testid="invitation-dialog">
      ${open && html`<${CreateInvitation} domainID=${domainID} onCancel=${() => setOpen(false)}
        onCreated=${(inv) => { setOpen(false); setCreated(inv); setReload((n) => n + 1); }} />`}
    <//>
    <${Confirm} open=${!!revoking} title="Revoke invitation" confirmLabel="Revoke" user=${user} testid="invitation-revoke-confirm"
      onClose=${() => setRevoking(null)}
      onConfirm=${async () => {
        await del(`${base}/${encodeURIComponent(revoking.id)}`);
        toast('Invitation revoked', 'success');
        setRevoking(null);
        setReload((n) => n + 1);
      }}>
      The invitation will no longer grant anything.
    <//>
  </div>`;
}

export const routes = [
  { path: '#/invitations', title: 'Invitations', nav: 'Invitations', component: InvitationsPage },
];
