// The design system, documented with live examples: tokens and every
// component of ui.js. Public (no session needed) and makes no request.
import { html, useState, useEffect, PageHeader, Card, Button, Spinner, StatusBadge, EmptyState, Dialog, Form, Field, SecretReveal, CodeBlock, DataTable, KV, Short, toast } from '../ui.js';
import { ApiError } from '../api.js';

const colours = ['bg', 'surface', 'surface-raised', 'surface-sunken', 'border', 'text', 'text-muted', 'accent', 'accent-hover',
  'focus', 'success', 'success-bg', 'warning', 'warning-bg', 'danger', 'danger-bg', 'info', 'info-bg', 'neutral', 'neutral-bg', 'code-bg'];
const spaces = [1, 2, 3, 4, 5, 6, 7];
const texts = ['xs', 'sm', 'md', 'lg', 'xl'];
const radii = ['sm', 'md', 'lg', 'pill'];

function Swatch({ name }) {
  const [, redraw] = useState(0);
  useEffect(() => {
    const on = () => redraw((n) => n + 1);
    addEventListener('plexsphere-theme', on);
    return () => removeEventListener('plexsphere-theme', on);
  }, []);
  const value = getComputedStyle(document.documentElement).getPropertyValue(`--color-${name}`).trim();
  return html`<div class="swatch" data-testid="token-colour"><div class="chip" style=${{ background: `var(--color-${name})` }}></div>
    <div class="label">--color-${name}<br /><span class="muted">${value}</span></div></div>`;
}

// sample rows for the DataTable demo, paged locally (no request).
const sample = Array.from({ length: 7 }, (_, i) => ({ id: `node-${i + 1}`, name: `node-${i + 1}`, status: ['online', 'relayed', 'offline'][i % 3] }));
const loadSample = async ({ cursor, limit, status }) => {
  const rows = sample.filter((r) => !status || r.status === status);
  const from = Number(cursor || 0);
  const size = Math.min(limit, 3);
  return { items: rows.slice(from, from + size), next_cursor: from + size < rows.length ? String(from + size) : '' };
};

function FormDemo() {
  const submit = async (v) => {
    if (!v.slug || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(v.slug)) {
      // What the API answers for a bad body, decoded by api.js.
      throw new ApiError(422, { code: 'invalid_body', detail: 'The request body is invalid.',
        errors: [{ location: 'body.slug', message: 'expected lower-case letters, digits and dashes' }] });
    }
    toast(`Saved ${v.name || v.slug}`, 'success');
  };
  return html`<${Form} onSubmit=${submit} submitLabel="Submit" testid="design-form">
    <${Field} name="name" label="Name" hint="Any text." />
    <${Field} name="slug" label="Slug" required hint="Submit an empty or upper-case slug to see an inline problem+json error." />
    <${Field} name="kind" label="Kind" type="select" options=${[['vm', 'Virtual machine'], ['k8s', 'Kubernetes']]} />
  <//>`;
}

function DesignPage() {
  const [dialog, setDialog] = useState(false);
  const [secretKey, setSecretKey] = useState(1);
  return html`<div data-testid="design">
    <${PageHeader} title="Design system" />
    <p class="muted">Tokens live in <code>css/tokens.css</code>, components in <code>js/ui.js</code> (styles in <code>css/app.css</code>). Pages use nothing else. Switch the theme in the header to see the dark tokens.</p>

    <${Card} title="Colour" testid="design-colour"><div class="swatches">${colours.map((c) => html`<${Swatch} name=${c} />`)}</div><//>
    <${Card} title="Spacing" testid="design-spacing"><div class="stack">
      ${spaces.map((s) => html`<div class="row"><code>--space-${s}</code><div class="space-bar" style=${{ width: `var(--space-${s})` }}></div></div>`)}</div><//>
    <${Card} title="Type" testid="design-type"><div class="stack">
      ${texts.map((t) => html`<div style=${{ fontSize: `var(--text-${t})` }}><code>--text-${t}</code> The quick brown fox</div>`)}
      <div class="mono"><code>--font-mono</code> 100.64.0.1/32 psk_dev_…</div></div><//>
    <${Card} title="Radius" testid="design-radius"><div class="row">
      ${radii.map((r) => html`<div class="stack"><div class="radius-box" style=${{ borderRadius: `var(--radius-${r})` }}></div><code>--radius-${r}</code></div>`)}</div><//>

    <${Card} title="Button" testid="design-button"><div class="demo">
      <${Button} variant="primary">Primary<//><${Button}>Default<//><${Button} variant="danger">Danger<//><${Button} variant="ghost">Ghost<//>
      <${Button} size="sm">Small<//><${Button} disabled>Disabled<//></div>
      <p class="muted"><code>Button({variant: primary|danger|ghost, size: sm, type})</code>: a real <code>${'<button>'}</code>, keyboard and focus ring included.</p><//>
    <${Card} title="StatusBadge and Spinner" testid="design-badge"><div class="demo">
      ${['online', 'relayed', 'offline', 'pending', 'succeeded', 'denied'].map((s) => html`<${StatusBadge} status=${s} />`)}
      <${StatusBadge} status="custom" tone="info" /><${Spinner} /></div>
      <p class="muted"><code>StatusBadge({status, tone?})</code>: the tone follows well-known statuses (direct/online → success, relayed → warning, down/offline → danger).</p><//>
    <${Card} title="EmptyState" testid="design-empty"><${EmptyState} title="No nodes yet" action=${html`<${Button} variant="primary">Issue a bootstrap token<//>`}>Enrol a node to see it here.<//><//>
    <${Card} title="DataTable" testid="design-table">
      <p class="muted">Server-side cursor paging ("Load more" follows <code>next_cursor</code>) and server-side filters (query parameters). This demo pages local rows three at a time.</p>
      <${DataTable} load=${loadSample} testid="design-table-demo" onRow=${(r) => toast(`Row ${r.name}`)}
        filters=${[{ name: 'status', label: 'Status', type: 'select', options: [['', 'any'], 'online', 'relayed', 'offline'] }]}
        columns=${[{ key: 'name', label: 'Name' }, { key: 'status', label: 'Status', render: (r) => html`<${StatusBadge} status=${r.status} />` }, { key: 'id', label: 'ID', render: (r) => html`<${Short} value=${r.id} n=${4} />` }]} /><//>
    <${Card} title="Form and Field" testid="design-forms">
      <p class="muted">Errors of a problem+json answer appear inline: <code>errors[].location</code> (<code>body.slug</code>) marks the field, the rest shows above the buttons.</p>
      <${FormDemo} /><//>
    <${Card} title="Dialog" testid="design-dialog"><div class="demo">
      <${Button} onClick=${() => setDialog(true)} data-testid="design-dialog-open">Open dialog<//></div>
      <${Dialog} open=${dialog} title="A dialog" onClose=${() => setDialog(false)} testid="design-dialog-demo">
        <p>Modal; Escape or ✕ closes it and focus returns to the opener.</p><${Button} onClick=${() => setDialog(false)}>Close<//><//><//>
    <${Card} title="SecretReveal (copy-once)" testid="design-secret">
      <${SecretReveal} key=${secretKey} label="Bootstrap token" value="psk_demo_0123456789abcdef0123456789abcdef" testid="design-secret-demo" />
      <p><${Button} size="sm" onClick=${() => setSecretKey((k) => k + 1)}>Reset the demo<//></p><//>
    <${Card} title="Toast" testid="design-toast"><div class="demo">
      <${Button} onClick=${() => toast('Saved.', 'success')} data-testid="design-toast-success">Success toast<//>
      <${Button} onClick=${() => toast('Something failed.', 'danger')}>Danger toast<//>
      <${Button} onClick=${() => toast('For your information.')}>Info toast<//></div><//>
    <${Card} title="CodeBlock" testid="design-code">
      <div class="stack">
        <${CodeBlock} lang="yaml" title="cloud-init (YAML)" code=${'#cloud-config\nruncmd:\n  - [sh, -c, "curl -fsSL https://example/install | sh"]\n'} />
        <${CodeBlock} lang="json" title="JSON" code=${{ id: 'd0c0…', name: 'Development', mesh_cidr: '100.64.0.0/16' }} />
        <${CodeBlock} lang="shell" title="shell" code=${'plexctl domains list\n'} />
      </div><//>
    <${Card} title="KV" testid="design-kv"><${KV} items=${[['Name', 'Development'], ['Mesh CIDR', html`<span class="mono">100.64.0.0/16</span>`]]} /><//>
  </div>`;
}

export const routes = [
  { path: '#/design', title: 'Design system', nav: 'Design system', component: DesignPage, public: true },
];
