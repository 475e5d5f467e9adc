// router.js: hash routing. Routes are declared by page modules as
// { path: '#/domains/{id}', title, nav?, component, public? }; {name}
// segments become params. The query part of the hash (#/x?k=v) becomes
// query.
import { useState, useEffect } from './lib.js';

// compile turns '#/domains/{id}' into a matcher.
function compile(path) {
  const names = [];
  const src = path.replace(/^#/, '').split('/').map((seg) => {
    const m = /^\{(\w+)\}$/.exec(seg);
    if (m) { names.push(m[1]); return '([^/]+)'; }
    return seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  }).join('/');
  const re = new RegExp(`^${src}/?$`);
  return (p) => {
    const m = re.exec(p);
    if (!m) return null;
    const params = {};
    names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
    return params;
  };
}

// parse splits location.hash into the path and query.
export function parse(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const i = raw.indexOf('?');
  const path = i < 0 ? raw : raw.slice(0, i);
  const query = Object.fromEntries(new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)));
  return { path, query };
}

// match finds the route for the current hash.
export function match(routes, hash = location.hash) {
  const { path, query } = parse(hash);
  for (const r of routes) {
    r.match ||= compile(r.path);
    const params = r.match(path);
    if (params) return { route: r, params, query, path };
  }
  return { route: null, params: {}, query, path };
}

// href builds '#/path?query' from a path and query params (empty skipped).
export function href(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return (path.startsWith('#') ? path : `#${path}`) + (s ? `?${s}` : '');
}

// navigate goes to a hash route.
export function navigate(path, query) {
  location.hash = href(path, query);
}

// useHash re-renders on every hash change and returns location.hash.
export function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}
