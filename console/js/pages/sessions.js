// Sessions: the sessions a session filter selects (GET /api/v1/sessions),
// refreshed every 2 seconds while "auto" is on; a session's properties and
// subscriptions (GET /api/v1/sessions/{id}); close one (DELETE).

import { api } from '../api.js';
import { h, clear, statusLine } from '../dom.js';

const COLUMNS = [
  ['$ClientId', 'Client id'], ['$Principal', 'Principal'], ['$Transport', 'Transport'],
  ['$Listener', 'Listener'], ['$ClientIP', 'Address'], ['$Connected', 'Connected'],
];

function started(props) {
  const ms = Number(props.$StartTime);
  return ms ? new Date(ms).toLocaleString() : '';
}

// A session's subscriptions as sessions/get lists them: a filter (or a
// selector of topics/subscribe) with its QoS and MQTT 5 options.
const RETAIN_HANDLING = ['send', 'send if new', 'do not send'];

function yesNo(b) {
  return b ? 'yes' : 'no';
}

function subscriptionsTable(subs) {
  if (!Array.isArray(subs)) return h('p', { class: 'hint' }, 'The server does not list them.');
  if (!subs.length) return h('p', { class: 'hint', id: 'session-subscriptions-none' }, 'None.');
  return h('table', { id: 'session-subscriptions' },
    h('thead', {}, h('tr', {}, ['Filter', 'QoS', 'No local', 'Retain as published',
      'Retain handling', 'Subscription id'].map((l) => h('th', {}, l)))),
    h('tbody', {}, subs.map((x) => h('tr', {},
      h('td', { class: 'mono' }, x.filter !== undefined ? x.filter
        : `${x.selector} (selector${x.delta ? ', deltas' : ''})`),
      h('td', {}, String(x.qos ?? '')),
      h('td', {}, yesNo(x.no_local)),
      h('td', {}, yesNo(x.retain_as_published)),
      h('td', {}, RETAIN_HANDLING[x.retain_handling] ?? String(x.retain_handling ?? '')),
      h('td', {}, x.subscription_id !== undefined ? String(x.subscription_id) : '')))));
}

export function render(el) {
  const filter = h('input', { id: 'sessions-filter', class: 'mono', value: 'all' });
  const auto = h('input', { id: 'sessions-auto', type: 'checkbox', checked: true });
  const status = statusLine('sessions-status');
  const body = h('tbody');
  const table = h('table', { id: 'sessions-table' },
    h('thead', {}, h('tr', {}, COLUMNS.map(([, l]) => h('th', {}, l)), h('th', {}, 'Started'), h('th'))),
    body);
  const detail = h('div', { class: 'card', id: 'session-detail', hidden: true });
  const count = h('p', { class: 'hint', id: 'sessions-count' });
  let selected = null; // session id
  let busy = false;

  el.append(h('h1', {}, 'Sessions'),
    h('form', { class: 'row', id: 'sessions-form' },
      h('label', { class: 'grow' }, 'Filter', filter),
      h('button', { id: 'sessions-list', type: 'submit' }, 'List'),
      h('label', {}, auto, ' refresh every 2 s')),
    status,
    h('div', { class: 'card' }, table, count),
    detail);

  // A session in the API's paths: by its client id (GET and DELETE
  // /api/v1/sessions/{client id}); by its session id when it has none.
  async function withSession(s, fn) {
    const cid = s.properties && s.properties.$ClientId;
    return fn(encodeURIComponent(cid || s.id));
  }

  let sessions = [];
  async function list(quiet) {
    if (busy) return;
    busy = true;
    try {
      const f = filter.value.trim() || 'all';
      const r = await api.get(`/sessions?filter=${encodeURIComponent(f)}`);
      sessions = r.sessions || [];
      clear(body);
      for (const s of sessions) {
        const p = s.properties || {};
        body.append(h('tr', {
          class: 'clickable' + (s.id === selected ? ' selected' : ''),
          dataset: { sessionId: s.id, clientId: p.$ClientId || '' },
          onclick: () => { selected = s.id; show(s); list(true); },
        },
        COLUMNS.map(([k]) => h('td', { class: k === '$ClientId' ? 'mono' : '' }, p[k] ?? '')),
        h('td', {}, started(p)),
        h('td', {}, h('button', {
          class: 'danger close', type: 'button',
          onclick: (ev) => { ev.stopPropagation(); close(s); },
        }, 'Close'))));
      }
      count.textContent = `${sessions.length} session${sessions.length === 1 ? '' : 's'}${r.more ? ' (more match: narrow the filter)' : ''}.`;
      if (!quiet) status.reset();
      if (selected && !sessions.some((s) => s.id === selected)) {
        selected = null;
        detail.hidden = true;
      }
    } catch (e) {
      status.fail(`List failed: ${e.code}: ${e.message}`);
    } finally {
      busy = false;
    }
  }

  async function show(s) {
    let full = s;
    try {
      const r = await withSession(s, (id) => api.get(`/sessions/${id}`));
      full = r.session || s;
    } catch (e) {
      status.fail(`Cannot read the session: ${e.code}: ${e.message}`);
    }
    clear(detail);
    detail.hidden = false;
    const p = full.properties || {};
    detail.append(
      h('h2', {}, 'Session ', h('code', {}, full.id || s.id)),
      h('table', { id: 'session-properties' }, h('tbody', {},
        Object.keys(p).sort().map((k) => h('tr', {}, h('th', { class: 'mono' }, k), h('td', { class: 'mono' }, p[k]))))),
      h('h2', {}, 'Subscriptions'),
      subscriptionsTable(full.subscriptions),
      h('div', { class: 'row' }, h('button', {
        class: 'danger', id: 'session-close', type: 'button', onclick: () => close(full),
      }, 'Close the session')));
  }

  async function close(s) {
    const name = (s.properties && s.properties.$ClientId) || s.id;
    try {
      const r = await withSession(s, (id) => api.del(`/sessions/${id}`));
      status.ok(r.offline ? `${name} is offline: left as it is.` : `Closed ${name}.`);
      if (selected === s.id) { selected = null; detail.hidden = true; }
      await list(true);
    } catch (e) {
      status.fail(`Close failed: ${e.code}: ${e.message}`);
    }
  }

  el.querySelector('#sessions-form').addEventListener('submit', (ev) => { ev.preventDefault(); list(); });
  list();
  const timer = setInterval(() => { if (auto.checked) list(true); }, 2000);
  return () => clearInterval(timer);
}
