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
  './audit.js',
  './design.js',
];

// A module that fails to load costs its own pages only (and logs a console
// error, which fails the browser tests).
const loaded = await Promise.allSettled(modules.map((m) => import(m)));
export const routes = loaded.flatMap((r, i) => {
  if (r.status === 'fulfilled') return r.value.routes || [];
  console.error(`dashboard: page module ${modules[i]} failed to load:`, r.reason);
  return [];
});
