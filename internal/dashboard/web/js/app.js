// app.js: boots the dashboard: theme, session (GET /v1/auth/whoami),
// hash routing over the routes of pages/index.js, and the Shell.
import { html, render, useState, useEffect, Shell, EmptyState, Spinner, applyTheme, toast } from './ui.js';
import { get, del, onUnauthenticated, hasSessionHint, forgetSession, setCurrentUser, RETURN_KEY } from './api.js';
import { match, useHash, navigate } from './router.js';
import { loadedRoutes, onRoutes } from './pages/index.js';

// PENDING is the user while whoami is on its way.
const PENDING = Object.freeze({ pending: true });

function NotFound() {
  return html`<${EmptyState} title="Page not found" testid="not-found">There is no page at this address. <a href="#/">Go home</a>.<//>`;
}

function App() {
  const hash = useHash();
  // With the session's CSRF cookie present the page renders at once and
  // whoami fills the user in alongside (no round trip before the first
  // page); without it, no session exists here, so there is nothing to ask
  // (and no 401 to log). A 401 anywhere signs the page out.
  const [user, setUser] = useState(hasSessionHint() ? PENDING : null);
  useEffect(() => {
    if (user === PENDING) get('/v1/auth/whoami').then((u) => { setCurrentUser(u); setUser(u); }).catch(() => setUser(null));
    return onUnauthenticated(() => setUser(null));
  }, []);
  // The page modules arrive after the first render: re-render as they do.
  const [, setKnown] = useState(0);
  useEffect(() => onRoutes(() => setKnown((x) => x + 1)), []);
  const { stable, all: routes, done } = loadedRoutes();
  const m = match(stable, hash);
  const route = m.route;
  useEffect(() => {
    document.title = route ? `${route.title} · plexsphere` : 'plexsphere';
  }, [route]);
  // Back from a sign-in: return to the page that asked for it.
  useEffect(() => {
    if (user && user !== PENDING && (m.path === '/' || m.path === '/sign-in')) {
      const back = sessionStorage.getItem(RETURN_KEY);
      sessionStorage.removeItem(RETURN_KEY);
      navigate(back && back !== '#/sign-in' ? back : '#/domains');
    }
  }, [user, m.path]);
  // Until the module of this location has loaded, a spinner (a location
  // no route matches is "not found" only once every module has).
  const waiting = html`<div class="bare"><${Spinner} label="Loading the page" /></div>`;
  if (!route && !done) return waiting;
  if (!user && !(route && route.public)) {
    const signIn = stable.find((r) => r.path === '#/sign-in');
    if (!signIn) return waiting;
    if (m.path !== '/' && m.path !== '/sign-in') sessionStorage.setItem(RETURN_KEY, location.hash);
    const Page = signIn.component;
    return html`<div class="bare"><${Page} params=${{}} query=${m.query} onSignedIn=${setUser} /></div>`;
  }
  const signOut = async () => {
    try {
      await del('/v1/auth/whoami');
    } catch (e) {
      toast(e.detail || e.message, 'danger');
    }
    forgetSession();
    setUser(null);
    navigate('#/sign-in');
  };
  const Page = route ? route.component : NotFound;
  if (route && route.bare) return html`<div class="bare"><${Page} params=${m.params} query=${m.query} user=${user} /></div>`;
  return html`<${Shell} routes=${routes} current=${route} user=${user} onSignOut=${signOut}>
    <${Page} key=${m.path} params=${m.params} query=${m.query} user=${user} />
  <//>`;
}

// Back from a sign-in (the IdP's callback lands on /ui/): return to the
// page that sent the browser there, before any route renders.
if (hasSessionHint() && (location.hash === '' || location.hash === '#/' || location.hash === '#')) {
  const back = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  if (back && back.startsWith('#/') && back !== '#/sign-in') history.replaceState(null, '', back);
}

applyTheme();
render(html`<${App} />`, document.getElementById('app'));
