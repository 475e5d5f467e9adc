// ui.js: the design system's components (tokens in ../css/tokens.css,
// styles in ../css/app.css; documented with live examples at #/design).
// Pages build only from these. Every element a browser test needs carries
// a stable data-testid.
import { html, createContext, useState, useEffect, useRef, useContext, useId, useCallback } from './lib.js';
import { list as apiList, stepUp } from './api.js';

export * from './lib.js';

// ---- Button, Spinner, StatusBadge, EmptyState ------------------------------

// Button: variant primary|danger|ghost|default, size sm; type defaults to
// "button" (a submit button says type="submit").
export function Button({ variant = 'default', size, type = 'button', class: cls = '', children, ...rest }) {
  const c = ['btn', variant !== 'default' && `btn-${variant}`, size && `btn-${size}`, cls].filter(Boolean).join(' ');
  return html`<button type=${type} class=${c} ...${rest}>${children}</button>`;
}

// Spinner: a busy indicator with an accessible label.
export function Spinner({ label = 'Loading' }) {
  return html`<span class="spinner" role="status" aria-label=${label} data-testid="spinner"></span>`;
}

const toneOf = {
  online: 'success', active: 'success', ok: 'success', succeeded: 'success', direct: 'success', ready: 'success',
  relayed: 'warning', pending: 'warning', degraded: 'warning', expiring: 'warning',
  offline: 'danger', down: 'danger', denied: 'danger', failed: 'danger', revoked: 'danger', error: 'danger',
};

// StatusBadge shows a status word; tone (success|warning|danger|info|
// neutral) defaults from well-known statuses.
export function StatusBadge({ status, tone, testid }) {
  const t = tone || toneOf[String(status).toLowerCase()] || 'neutral';
  return html`<span class=${`badge badge-${t}`} data-testid=${testid || 'status-badge'} data-status=${status}>${status}</span>`;
}

// EmptyState: what a list shows when it has nothing, with an optional
// action (e.g. a create button).
export function EmptyState({ title = 'Nothing here yet', children, action, testid = 'empty-state' }) {
  return html`<div class="empty" data-testid=${testid}><h2>${title}</h2>${children && html`<p>${children}</p>`}${action}</div>`;
}

// PageHeader: the page's h1 and its actions.
export function PageHeader({ title, children }) {
  return html`<div class="page-header"><h1 data-testid="page-title">${title}</h1>${children}</div>`;
}

// Card: a surface.
export function Card({ title, narrow, children, testid }) {
  return html`<section class=${narrow ? 'card narrow' : 'card'} data-testid=${testid}>${title && html`<h2>${title}</h2>`}${children}</section>`;
}

// KV: a definition list of [label, value] pairs.
export function KV({ items, testid }) {
  return html`<dl class="kv" data-testid=${testid}>${items.map(([k, v]) => html`<dt>${k}</dt><dd data-testid=${testid && `${testid}-${k}`}>${v}</dd>`)}</dl>`;
}

// ---- Toasts ------------------------------------------------------------------

const toastSubs = new Set();
let toastSeq = 0;

// toast shows a transient message (tone info|success|danger) for ms.
export function toast(message, tone = 'info', ms = 5000) {
  const t = { id: ++toastSeq, message, tone };
  toastSubs.forEach((fn) => fn((list) => [...list, t]));
  setTimeout(() => toastSubs.forEach((fn) => fn((list) => list.filter((x) => x.id !== t.id))), ms);
}

// Toasts renders the live region toasts appear in (the Shell has one).
export function Toasts() {
  const [items, setItems] = useState([]);
  useEffect(() => { toastSubs.add(setItems); return () => toastSubs.delete(setItems); }, []);
  return html`<div class="toasts" role="status" aria-live="polite" data-testid="toasts">
    ${items.map((t) => html`<div class=${`toast toast-${t.tone}`} data-testid="toast" key=${t.id}>
      <span class="msg">${t.message}</span>
      <${Button} variant="ghost" size="sm" aria-label="Dismiss" onClick=${() => setItems((l) => l.filter((x) => x.id !== t.id))}>✕<//>
    </div>`)}
  </div>`;
}

// ---- Clipboard ---------------------------------------------------------------

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

// ---- CodeBlock ---------------------------------------------------------------

// CodeBlock shows YAML/JSON/shell text with a copy button. code may be
// an object (shown as JSON); wrap breaks long lines.
export function CodeBlock({ code, lang = 'text', title, wrap, testid = 'code-block' }) {
  const text = typeof code === 'string' ? code : JSON.stringify(code, null, 2);
  const [copied, setCopied] = useState(false);
  const copy = async () => { setCopied(await copyText(text)); };
  return html`<div class=${wrap ? 'code wrap' : 'code'} data-testid=${testid}>
    <div class="code-bar"><span>${title || lang}</span><span class="spacer"></span>
      <${Button} size="sm" variant="ghost" onClick=${copy} data-testid=${`${testid}-copy`}>${copied ? 'Copied' : 'Copy'}<//></div>
    <pre tabindex="0" aria-label=${title || `${lang} code`}><code class=${`lang-${lang}`}>${text}</code></pre>
  </div>`;
}

// ---- SecretReveal ------------------------------------------------------------

// SecretReveal shows a secret once: the value is visible until the user
// copies it or dismisses it, then it is dropped from memory and cannot be
// shown again (the server never returns it twice either).
export function SecretReveal({ value, label = 'Secret', onDone, testid = 'secret-reveal' }) {
  const [secret, setSecret] = useState(value);
  const [copied, setCopied] = useState(false);
  if (!secret) {
    return html`<div class="secret" data-testid=${testid} data-state="gone"><p>${label} was shown once and is gone. Issue a new one if it was lost.</p></div>`;
  }
  const copy = async () => { setCopied(await copyText(secret)); };
  const done = () => { setSecret(''); onDone && onDone(); };
  return html`<div class="secret" data-testid=${testid} data-state="shown">
    <strong>${label}</strong> — copy it now; it will not be shown again.
    <code class="secret-value" data-testid=${`${testid}-value`}>${secret}</code>
    <div class="secret-actions">
      <${Button} variant="primary" size="sm" onClick=${copy} data-testid=${`${testid}-copy`}>${copied ? 'Copied' : 'Copy'}<//>
      <${Button} size="sm" onClick=${done} data-testid=${`${testid}-done`}>I have stored it<//>
    </div></div>`;
}

// ---- Dialog ------------------------------------------------------------------

// Dialog is a modal <dialog>: focus moves into it, Escape closes it, focus
// returns to where it was.
export function Dialog({ open, title, onClose, children, testid = 'dialog' }) {
  const ref = useRef(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  const cancel = (e) => { e.preventDefault(); onClose && onClose(); };
  return html`<dialog ref=${ref} class="dialog" aria-labelledby=${titleId} onCancel=${cancel} data-testid=${testid}>
    ${open && html`<div class="dialog-header"><h2 id=${titleId}>${title}</h2>
      <${Button} variant="ghost" size="sm" aria-label="Close" onClick=${() => onClose && onClose()} data-testid=${`${testid}-close`}>✕<//></div>
    <div class="dialog-body">${children}</div>`}
  </dialog>`;
}

// ---- Form + Field ------------------------------------------------------------

const FormCtx = createContext({ errors: {}, values: {}, set: () => {} });

// fieldErrors maps a problem's errors[].location ("body.name",
// "body.labels.env", "query.limit") to field names ("name",
// "labels.env", "limit").
export function fieldErrors(err) {
  const out = {};
  for (const e of err?.errors || []) {
    const loc = String(e.location || '').replace(/^(body|query|path|header)\.?/, '');
    if (loc && !out[loc]) out[loc] = e.message || 'invalid';
  }
  return out;
}

// Form holds field values, calls onSubmit(values) and shows its
// problem+json failure inline: field errors next to their fields (from
// errors[].location), the rest above the buttons.
export function Form({ initial = {}, onSubmit, submitLabel = 'Save', onCancel, children, testid = 'form' }) {
  const [values, setValues] = useState(initial);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = useCallback((name, v) => setValues((o) => ({ ...o, [name]: v })), []);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      await onSubmit(values);
    } catch (x) {
      setErr(x);
    } finally {
      setBusy(false);
    }
  };
  const errors = fieldErrors(err);
  const unplaced = err && Object.keys(errors).length === 0;
  return html`<${FormCtx.Provider} value=${{ errors, values, set }}>
    <form class="form" onSubmit=${submit} data-testid=${testid} novalidate>
      ${children}
      ${err && html`<div class="form-error" role="alert" data-testid=${`${testid}-error`} data-code=${err.code || ''}>
        ${err.detail || err.message}${err.code && html` <span class="code">(${err.code})</span>`}
        ${!unplaced && Object.keys(errors).length > 0 && html` — see the fields marked below.`}<${StepUp} error=${err} /></div>`}
      <div class="form-actions">
        ${onCancel && html`<${Button} onClick=${onCancel} data-testid=${`${testid}-cancel`}>Cancel<//>`}
        <${Button} type="submit" variant="primary" disabled=${busy} data-testid=${`${testid}-submit`}>${busy ? html`<${Spinner} label="Saving" />` : ''} ${submitLabel}<//>
      </div>
    </form>
  <//>`;
}

// Field is a labelled input bound to its Form by name. type text|number|
// textarea|select (options [[value,label]]|[value]); hint is shown below.
export function Field({ name, label, type = 'text', hint, options = [], required, placeholder, autofocus }) {
  const { errors, values, set } = useContext(FormCtx);
  const id = useId();
  const error = errors[name];
  const v = values[name] ?? '';
  const common = {
    id, name, required, placeholder, autofocus,
    'aria-invalid': error ? 'true' : undefined,
    'aria-describedby': [hint && `${id}-hint`, error && `${id}-err`].filter(Boolean).join(' ') || undefined,
    'data-testid': `field-${name}`,
    onInput: (e) => set(name, type === 'number' ? (e.target.value === '' ? undefined : Number(e.target.value)) : e.target.value),
  };
  let control;
  if (type === 'textarea') control = html`<textarea ...${common} value=${v}></textarea>`;
  else if (type === 'select') {
    control = html`<select ...${common} value=${v} onChange=${common.onInput}>
      ${options.map((o) => { const [val, lab] = Array.isArray(o) ? o : [o, o]; return html`<option value=${val}>${lab}</option>`; })}
    </select>`;
  } else control = html`<input ...${common} type=${type} value=${v} />`;
  return html`<div class="field">
    <label for=${id}>${label}${required && html` <span aria-hidden="true">*</span>`}</label>
    ${control}
    ${hint && html`<span class="hint" id=${`${id}-hint`}>${hint}</span>`}
    ${error && html`<span class="field-error" id=${`${id}-err`} data-testid=${`field-error-${name}`}>${error}</span>`}
  </div>`;
}

// ---- DataTable ---------------------------------------------------------------

// DataTable lists a cursor-paged /v1 collection: server-side paging with
// "Load more" (next_cursor) and server-side filters (each a query
// parameter). columns: [{key, label, render?(item)}]. filters: [{name,
// label, type?: text|select, options?}]. params are fixed query parameters.
// reload: change it to refetch. onRow(item) makes rows clickable.
export function DataTable({ path, params = {}, columns, filters = [], onRow, rowKey = 'id', caption, empty, limit = 50, reload, testid = 'table', load }) {
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState('');
  const [state, setState] = useState('loading');
  const [error, setError] = useState(null);
  const [filter, setFilter] = useState({});
  const [applied, setApplied] = useState({});
  const fetchPage = (from) => (load ? load({ ...params, ...applied, limit, cursor: from }) : apiList(path, { ...params, ...applied, limit, cursor: from }));
  const key = JSON.stringify([path, params, applied, reload]);
  useEffect(() => {
    let live = true;
    setState('loading');
    setError(null);
    fetchPage('').then((p) => { if (live) { setItems(p.items); setCursor(p.next_cursor); setState('ready'); } })
      .catch((e) => { if (live) { setError(e); setState('error'); } });
    return () => { live = false; };
  }, [key]);
  const more = async () => {
    setState('more');
    try {
      const p = await fetchPage(cursor);
      setItems((l) => [...l, ...p.items]);
      setCursor(p.next_cursor);
      setState('ready');
    } catch (e) {
      setError(e);
      setState('error');
    }
  };
  const apply = (e) => { e.preventDefault(); setApplied({ ...filter }); };
  return html`<div data-testid=${testid}>
    ${filters.length > 0 && html`<form class="filters" onSubmit=${apply} data-testid=${`${testid}-filters`} role="search">
      ${filters.map((f) => html`<label class="filter">${f.label}
        ${f.type === 'select'
          ? html`<select name=${f.name} value=${filter[f.name] || ''} onChange=${(e) => setFilter({ ...filter, [f.name]: e.target.value })} data-testid=${`filter-${f.name}`}>
              ${(f.options || []).map((o) => { const [val, lab] = Array.isArray(o) ? o : [o, o || 'any']; return html`<option value=${val}>${lab}</option>`; })}</select>`
          : html`<input name=${f.name} value=${filter[f.name] || ''} placeholder=${f.placeholder || ''} onInput=${(e) => setFilter({ ...filter, [f.name]: e.target.value })} data-testid=${`filter-${f.name}`} />`}
      </label>`)}
      <${Button} type="submit" data-testid=${`${testid}-apply`}>Filter<//>
    </form>`}
    ${state === 'error' && html`<div class="form-error" role="alert" data-testid=${`${testid}-error`}>${error?.detail || error?.message}${error?.code && ` (${error.code})`}</div>`}
    ${state === 'loading' && html`<${Spinner} />`}
    ${state !== 'loading' && items.length === 0 && state !== 'error' && (empty || html`<${EmptyState} testid=${`${testid}-empty`} />`)}
    ${items.length > 0 && html`<div class="table-wrap"><table class="data">
      ${caption && html`<caption>${caption}</caption>`}
      <thead><tr>${columns.map((c) => html`<th scope="col">${c.label}</th>`)}</tr></thead>
      <tbody>${items.map((it) => html`<tr key=${it[rowKey]} class=${onRow ? 'clickable' : ''} data-testid=${`${testid}-row`} data-id=${it[rowKey]}
          tabindex=${onRow ? 0 : undefined} onClick=${onRow && (() => onRow(it))}
          onKeyDown=${onRow && ((e) => { if (e.key === 'Enter') onRow(it); })}>
        ${columns.map((c) => html`<td>${c.render ? c.render(it) : String(it[c.key] ?? '')}</td>`)}</tr>`)}</tbody>
    </table></div>`}
    <div class="table-footer">
      <span class="muted" data-testid=${`${testid}-count`}>${items.length} shown</span>
      ${cursor && html`<${Button} onClick=${more} disabled=${state === 'more'} data-testid=${`${testid}-more`}>Load more<//>`}
    </div>
  </div>`;
}

// ---- Theme -----------------------------------------------------------------

const THEME_KEY = 'plexsphere.theme';

// applyTheme sets the stored theme (light|dark|'' = system) on <html>.
export function applyTheme(t = localStorage.getItem(THEME_KEY) || '') {
  if (t) document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
  dispatchEvent(new Event('plexsphere-theme'));
}

// ThemeToggle cycles system → light → dark.
export function ThemeToggle() {
  const [t, setT] = useState(localStorage.getItem(THEME_KEY) || '');
  const next = { '': 'light', light: 'dark', dark: '' }[t];
  const click = () => { if (next) localStorage.setItem(THEME_KEY, next); else localStorage.removeItem(THEME_KEY); applyTheme(next); setT(next); };
  return html`<${Button} variant="ghost" size="sm" onClick=${click} data-testid="theme-toggle" aria-label=${`Theme: ${t || 'system'}; switch to ${next || 'system'}`}>Theme: ${t || 'system'}<//>`;
}

// ---- Shell + Nav -------------------------------------------------------------

// Nav lists the routes that have a nav label; current is the matched route.
export function Nav({ routes, current }) {
  return html`<nav class="shell-nav" aria-label="Main" data-testid="nav"><ul>
    ${routes.filter((r) => r.nav).map((r) => html`<li><a href=${r.path} data-testid=${`nav-${r.nav.toLowerCase().replace(/\W+/g, '-')}`}
      aria-current=${current && (current === r || current.navParent === r.path) ? 'page' : undefined}>${r.nav}</a></li>`)}
  </ul></nav>`;
}

// Shell is the layout: skip link, header (brand, user, theme, sign out),
// navigation and the main region.
export function Shell({ routes, current, user, onSignOut, children }) {
  return html`<div class="shell">
    <a class="skip-link" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header class="shell-header">
      <a class="brand" href="#/">plexsphere</a>
      <span class="spacer"></span>
      ${user && !user.pending && html`<span class="muted" data-testid="whoami">${user.email || user.subject}</span>`}
      <${ThemeToggle} />
      ${user && html`<${Button} size="sm" onClick=${onSignOut} data-testid="sign-out">Sign out<//>`}
    </header>
    <${Nav} routes=${routes} current=${current} />
    <main id="main" class="shell-main" tabindex="-1" data-testid="main">${children}</main>
    <${Toasts} />
  </div>`;
}

// ---- Helpers for pages -------------------------------------------------------

// useLoad runs fn (async) when deps change: {data, error, loading,
// refreshing, reload}. A change of deps shows loading; a reload keeps the
// data on screen while it runs (refreshing, not loading), so a page that
// shows a spinner while loading does not blank out under an open dialog
// or the button a user is about to click.
export function useLoad(fn, deps = []) {
  const [s, setS] = useState({ data: null, error: null, loading: true, refreshing: false });
  const [n, setN] = useState(0);
  const last = useRef(null);
  useEffect(() => {
    let live = true;
    const same = last.current && last.current.length === deps.length && deps.every((d, i) => Object.is(d, last.current[i]));
    last.current = deps;
    setS((o) => (same && o.data !== null ? { ...o, refreshing: true } : { ...o, loading: true }));
    fn().then((data) => live && setS({ data, error: null, loading: false, refreshing: false }))
      .catch((error) => live && setS({ data: null, error, loading: false, refreshing: false }));
    return () => { live = false; };
  }, [...deps, n]);
  return { ...s, reload: () => setN((x) => x + 1) };
}

// StepUp offers re-authentication for a 401 step_up_required.
export function StepUp({ error }) {
  if (error?.code !== 'step_up_required') return null;
  return html` <${Button} size="sm" variant="primary" onClick=${() => stepUp(error).catch((e) => toast(e.detail || e.message, 'danger'))}
    data-testid="step-up">Re-authenticate<//>`;
}

// ErrorBox shows an API error (with re-authentication for step-up).
export function ErrorBox({ error, testid = 'error' }) {
  if (!error) return null;
  return html`<div class="form-error" role="alert" data-testid=${testid} data-code=${error.code || ''}>${error.detail || error.message}${error.code && html` <span class="code">(${error.code})</span>`}<${StepUp} error=${error} /></div>`;
}

// fmtTime renders an RFC 3339 instant in the browser's locale.
export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}

// short abbreviates an id or hash for tables (full value in the title).
export function Short({ value, n = 8 }) {
  if (!value) return '';
  return html`<span class="mono" title=${value}>${value.length > n ? `${value.slice(0, n)}…` : value}</span>`;
}
