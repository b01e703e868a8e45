// MQTT.js over WebSocket: ws:// and wss:// at /mqtt, MQTT 5 and 3.1.1,
// QoS 0/1/2, TLS 1.2 and 1.3 for wss, an untrusted server refused by the
// client, and a client that sends an oversized frame closed alone.
// Certificates are made at test time (transport_util.py, openssl command).
// Prints one line per case and "N passed, N failed"; exits 1 on failure.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startServer, isMosquitto } from './castor_server.mjs';

let mqtt;
try {
  mqtt = (await import('mqtt')).default;
} catch (e) {
  console.log('MQTT.js is not installed: run npm install in tests/integration (scripts/setup.sh does)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

if (isMosquitto) {
  console.log('SKIP  every case (Castor listener configuration)');
  console.log('0 passed, 0 failed');
  process.exit(0);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const pkiDir = fs.mkdtempSync(path.join(os.tmpdir(), 'castor-pki-js-'));
process.on('exit', () => fs.rmSync(pkiDir, { recursive: true, force: true }));
const pki = JSON.parse(execFileSync('/usr/bin/python3',
  [path.join(here, 'transport_util.py'), pkiDir], { encoding: 'utf8' }));
const ca = fs.readFileSync(pki['ca.pem']);

const TIMEOUT = 5000;
const cases = [];
const test = (name, fn) => cases.push({ name, fn });

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

function assertEq(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, expected ${w}`);
}

async function client(url, opts) {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: TIMEOUT, ...opts });
  c.inbox = [];
  c.waiters = [];
  c.on('message', (topic, payload, packet) => {
    const m = { topic, payload: payload.toString(), qos: packet.qos };
    const w = c.waiters.shift();
    if (w) w(m); else c.inbox.push(m);
  });
  c.next = (what = 'message') => {
    if (c.inbox.length) return Promise.resolve(c.inbox.shift());
    return withTimeout(new Promise((res) => c.waiters.push(res)), TIMEOUT, what);
  };
  await withTimeout(new Promise((res, rej) => {
    c.once('connect', res);
    c.once('error', rej);
  }), TIMEOUT, 'connect');
  return c;
}

const LISTENERS = [
  { name: 'ws', transport: 'ws', max_packet_size: 65536,
    websocket: { path: '/mqtt', max_frame_size: 4096 } },
  { name: 'wss', transport: 'wss', tls: { cert_file: pki['server.pem'], key_file: pki['server.key'] } },
];

async function pubSubEveryQos(subUrl, pubUrl, opts, tag) {
  const sub = await client(subUrl, { ...opts, clientId: `js-sub-${tag}` });
  const pub = await client(pubUrl, { ...opts, clientId: `js-pub-${tag}` });
  try {
    await sub.subscribeAsync(`js/${tag}/#`, { qos: 2 });
    for (const qos of [0, 1, 2]) {
      await pub.publishAsync(`js/${tag}/q${qos}`, `m${qos}`, { qos });
      const m = await sub.next(`qos ${qos} message`);
      assertEq([m.topic, m.payload, m.qos], [`js/${tag}/q${qos}`, `m${qos}`, qos], 'message');
    }
  } finally {
    await sub.endAsync();
    await pub.endAsync();
  }
}

for (const version of [5, 4]) {
  test(`ws_pub_sub_every_qos_v${version}`, async (srv) => {
    const url = `ws://127.0.0.1:${srv.ports.ws}/mqtt`;
    await pubSubEveryQos(url, url, { protocolVersion: version }, `ws${version}`);
  });
}

for (const tls of ['TLSv1.2', 'TLSv1.3']) {
  test(`wss_pub_sub_every_qos_${tls}`, async (srv) => {
    const url = `wss://127.0.0.1:${srv.ports.wss}/mqtt`;
    const opts = { protocolVersion: 5, wsOptions: { ca, minVersion: tls, maxVersion: tls } };
    await pubSubEveryQos(url, url, opts, `wss${tls.slice(-1)}`);
  });
}

test('ws_to_tcp_and_back', async (srv) => {
  // A subscriber over wss, a publisher over ws, and one on plain TCP.
  const wss = `wss://127.0.0.1:${srv.ports.wss}/mqtt`;
  const ws = `ws://127.0.0.1:${srv.ports.ws}/mqtt`;
  const sub = await client(wss, { protocolVersion: 5, ca });
  const pubWs = await client(ws, { protocolVersion: 4 });
  const pubTcp = await client(srv.url, { protocolVersion: 5 });
  try {
    await sub.subscribeAsync('mix/+', { qos: 1 });
    await pubWs.publishAsync('mix/ws', 'from ws', { qos: 1 });
    await pubTcp.publishAsync('mix/tcp', 'from tcp', { qos: 1 });
    const got = [await sub.next(), await sub.next()].map((m) => m.payload).sort();
    assertEq(got, ['from tcp', 'from ws'], 'payloads');
  } finally {
    for (const c of [sub, pubWs, pubTcp]) await c.endAsync();
  }
});

test('wss_untrusted_server_is_refused_by_the_client', async (srv) => {
  const url = `wss://127.0.0.1:${srv.ports.wss}/mqtt`;
  let err = null;
  try {
    const c = await client(url, { protocolVersion: 5 }); // no CA: untrusted
    await c.endAsync();
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error('connected to a server signed by an unknown CA');
});

test('oversized_frame_closes_only_that_client', async (srv) => {
  const url = `ws://127.0.0.1:${srv.ports.ws}/mqtt`;
  const sub = await client(url, { protocolVersion: 5, clientId: 'js-stays' });
  const big = await client(url, { protocolVersion: 5, clientId: 'js-big' });
  try {
    await sub.subscribeAsync('size/#', { qos: 1 });
    const closed = new Promise((res) => big.once('close', res));
    big.publish('size/big', 'x'.repeat(5000), { qos: 0 }); // frame over 4096 bytes
    await withTimeout(closed, TIMEOUT, 'close of the oversized sender');
    const pub = await client(url, { protocolVersion: 5 });
    await pub.publishAsync('size/small', 'fits', { qos: 1 });
    const m = await sub.next('message after the oversized frame');
    assertEq([m.topic, m.payload], ['size/small', 'fits'], 'message');
    await pub.endAsync();
  } finally {
    await sub.endAsync();
    big.end(true);
  }
});

const only = process.argv.slice(2);
let passed = 0;
let failed = 0;
console.log(`broker under test: castor (${process.env.CASTOR_BIN})`);
for (const c of cases) {
  if (only.length && !only.some((o) => c.name.includes(o))) continue;
  const t0 = Date.now();
  let srv;
  let error = null;
  try {
    srv = await startServer({ listeners: LISTENERS });
    await withTimeout(c.fn(srv), 30000, 'case');
  } catch (e) {
    error = e.message;
  }
  if (srv) {
    // The server must not crash, hang at shutdown, exit non-zero or print
    // a sanitizer report (castor_server.mjs).
    const problems = await srv.stop();
    if (problems.length) error = [error, ...problems].filter((x) => x !== null).join('\n      ');
  }
  const dt = ((Date.now() - t0) / 1000).toFixed(2);
  if (error === null) {
    console.log(`PASS  ${c.name} (${dt}s)`);
    passed++;
  } else {
    console.log(`FAIL  ${c.name} (${dt}s): ${error}`);
    if (srv) console.log(srv.log().split('\n').slice(-20).map((l) => '      ' + l).join('\n'));
    failed++;
  }
  if (srv) srv.remove();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
