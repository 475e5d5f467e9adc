// Network policies of a Project (docs/policy.md): list, editor (YAML or
// JSON body; a failed save shows the problem+json answer inline, each
// errors[] entry with its location, e.g. a failing test's "tests[1]"),
// revisions, the diff between two revisions, tests and dry-run (both the
// dry-run operation: nothing is written).
import { html, useState, useEffect, PageHeader, DataTable, Button, Dialog, KV, Card, Spinner, ErrorBox, StatusBadge, CodeBlock, Short, fmtTime, useLoad, toast } from '../ui.js';
import { get, post, patch, del, list } from '../api.js';
import { navigate, href } from '../router.js';
import { ProjectPick, useProjects } from '../widgets/projectpick.js';
import { parseBody, toYAML, toJSON, yamlReady } from '../widgets/yaml.js';

const pp = (pid) => `/v1/projects/${encodeURIComponent(pid)}/policies`;

const TEMPLATE = `slug: web-to-db
display_name: Web to database
selector:
  source: role=web
  destination: role=db
rules:
  - {action: allow, protocol: tcp, source_cidr: 0.0.0.0/0, destination_cidr: 0.0.0.0/0, ports: {from: 5432, to: 5432}}
tests:
  - {from: role=web, to: role=db, protocol: tcp, port: 5432, expect: allow}
`;

function PoliciesPage({ query }) {
  const projects = useProjects();
  const pid = query.project_id || '';
  return html`<div>
    <${PageHeader} title="Policies">
      <${ProjectPick} route="#/policies" projectID=${pid} projects=${projects.data} />
      ${pid && html`<a class="btn btn-primary" href=${`#/projects/${pid}/policies/new`} data-testid="policy-create">New Policy</a>`}
    <//>
    <${ErrorBox} error=${projects.error} />
    ${!pid ? html`<p class="muted" data-testid="policies-choose">Choose a Project to see its network policies.</p>`
      : html`<${DataTable} path=${pp(pid)} testid="policies"
        onRow=${(p) => navigate(`#/projects/${pid}/policies/${p.id}`)}
        columns=${[
          { key: 'slug', label: 'Slug', render: (p) => html`<a href=${`#/projects/${pid}/policies/${p.id}`} data-testid="policy-link">${p.slug}</a>` },
          { key: 'display_name', label: 'Name', render: (p) => p.display_name || '—' },
          { key: 'head_revision_id', label: 'Head revision', render: (p) => html`<${Short} value=${p.head_revision_id} />` },
          { key: 'updated_at', label: 'Updated', render: (p) => fmtTime(p.updated_at) },
        ]} />`}
  </div>`;
}

// bodyOf is the editable part of a policy: what a create takes.
function bodyOf(p) {
  const h = p.head || {};
  const b = { slug: p.slug };
  if (p.display_name) b.display_name = p.display_name;
  b.selector = h.selector;
  b.rules = h.rules;
  if (h.tests?.length) b.tests = h.tests;
  return b;
}

// Problem shows a failed save or dry-run: the detail and code, then every
// errors[] entry with its location.
function Problem({ error }) {
  if (!error) return null;
  const items = error.errors || [];
  return html`<div class="form-error" role="alert" data-testid="policy-error" data-code=${error.code || ''}>
    <div>${error.detail || error.message}${error.code && html` <span class="code">(${error.code})</span>`}</div>
    ${items.length > 0 && html`<ul data-testid="policy-error-list">${items.map((e) => html`<li data-testid="policy-error-item" data-location=${e.location || ''}>
      <span class="mono">${e.location || 'body'}</span>: ${e.message}</li>`)}</ul>`}
  </div>`;
}

function testLabel(t) {
  return `${t.from} → ${t.to} ${t.protocol}${t.port ? `/${t.port}` : ''} expect ${t.expect}`;
}

function TestResults({ results }) {
  if (!results) return null;
  if (results.length === 0) return html`<p class="muted" data-testid="policy-tests-none">The body carries no tests.</p>`;
  return html`<div class="table-wrap"><table class="data" data-testid="policy-test-results">
    <caption>Test results</caption>
    <thead><tr><th scope="col">#</th><th scope="col">Test</th><th scope="col">Result</th><th scope="col">Why</th></tr></thead>
    <tbody>${results.map((r) => html`<tr data-testid="policy-test-result" data-passed=${String(r.passed)}>
      <td>${r.index}</td><td class="mono">${testLabel(r.test)}</td>
      <td><${StatusBadge} status=${r.passed ? 'passed' : 'failed'} tone=${r.passed ? 'success' : 'danger'} /></td>
      <td>${r.message || (r.failures || []).map((f) => html`<div class="mono">${f.from_node_id.slice(0, 8)}… → ${f.to_node_id.slice(0, 8)}…: got ${f.got}</div>`)}</td>
    </tr>`)}</tbody></table></div>`;
}

function ruleText(r) {
  const ports = r.ports ? ` ${r.ports.from}${r.ports.to !== r.ports.from ? `-${r.ports.to}` : ''}` : '';
  return `${r.action} ${r.protocol}${ports} ${r.source_cidr} → ${r.destination_cidr}${r.description ? ` (${r.description})` : ''}`;
}

// DiffView renders a rule diff (policy diff or a dry-run's rule_diff).
function DiffView({ diff, testid = 'policy-diff' }) {
  if (!diff) return null;
  const none = !diff.added?.length && !diff.removed?.length && !diff.modified?.length && !diff.selector_changed;
  return html`<div data-testid=${testid}>
    ${none && html`<p class="muted" data-testid=${`${testid}-none`}>No change.</p>`}
    ${diff.selector_changed && html`<p data-testid=${`${testid}-selector`}>Selector:
      <span class="mono">${diff.selector_changed.before.source} → ${diff.selector_changed.before.destination}</span> became
      <span class="mono">${diff.selector_changed.after.source} → ${diff.selector_changed.after.destination}</span></p>`}
    <ul class="stack">
      ${(diff.added || []).map((r) => html`<li data-testid=${`${testid}-added`}><${StatusBadge} status="added" tone="success" /> <span class="mono">${ruleText(r)}</span></li>`)}
      ${(diff.removed || []).map((r) => html`<li data-testid=${`${testid}-removed`}><${StatusBadge} status="removed" tone="danger" /> <span class="mono">${ruleText(r)}</span></li>`)}
      ${(diff.modified || []).map((m) => html`<li data-testid=${`${testid}-modified`}><${StatusBadge} status="modified" tone="warning" />
        <span class="mono">${ruleText(m.before)}</span> → <span class="mono">${ruleText(m.after)}</span></li>`)}
    </ul></div>`;
}

function DryRun({ result }) {
  if (!result) return null;
  return html`<${Card} title="Dry-run" testid="policy-dryrun">
    <${KV} testid="policy-dryrun-kv" items=${[
      ['Matched nodes', String(result.matched_node_ids.length)],
      ['Unreadable nodes', String(result.unreachable_node_ids.length)],
      ['Peer pairs affected', String(result.peer_pairs_affected)],
    ]} />
    <h3>Rule diff against the head</h3>
    <${DiffView} diff=${result.rule_diff} testid="policy-dryrun-diff" />
    ${result.node_changes?.length > 0 && html`<h3>Per node</h3><ul>${result.node_changes.map((c) => html`<li data-testid="policy-dryrun-node">
      <${Short} value=${c.node_id} />: +${c.gained.length} / −${c.removed.length} compiled rules</li>`)}</ul>`}
  <//>`;
}

// Editor waits for the YAML library, then shows the body editor.
function Editor(props) {
  const yaml = useLoad(() => yamlReady(), []);
  if (yaml.error) return html`<${ErrorBox} error=${yaml.error} />`;
  if (!yaml.data) return html`<${Spinner} label="Loading the editor" />`;
  return html`<${BodyEditor} ...${props} />`;
}

// BodyEditor edits a policy body. policy is null for a new one.
function BodyEditor({ pid, policy, onSaved }) {
  const [format, setFormat] = useState('yaml');
  const [text, setText] = useState(() => (policy ? toYAML(bodyOf(policy)) : TEMPLATE));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState('');
  const [tests, setTests] = useState(null);
  const [dry, setDry] = useState(null);
  useEffect(() => { if (policy) setText(format === 'yaml' ? toYAML(bodyOf(policy)) : toJSON(bodyOf(policy))); }, [policy?.head_revision_id]);

  const parsed = () => {
    try { return parseBody(text); } catch (e) { setError({ code: 'invalid_body', detail: e.message, errors: [] }); return null; }
  };
  const switchTo = (f) => {
    if (f === format) return;
    try { const v = parseBody(text); setText(f === 'yaml' ? toYAML(v) : toJSON(v)); setFormat(f); setError(null); } catch (e) {
      setError({ code: 'invalid_body', detail: `Fix the body before switching: ${e.message}`, errors: [] });
    }
  };
  const run = async (what, fn) => {
    setError(null);
    const b = parsed();
    if (!b) return;
    setBusy(what);
    try { await fn(b); } catch (e) { setError(e); } finally { setBusy(''); }
  };
  const save = () => run('save', async (b) => {
    let p;
    if (!policy) {
      p = await post(pp(pid), b);
    } else {
      const { slug, ...rest } = b;
      p = await patch(`${pp(pid)}/${policy.id}`, { ...rest, tests: b.tests || [], expected_revision_id: policy.head_revision_id });
    }
    toast(`Policy ${p.slug} saved: revision ${p.head_revision_id.slice(0, 8)}`, 'success');
    setTests(null);
    onSaved(p);
  });
  const dryRun = (onlyTests) => run(onlyTests ? 'tests' : 'dry', async (b) => {
    const r = await post(`${pp(pid)}/${policy.id}/dry-run`, { selector: b.selector, rules: b.rules, tests: b.tests });
    setTests(r.test_results || []);
    if (!onlyTests) setDry(r);
  });
  const onKey = (e) => { if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); save(); } };
  return html`<${Card} title=${policy ? 'Edit the policy' : 'Body'} testid="policy-editor">
    <div class="row" role="group" aria-label="Body format">
      <${Button} size="sm" variant=${format === 'yaml' ? 'primary' : 'default'} aria-pressed=${format === 'yaml'} onClick=${() => switchTo('yaml')} data-testid="policy-format-yaml">YAML<//>
      <${Button} size="sm" variant=${format === 'json' ? 'primary' : 'default'} aria-pressed=${format === 'json'} onClick=${() => switchTo('json')} data-testid="policy-format-json">JSON<//>
    </div>
    <div class="field">
      <label for="policy-body">Policy (${format.toUpperCase()}): slug, display_name, selector, rules, tests</label>
      <textarea id="policy-body" rows="18" spellcheck="false" value=${text} onInput=${(e) => setText(e.target.value)} onKeyDown=${onKey}
        aria-invalid=${error ? 'true' : undefined} aria-describedby="policy-body-hint" data-testid="policy-body"></textarea>
      <span class="hint" id="policy-body-hint">Tests run on save: a failing test keeps the revision from landing. Ctrl+S saves.</span>
    </div>
    <${Problem} error=${error} />
    <div class="form-actions">
      ${policy && html`<${Button} onClick=${() => dryRun(true)} disabled=${!!busy} data-testid="policy-run-tests">${busy === 'tests' && html`<${Spinner} />`} Run tests<//>
        <${Button} onClick=${() => dryRun(false)} disabled=${!!busy} data-testid="policy-dry-run">${busy === 'dry' && html`<${Spinner} />`} Dry-run<//>`}
      <${Button} variant="primary" onClick=${save} disabled=${!!busy} data-testid="policy-save">${busy === 'save' && html`<${Spinner} />`} ${policy ? 'Save revision' : 'Create policy'}<//>
    </div>
    <${TestResults} results=${tests} />
  <//>
  <${DryRun} result=${dry} />`;
}

function NewPolicyPage({ params }) {
  return html`<div>
    <${PageHeader} title="New policy">
      <a class="btn" href=${href('#/policies', { project_id: params.pid })}>All policies</a>
    <//>
    <${Editor} pid=${params.pid} policy=${null} onSaved=${(p) => navigate(`#/projects/${params.pid}/policies/${p.id}`)} />
  </div>`;
}

function Revisions({ pid, policy, reload, onShow }) {
  return html`<${Card} title="Revisions" testid="policy-revisions-card">
    <${DataTable} path=${`${pp(pid)}/${policy.id}/revisions`} testid="policy-revisions" reload=${reload} rowKey="id"
      onRow=${onShow}
      columns=${[
        { key: 'id', label: 'Revision', render: (r) => html`<span data-testid="policy-revision-id"><${Short} value=${r.id} /></span>${r.id === policy.head_revision_id && html` <${StatusBadge} status="head" tone="info" />`}` },
        { key: 'created_at', label: 'Created', render: (r) => fmtTime(r.created_at) },
        { key: 'created_by', label: 'By', render: (r) => html`<span class="mono">${r.created_by}</span>` },
        { key: 'rules', label: 'Rules', render: (r) => String(r.rules.length) },
        { key: 'tests', label: 'Tests', render: (r) => String(r.tests?.length || 0) },
      ]} />
  <//>`;
}

function Diff({ pid, policy, reload }) {
  const revs = useLoad(() => list(`${pp(pid)}/${policy.id}/revisions`, { limit: 200 }).then((p) => p.items), [policy.head_revision_id, reload]);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [diff, setDiff] = useState(null);
  const [error, setError] = useState(null);
  const items = revs.data || [];
  const f = from || items[1]?.id || '';
  const t = to || items[0]?.id || '';
  const show = async (e) => {
    e.preventDefault();
    setError(null);
    try { setDiff(await get(`${pp(pid)}/${policy.id}/diff`, { from_revision: f, to_revision: t })); } catch (x) { setError(x); setDiff(null); }
  };
  const opts = items.map((r) => html`<option value=${r.id}>${r.id.slice(0, 8)}… ${fmtTime(r.created_at)}</option>`);
  return html`<${Card} title="Diff" testid="policy-diff-card">
    ${items.length < 2 ? html`<p class="muted" data-testid="policy-diff-single">One revision so far: nothing to compare.</p>`
      : html`<form class="filters" onSubmit=${show}>
        <label class="filter">From<select value=${f} onChange=${(e) => setFrom(e.target.value)} data-testid="policy-diff-from">${opts}</select></label>
        <label class="filter">To<select value=${t} onChange=${(e) => setTo(e.target.value)} data-testid="policy-diff-to">${opts}</select></label>
        <${Button} type="submit" data-testid="policy-diff-show">Compare<//>
      </form>`}
    <${ErrorBox} error=${error || revs.error} />
    <${DiffView} diff=${diff} />
  <//>`;
}

function PolicyPage({ params }) {
  const { pid, id } = params;
  const { data: p, error, loading, reload } = useLoad(() => get(`${pp(pid)}/${encodeURIComponent(id)}`), [pid, id]);
  const [rev, setRev] = useState(null);
  const [confirm, setConfirm] = useState(false);
  const [n, setN] = useState(0);
  if (loading && !p) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title="Policy" /><${ErrorBox} error=${error} />`;
  const remove = async () => {
    try {
      await del(`${pp(pid)}/${p.id}`);
      toast(`Policy ${p.slug} deleted`, 'success');
      navigate('#/policies', { project_id: pid });
    } catch (e) { toast(e.detail || e.message, 'danger'); setConfirm(false); }
  };
  return html`<div data-testid="policy-detail" data-id=${p.id}>
    <${PageHeader} title=${p.display_name || p.slug}>
      <a class="btn" href=${href('#/policies', { project_id: pid })} data-testid="policy-back">All policies</a>
      <${Button} variant="danger" onClick=${() => setConfirm(true)} data-testid="policy-delete">Delete<//>
    <//>
    <${Card}><${KV} testid="policy-kv" items=${[
      ['Slug', html`<span class="mono">${p.slug}</span>`],
      ['Head revision', html`<span class="mono" data-testid="policy-head">${p.head_revision_id}</span>`],
      ['Selector', html`<span class="mono">${p.head?.selector.source} → ${p.head?.selector.destination}</span>`],
      ['Tests', String(p.head?.tests?.length || 0)],
      ['Updated', fmtTime(p.updated_at)],
    ]} /><//>
    <${Editor} pid=${pid} policy=${p} onSaved=${() => { reload(); setN((x) => x + 1); }} />
    <${Revisions} pid=${pid} policy=${p} reload=${n} onShow=${async (r) => {
      try { setRev(await get(`${pp(pid)}/${p.id}/revisions/${r.id}`)); } catch (e) { toast(e.detail || e.message, 'danger'); }
    }} />
    <${Diff} pid=${pid} policy=${p} reload=${n} />
    <${Dialog} open=${!!rev} title=${rev ? `Revision ${rev.id.slice(0, 8)}…` : ''} onClose=${() => setRev(null)} testid="policy-revision-dialog">
      ${rev && html`<${CodeBlock} lang="yaml" code=${toYAML({ selector: rev.selector, rules: rev.rules, tests: rev.tests || [] })} testid="policy-revision-body" />`}
    <//>
    <${Dialog} open=${confirm} title="Delete this policy?" onClose=${() => setConfirm(false)} testid="policy-delete-dialog">
      <p>Every revision goes with it; its nodes fall back to the Domain's default.</p>
      <div class="form-actions"><${Button} onClick=${() => setConfirm(false)}>Cancel<//>
        <${Button} variant="danger" onClick=${remove} data-testid="policy-delete-confirm">Delete<//></div>
    <//>
  </div>`;
}

export const routes = [
  { path: '#/policies', title: 'Policies', nav: 'Policies', component: PoliciesPage },
  { path: '#/projects/{pid}/policies/new', title: 'New policy', component: NewPolicyPage, navParent: '#/policies' },
  { path: '#/projects/{pid}/policies/{id}', title: 'Policy', component: PolicyPage, navParent: '#/policies' },
];
