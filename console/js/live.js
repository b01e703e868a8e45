// Live values: one MQTT over WebSocket connection (MQTT.js, served by the
// server as vendor/mqtt.min.js) with the logged-in user's credentials, so
// the same security rules apply as for any MQTT client.

import { credentials } from './api.js';

let loading = null;
let client = null;
const listeners = new Set(); // (topic, value, packet) => void
const stateListeners = new Set();
let state = 'off';

function loadMqtt() {
  if (window.mqtt) return Promise.resolve(window.mqtt);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = 'vendor/mqtt.min.js';
      s.onload = () => (window.mqtt ? resolve(window.mqtt)
        : reject(new Error('MQTT.js did not load')));
      s.onerror = () => { loading = null; reject(new Error('MQTT.js is not installed with this server')); };
      document.head.append(s);
    });
  }
  return loading;
}

function setState(s, detail) {
  state = s;
  for (const fn of stateListeners) fn(s, detail);
}

export function liveState() { return state; }
export function onLiveState(fn) { stateListeners.add(fn); fn(state); return () => stateListeners.delete(fn); }
export function onLiveMessage(fn) { listeners.add(fn); return () => listeners.delete(fn); }

// A message's payload as a value: JSON when its content type says so and
// it parses, text when it is UTF-8 (numbers of int64 and double topics
// too), otherwise "<n bytes>".
export function decodePayload(payload, packet) {
  const props = (packet && packet.properties) || {};
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return { type: 'binary', value: `<${payload.length} bytes>` };
  }
  if (props.contentType === 'application/json') {
    try { return { type: 'json', value: JSON.parse(text) }; } catch { /* text */ }
  }
  return { type: 'string', value: text };
}

let pending = null;

// The connection, made on first use (one at a time).
export function connectLive() {
  if (client) return Promise.resolve(client);
  if (!pending) pending = connect().finally(() => { pending = null; });
  return pending;
}

async function connect() {
  setState('connecting');
  let mqtt;
  try {
    mqtt = await loadMqtt();
  } catch (e) {
    setState('unavailable', e.message);
    throw e;
  }
  let settings = { mqtt_path: '/mqtt' };
  try {
    settings = await (await fetch('settings.json', { cache: 'no-store' })).json();
  } catch { /* the default path */ }
  const c = credentials();
  if (!c) { setState('off'); throw new Error('logged out'); }
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${settings.mqtt_path}`;
  const opts = {
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 3000,
    connectTimeout: 10000,
    clientId: 'castor-console-' + Math.random().toString(16).slice(2, 10),
  };
  if (c.name) opts.username = c.name;
  if (c.password) opts.password = c.password;
  client = mqtt.connect(url, opts);
  client.on('connect', () => setState('connected'));
  client.on('reconnect', () => setState('connecting'));
  client.on('close', () => { if (state !== 'off' && state !== 'refused') setState('disconnected'); });
  client.on('error', (e) => {
    // Refused credentials (bad user name or password, not authorized):
    // trying again would only count as more failed logins.
    if (e && (e.code === 134 || e.code === 135 || e.code === 4 || e.code === 5)) {
      setState('refused', e.message);
      const refused = client;
      client = null;
      if (refused) refused.end(true);
      return;
    }
    setState('error', e.message);
  });
  client.on('message', (topic, payload, packet) => {
    for (const fn of listeners) fn(topic, decodePayload(payload, packet), packet);
  });
  return client;
}

export async function subscribe(filters) {
  const c = await connectLive();
  if (!filters.length) return;
  return new Promise((resolve, reject) => {
    c.subscribe(filters, { qos: 0 }, (err, granted) => (err ? reject(err) : resolve(granted)));
  });
}

export function unsubscribe(filters) {
  if (client && filters.length) client.unsubscribe(filters);
}

export function disconnectLive() {
  setState('off');
  listeners.clear();
  if (!client) return;
  client.end(true);
  client = null;
}
