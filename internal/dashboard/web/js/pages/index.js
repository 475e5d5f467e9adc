// pages/index.js: the page modules, in navigation order. Each exports
// `routes` ([{path, title, nav?, component, public?, bare?}]). Page
// authors add ONE line per area to this list, nothing else.
const modules = [
  './signin.js',
  './domains.js',
  './projects.js',
  './resources.js',
  './nodes.js',
  './labels.js',
  './bootstrap.js',
  './identities.js',
  './groups.js',
  './idp.js',
  './tokens.js',
  './serviceids.js',
  './invitations.js',
  './device.js',
  './policies.js',
  './secrets.js',
  './sessions.js',
  './executions.js',
  './metrics.js',
  './logs.js',
  './alerts.js',
  './incidents.js',
  './audit.js',
  './design.js',
];

// The modules load in parallel (the page preloads them all) and the
// dashboard does not wait for all of them: a route renders as soon as the
// module defining it and every module before it in this list have loaded
// (an earlier module could define a route that matches first). A module
// that fails to load costs its own pages only (and logs a console error,
// which fails the browser tests).
const loaded = modules.map(() => null);
const subs = new Set();
let state = { stable: [], all: [], done: false };
let queued = false;

function update() {
  const stable = [];
  let i = 0;
  for (; i < loaded.length && loaded[i]; i++) stable.push(...loaded[i]);
  state = { stable, all: loaded.flatMap((r) => r || []), done: i === loaded.length };
  // One notification for the modules that load in the same burst.
  if (!queued) {
    queued = true;
    setTimeout(() => { queued = false; subs.forEach((fn) => fn()); });
  }
}

modules.forEach((m, i) => {
  import(m).then((mod) => { loaded[i] = mod.routes || []; }, (err) => {
    console.error(`dashboard: page module ${m} failed to load:`, err);
    loaded[i] = [];
  }).then(update);
});

// loadedRoutes returns the routes known so far: stable (those of the
// modules loaded without a gap from the first: what a location may be
// matched against), all (for the navigation), and done (every module
// has loaded: a location no route matches is not found).
export function loadedRoutes() { return state; }

// onRoutes calls fn whenever more routes are known; it returns the
// function that stops it.
export function onRoutes(fn) {
  subs.add(fn);
  return () => subs.delete(fn);
}
