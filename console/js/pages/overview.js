// Overview: connections, sessions, message rates and drops from /metrics,
// fetched every second, with live charts of the last minute.

import { h } from '../dom.js';
import { LineChart, format } from '../chart.js';
import { parseMetrics, total, firstTotal } from '../metrics.js';

const TILES = [
  ['connections', 'Connections'],
  ['sessions-connected', 'Sessions connected'],
  ['sessions-offline', 'Sessions offline'],
  ['subscriptions', 'Subscriptions'],
  ['topics', 'Topics'],
  ['rate-in', 'Messages in /s'],
  ['rate-out', 'Messages out /s'],
  ['rate-dropped', 'Drops /s'],
  ['dropped', 'Drops in all'],
];

function read(samples) {
  return {
    connections: firstTotal(samples, ['castor_connections']),
    sessionsConnected: total(samples, 'castor_sessions', { state: 'connected' }),
    sessionsOffline: total(samples, 'castor_sessions', { state: 'offline' }),
    subscriptions: total(samples, 'castor_subscriptions'),
    topics: total(samples, 'castor_topics'),
    received: total(samples, 'castor_messages_received_total'),
    sent: total(samples, 'castor_messages_sent_total'),
    dropped: total(samples, 'castor_deliveries_dropped_total'),
    bytesIn: total(samples, 'castor_bytes_received_total'),
    bytesOut: total(samples, 'castor_bytes_sent_total'),
  };
}

function rate(now, before, key, seconds) {
  if (!before || now[key] === null || before[key] === null || seconds <= 0) return null;
  return Math.max(0, (now[key] - before[key]) / seconds);
}

export function render(el) {
  const values = {};
  const tiles = h('div', { class: 'tiles' }, TILES.map(([id, label]) => {
    values[id] = h('div', { class: 'value', id: `m-${id}` }, '—');
    return h('div', { class: 'tile' }, h('div', { class: 'label' }, label), values[id]);
  }));
  const chart = (title, series, id) => {
    const canvas = h('canvas', { id });
    const legend = h('div', { class: 'legend' },
      series.map((s) => h('span', {}, legendSwatch(s.color), s.label)));
    return { box: h('div', { class: 'card chart' }, h('h2', {}, title), canvas, legend), canvas };
  };
  const msg = chart('Messages per second', [
    { label: 'in', color: '#2b5797' }, { label: 'out', color: '#d9822b' }], 'chart-messages');
  const conn = chart('Connections and sessions', [
    { label: 'connections', color: '#2b5797' }, { label: 'sessions connected', color: '#1e7b34' }],
  'chart-connections');
  const drops = chart('Drops per second', [{ label: 'dropped', color: '#b3261e' }], 'chart-drops');
  const bytes = chart('Bytes per second', [
    { label: 'in', color: '#2b5797' }, { label: 'out', color: '#d9822b' }], 'chart-bytes');
  const status = h('p', { class: 'hint', id: 'overview-status' }, 'Reading /metrics…');
  el.append(h('h1', {}, 'Overview'), tiles,
    h('div', { class: 'charts' }, msg.box, conn.box, drops.box, bytes.box), status);

  const charts = {
    msg: new LineChart(msg.canvas, [{ color: '#2b5797' }, { color: '#d9822b' }]),
    conn: new LineChart(conn.canvas, [{ color: '#2b5797' }, { color: '#1e7b34' }]),
    drops: new LineChart(drops.canvas, [{ color: '#b3261e' }]),
    bytes: new LineChart(bytes.canvas, [{ color: '#2b5797' }, { color: '#d9822b' }]),
  };
  let before = null;
  let beforeAt = 0;
  let scrapes = 0;
  let stopped = false;

  async function tick() {
    let text;
    try {
      const res = await fetch('/metrics', { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      text = await res.text();
    } catch (e) {
      status.textContent = `Cannot read /metrics: ${e.message}`;
      status.className = 'hint error';
      return;
    }
    if (stopped) return;
    const now = read(parseMetrics(text));
    const at = performance.now();
    const secs = (at - beforeAt) / 1000;
    const r = {
      in: rate(now, before, 'received', secs),
      out: rate(now, before, 'sent', secs),
      dropped: rate(now, before, 'dropped', secs),
      bytesIn: rate(now, before, 'bytesIn', secs),
      bytesOut: rate(now, before, 'bytesOut', secs),
    };
    values.connections.textContent = format(now.connections);
    values['sessions-connected'].textContent = format(now.sessionsConnected);
    values['sessions-offline'].textContent = format(now.sessionsOffline);
    values.subscriptions.textContent = format(now.subscriptions);
    values.topics.textContent = format(now.topics);
    values['rate-in'].textContent = format(r.in);
    values['rate-out'].textContent = format(r.out);
    values['rate-dropped'].textContent = format(r.dropped);
    values.dropped.textContent = format(now.dropped);
    if (before) {
      charts.msg.push([r.in, r.out]);
      charts.conn.push([now.connections, now.sessionsConnected]);
      charts.drops.push([r.dropped]);
      charts.bytes.push([r.bytesIn, r.bytesOut]);
    }
    before = now;
    beforeAt = at;
    scrapes += 1;
    status.className = 'hint';
    status.textContent = `Updated every second from /metrics (${scrapes} reads).`;
    status.dataset.scrapes = String(scrapes);
  }

  tick();
  const timer = setInterval(tick, 1000);
  return () => { stopped = true; clearInterval(timer); };
}

function legendSwatch(color) {
  const i = h('i');
  i.style.background = color;
  return i;
}
