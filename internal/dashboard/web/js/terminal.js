// The browser terminal (web/terminal.html?project_id=…&session_id=…): an
// ssh session issued with terminal, opened over the API's WebSocket
// (GET …/sessions/{session_id}/terminal, see internal/access/terminal.go)
// and drawn by xterm.js. Binary messages carry input and output; a text
// message {"type":"resize",cols,rows} follows the window's size. The
// session's token admits one connection: a closed terminal is not
// reopened, a new session is issued.
import { Terminal } from '../vendor/xterm/xterm.mjs';
import { FitAddon } from '../vendor/xterm/addon-fit.mjs';
import { get, socket } from './api.js';

const params = new URLSearchParams(location.search);
const pid = params.get('project_id') || '';
const sid = params.get('session_id') || '';
const path = `/v1/projects/${encodeURIComponent(pid)}/sessions/${encodeURIComponent(sid)}`;
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

function status(state, text) {
  const el = $('terminal-status');
  el.dataset.state = state;
  el.textContent = text;
}

// closedText says why the socket closed: the server's reason when it gave
// one (1000: the shell ended; 1008: the session was revoked or expired).
function closedText(e) {
  if (e.code === 1008) return ['ended', `Session ended: ${e.reason || 'revoked or expired'}`];
  if (e.code === 1000) return ['closed', `Closed: ${e.reason || 'the shell exited'}`];
  return ['failed', 'Disconnected'];
}

async function main() {
  $('terminal-back').href = `./#/projects/${encodeURIComponent(pid)}/sessions/${encodeURIComponent(sid)}`;
  let s;
  try {
    s = await get(path);
  } catch (err) {
    if (err.status === 401) {
      status('failed', 'Not signed in: sign in to the dashboard, then open the terminal again.');
    } else {
      status('failed', err.detail || err.message);
    }
    return;
  }
  $('terminal-title').textContent = `${s.target?.ssh?.user || ''}@${(s.node_id || '').slice(0, 8)} · session ${s.id.slice(0, 8)}`;
  document.title = `${$('terminal-title').textContent} · plexsphere`;
  if (s.status !== 'active') {
    status('ended', `The session is ${s.status}.`);
    return;
  }
  if (s.kind !== 'ssh' || !s.terminal) {
    status('failed', 'This session was not issued for the browser terminal: use plexctl ssh, or issue one with "Browser terminal".');
    return;
  }
  const css = getComputedStyle(document.documentElement);
  const term = new Terminal({
    cursorBlink: true, convertEol: false, scrollback: 5000,
    fontFamily: css.getPropertyValue('--font-mono').trim() || 'monospace', fontSize: 14,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open($('terminal-screen'));
  fit.fit();
  const ws = socket(`${path}/terminal`, { cols: term.cols, rows: term.rows });
  const enc = new TextEncoder();
  let opened = false;
  ws.onopen = () => {
    opened = true;
    status('open', 'Connected');
    term.focus();
  };
  ws.onmessage = (e) => {
    if (e.data instanceof ArrayBuffer) term.write(new Uint8Array(e.data));
  };
  ws.onclose = (e) => {
    if (!opened) {
      status('failed', 'The terminal did not open: the session may be in use already, or its node is not reachable.');
      return;
    }
    const [state, text] = closedText(e);
    status(state, text);
    term.options.disableStdin = true;
  };
  const send = (data) => { if (ws.readyState === WebSocket.OPEN) ws.send(data); };
  term.onData((d) => send(enc.encode(d)));
  term.onBinary((d) => send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
  term.onResize(({ cols, rows }) => send(JSON.stringify({ type: 'resize', cols, rows })));
  addEventListener('resize', () => fit.fit());
}

main();
