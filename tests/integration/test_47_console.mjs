// The web console (/console/) in a real browser: headless Chromium from
// Debian driven by playwright-core, against the real server with a security
// store. Logs in (refused and accepted), watches the overview's rates move
// while messages arrive, watches a topic's value change live (MQTT.js over
// WebSocket) while mosquitto_pub publishes, adds and removes a topic,
// closes a mosquitto_sub client's session and sees it vanish. Screenshots
// go to CASTOR_ARTIFACTS_DIR/console (the build folder's
// artifacts/console under CTest).
// Prints one line per case and "N passed, N failed"; exits 1 on failure.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startServer, isMosquitto } from './castor_server.mjs';

const CHROMIUM = process.env.CASTOR_CHROMIUM || '/usr/bin/chromium';
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.log('playwright-core is not installed: run npm install in tests/integration (scripts/setup.sh does)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log(`no Chromium at ${CHROMIUM}: apt-get install chromium (scripts/setup.sh does)`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
if (isMosquitto) {
  console.log('SKIP  every case (the console is Castor\'s)');
  console.log('0 passed, 0 failed');
  process.exit(0);
}

const ARTIFACTS = path.join(process.env.CASTOR_ARTIFACTS_DIR
  || path.join(os.tmpdir(), 'castor-artifacts'), 'console');
fs.mkdirSync(ARTIFACTS, { recursive: true });

// The example store of docs/security.md (admin: ADMINISTRATOR, sensor-1:
// DEVICE); anonymous clients are refused.
const ADMIN = { name: 'admin', password: 'admin-example-password' };
const STORE = `principals:
  admin:
    password: "pbkdf2-sha256$100000$YQy1BVNqbXs//09t1qHmwg==$5KWif2GT6G3ozGUJ5lsC2GSyvsrfuo9hg501mfFkyJs="
    roles: [ADMINISTRATOR]
  sensor-1:
    password: "pbkdf2-sha256$100000$0r6tEKawTFL/iGzv8ScKPA==$QOOmyCMwZbgnUGpKIoT0E7BLg1sWurAuekmB/8mOUEA="
    roles: [DEVICE]
roles:
  CLIENT:
    default_path: [SELECT_TOPIC, READ_TOPIC]
  DEVICE:
    includes: [CLIENT]
    paths:
      devices: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
  ADMINISTRATOR:
    global: [VIEW_SESSION, VIEW_SERVER, MODIFY_SESSION, CONTROL_SERVER,
             VIEW_SECURITY, MODIFY_SECURITY]
    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]
anonymous:
  allow: false
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TIMEOUT = 10000;

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

async function start() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'castor-console-store-'));
  const store = path.join(dir, 'store.yaml');
  fs.writeFileSync(store, STORE);
  const srv = await startServer({
    listeners: [{ name: 'http', transport: 'http' }],
    extraConfig: ['security:', `  store_file: ${store}`, '  anonymous: store',
      '  failed_login_threshold: 100'].join('\n'),
  });
  srv.base = `http://127.0.0.1:${srv.ports.http}`;
  srv.storeDir = dir;
  return srv;
}

// A REST call from the test itself (not the browser), as admin.
async function rest(srv, method, p, body) {
  const res = await fetch(srv.base + '/api/v1' + p, {
    method,
    headers: {
      Authorization: 'Basic ' + Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64'),
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await res.json(); } catch { /* none */ }
  return { status: res.status, json };
}

// Whether the server has the REST API's endpoint (not the router's "no API
// endpoint" 404).
async function hasRest(srv, p) {
  const r = await rest(srv, 'GET', p);
  return !(r.status === 404 && r.json && r.json.error
           && /no API endpoint|not implemented/i.test(r.json.error.message || ''));
}

function mosquittoPub(srv, topic, message) {
  const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(srv.port), '-V', 'mqttv5',
    '-u', ADMIN.name, '-P', ADMIN.password, '-q', '1', '-t', topic, '-m', message],
  { encoding: 'utf8', timeout: TIMEOUT });
  if (r.status !== 0) throw new Error(`mosquitto_pub failed (${r.status}): ${r.stderr}`);
}

let browser;
async function openConsole(srv, t) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => {
    // Failed requests the cases cause on purpose (401, 404) are not errors
    // of the page; a script error or a CSP refusal is.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.errors.push(m.text());
  });
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(srv.base + '/console/');
  t.cleanup.push(() => context.close());
  return page;
}

async function login(page, name, password) {
  await page.fill('#login-name', name);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function noPageErrors(page) {
  if (page.errors.length) throw new Error(`errors in the page: ${page.errors.join(' | ')}`);
}

const cases = [];
const test = (name, fn) => cases.push({ name, fn });

test('files: index, modules, MQTT.js, content types, cache headers, 404', async (srv) => {
  let res = await fetch(srv.base + '/console', { redirect: 'manual' });
  if (res.status !== 301 || res.headers.get('location') !== '/console/') {
    throw new Error(`/console: ${res.status} to ${res.headers.get('location')}`);
  }
  const expect = [
    ['/console/', 'text/html; charset=utf-8', '<title>Castor console</title>'],
    ['/console/js/app.js', 'text/javascript; charset=utf-8', 'import'],
    ['/console/console.css', 'text/css; charset=utf-8', ':root'],
    ['/console/vendor/mqtt.min.js', 'text/javascript; charset=utf-8', 'mqtt'],
  ];
  for (const [p, type, text] of expect) {
    res = await fetch(srv.base + p);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${p}: status ${res.status}`);
    if (res.headers.get('content-type') !== type) throw new Error(`${p}: content type ${res.headers.get('content-type')}`);
    if (res.headers.get('cache-control') !== 'no-cache') throw new Error(`${p}: cache control ${res.headers.get('cache-control')}`);
    if (!body.includes(text)) throw new Error(`${p}: body lacks ${text}`);
    const etag = res.headers.get('etag');
    const again = await fetch(srv.base + p, { headers: { 'If-None-Match': etag } });
    if (again.status !== 304) throw new Error(`${p}: ${again.status} for If-None-Match ${etag}, expected 304`);
  }
  res = await fetch(srv.base + '/console/no-such-file.js');
  if (res.status !== 404) throw new Error(`a missing file: status ${res.status}`);
  res = await fetch(srv.base + '/console/', { method: 'POST' });
  if (res.status !== 405) throw new Error(`POST: status ${res.status}`);
});

test('refused login shows an error and no page', async (srv, t) => {
  if (!(await hasRest(srv, '/sessions'))) { t.skip = 'the REST API has no /sessions yet'; return; }
  const page = await openConsole(srv, t);
  await login(page, ADMIN.name, 'wrong-password');
  await page.waitForSelector('#login-error:not([hidden])');
  const text = await page.textContent('#login-error');
  if (!/refused/.test(text)) throw new Error(`login error: ${text}`);
  if (!(await page.isHidden('#nav'))) throw new Error('the navigation shows after a refused login');
  const stored = await page.evaluate(() => sessionStorage.getItem('castor.console.credentials'));
  if (stored !== null) throw new Error('refused credentials were kept');
  await shot(page, 'login-refused');
  noPageErrors(page);
});

test('login, overview updates every second from /metrics with message rates', async (srv, t) => {
  const page = await openConsole(srv, t);
  await login(page, ADMIN.name, ADMIN.password);
  await page.waitForSelector('#nav:not([hidden])');
  const who = await page.textContent('#who');
  if (!who.includes('admin')) throw new Error(`header says ${who}`);
  // Publishes every 100 ms while the page shows a rate above 0.
  let publishing = true;
  const pub = (async () => {
    while (publishing) { mosquittoPub(srv, 'console/rate', 'x'); await sleep(100); }
  })();
  try {
    await page.waitForFunction(() => {
      const v = Number(document.getElementById('m-rate-in').textContent);
      return v > 0;
    }, null, { timeout: TIMEOUT });
  } finally {
    publishing = false;
    await pub;
  }
  const scrapes = Number(await page.getAttribute('#overview-status', 'data-scrapes'));
  await page.waitForFunction((n) => Number(document.getElementById('overview-status').dataset.scrapes) >= n + 2,
    scrapes, { timeout: 3500 });
  await shot(page, 'overview');
  noPageErrors(page);
});

test('topic value changes live while mosquitto_pub publishes', async (srv, t) => {
  const page = await openConsole(srv, t);
  await login(page, ADMIN.name, ADMIN.password);
  await page.click('a[data-page=topics]');
  await page.fill('#topics-selector', 'console/live/#');
  await page.click('#topics-fetch');
  // The console's MQTT.js client has subscribed (then no publish is lost).
  await page.waitForSelector('#topic-tree[data-live="console/live/#"]', { state: 'attached' });
  const state = await page.textContent('#live-state');
  if (state !== 'live: connected') throw new Error(`live state: ${state}`);
  const val = '.val[data-path="console/live/temp"]';
  mosquittoPub(srv, 'console/live/temp', '21.5');
  await page.waitForFunction((s) => document.querySelector(s)?.textContent === '21.5', val);
  mosquittoPub(srv, 'console/live/temp', '22.75');
  await page.waitForFunction((s) => document.querySelector(s)?.textContent === '22.75', val);
  mosquittoPub(srv, 'console/live/other', '{"a":1}');
  await page.waitForSelector('.val[data-path="console/live/other"]');
  // Still the latest value.
  const text = await page.textContent(val);
  if (text !== '22.75') throw new Error(`value ${text} after another topic's publish`);
  await shot(page, 'topics-live');
  noPageErrors(page);
});

test('add a topic and remove it', async (srv, t) => {
  if (!(await hasRest(srv, '/topics?selector=%23'))) { t.skip = 'the REST API has no /topics yet'; return; }
  const page = await openConsole(srv, t);
  await login(page, ADMIN.name, ADMIN.password);
  await page.click('a[data-page=topics]');
  await page.fill('#topics-selector', 'console/#');
  await page.click('#topics-fetch');
  await page.fill('#topic-add-path', 'console/added/count');
  await page.selectOption('#topic-add-type', 'int64');
  await page.fill('#topic-add-value', '41');
  await page.click('#topic-add');
  await page.waitForFunction(() => /Added/.test(document.getElementById('topics-status').textContent));
  const node = '.node[data-path="console/added/count"]';
  await page.waitForSelector(`${node} .type:text("int64")`);
  let r = await rest(srv, 'GET', '/topics?selector=console%2Fadded%2Fcount');
  const got = r.json && r.json.topics && r.json.topics[0];
  if (!got || got.type !== 'int64' || got.value !== 41) throw new Error(`fetched ${JSON.stringify(r.json)}`);
  await shot(page, 'topics-added');
  // Update from the page, then remove.
  await page.click(node);
  await page.fill('#topic-update-value', '42');
  await page.click('#topic-update');
  await page.waitForFunction(() => /Updated/.test(document.getElementById('topics-status').textContent));
  r = await rest(srv, 'GET', '/topics?selector=console%2Fadded%2Fcount');
  if (r.json.topics[0].value !== 42) throw new Error(`after the update: ${JSON.stringify(r.json)}`);
  await page.click('#topic-remove');
  await page.waitForSelector(node, { state: 'detached' });
  r = await rest(srv, 'GET', '/topics?selector=console%2Fadded%2Fcount');
  if (!r.json || (r.json.topics || []).length !== 0) throw new Error(`after removal: ${JSON.stringify(r.json)}`);
  noPageErrors(page);
});

test('close a mosquitto_sub session and see it vanish', async (srv, t) => {
  if (!(await hasRest(srv, '/sessions'))) { t.skip = 'the REST API has no /sessions yet'; return; }
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(srv.port), '-V', 'mqttv5',
    '-i', 'console-victim', '-u', ADMIN.name, '-P', ADMIN.password, '-t', 'console/victim'],
  { stdio: 'ignore' });
  let exited = false;
  sub.on('exit', () => { exited = true; });
  t.cleanup.push(() => { if (!exited) sub.kill('SIGKILL'); });
  // Subscribed (so that its details list the subscription).
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const r = await rest(srv, 'GET', '/sessions/console-victim');
    if (((r.json && r.json.session && r.json.session.subscriptions) || []).length) break;
    if (Date.now() > deadline) throw new Error(`not subscribed: ${JSON.stringify(r.json)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  const page = await openConsole(srv, t);
  await login(page, ADMIN.name, ADMIN.password);
  await page.click('a[data-page=sessions]');
  const row = 'tr[data-client-id="console-victim"]';
  await page.waitForSelector(row);
  const sessionId = await page.getAttribute(row, 'data-session-id');
  // Its details: properties and subscriptions.
  await page.click(`${row} td`);
  await page.waitForSelector('#session-properties');
  const props = await page.textContent('#session-properties');
  if (!props.includes('console-victim')) throw new Error(`properties: ${props}`);
  await page.waitForSelector('#session-subscriptions');
  const subs = await page.textContent('#session-subscriptions');
  if (!subs.includes('console/victim')) throw new Error(`subscriptions: ${subs}`);
  await shot(page, 'sessions');
  await page.click(`${row} button.close`);
  await page.waitForSelector(`tr[data-session-id="${sessionId}"]`, { state: 'detached' });
  await page.waitForFunction(() => /Closed/.test(document.getElementById('sessions-status').textContent));
  const r = await rest(srv, 'GET', '/sessions?filter=' + encodeURIComponent(`$SessionId is '${sessionId}'`));
  if ((r.json.sessions || []).length !== 0) throw new Error(`still listed: ${JSON.stringify(r.json)}`);
  await shot(page, 'sessions-closed');
  noPageErrors(page);
});

test('publish form: a mosquitto_sub client receives the message', async (srv, t) => {
  if (!(await hasRest(srv, '/publish'))) { t.skip = 'the REST API has no /publish yet'; return; }
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(srv.port), '-V', 'mqttv5',
    '-u', ADMIN.name, '-P', ADMIN.password, '-t', 'console/published', '-F', '%t %p']);
  let out = '';
  sub.stdout.on('data', (d) => { out += d; });
  t.cleanup.push(() => sub.kill('SIGKILL'));
  // Subscribed once a marker published after it starts arrives.
  const deadline = Date.now() + TIMEOUT;
  while (!out.includes('marker')) {
    if (Date.now() > deadline) throw new Error('mosquitto_sub did not subscribe');
    mosquittoPub(srv, 'console/published', 'marker');
    await sleep(200);
  }
  const page = await openConsole(srv, t);
  await login(page, ADMIN.name, ADMIN.password);
  await page.click('a[data-page=publish]');
  await page.fill('#publish-topic', 'console/published');
  await page.fill('#publish-payload', 'hello from the console');
  await page.selectOption('#publish-qos', '1');
  await page.click('#publish-send');
  await page.waitForFunction(() => /Published/.test(document.getElementById('publish-status').textContent));
  while (!out.includes('console/published hello from the console')) {
    if (Date.now() > deadline + TIMEOUT) throw new Error(`mosquitto_sub got: ${out}`);
    await sleep(50);
  }
  await shot(page, 'publish');
  noPageErrors(page);
});

test('security page: principals and roles; add and remove a principal', async (srv, t) => {
  if (!(await hasRest(srv, '/principals'))) { t.skip = 'the REST API has no /principals yet'; return; }
  const page = await openConsole(srv, t);
  await login(page, ADMIN.name, ADMIN.password);
  await page.click('a[data-page=security]');
  await page.waitForSelector('#principals-table tr[data-name="sensor-1"]');
  await page.waitForSelector('#roles-table tr[data-name="DEVICE"]');
  await page.fill('#principal-name', 'console-user');
  await page.fill('#principal-password', 'console-password');
  await page.fill('#principal-roles', 'DEVICE');
  await page.click('#principal-save');
  await page.waitForSelector('#principals-table tr[data-name="console-user"]');
  let r = await rest(srv, 'GET', '/principals');
  const added = (r.json.principals || []).find((p) => p.name === 'console-user');
  if (!added || JSON.stringify(added.roles) !== '["DEVICE"]') throw new Error(`principals: ${JSON.stringify(r.json)}`);
  await shot(page, 'security');
  await page.click('#principals-table tr[data-name="console-user"] button');
  await page.waitForSelector('#principals-table tr[data-name="console-user"]', { state: 'detached' });
  r = await rest(srv, 'GET', '/principals');
  if ((r.json.principals || []).some((p) => p.name === 'console-user')) throw new Error('still a principal');
  noPageErrors(page);
});

const only = process.argv.slice(2);
let passed = 0;
let failed = 0;
console.log(`broker under test: castor (${process.env.CASTOR_BIN}); screenshots in ${ARTIFACTS}`);
browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
for (const c of cases) {
  if (only.length && !only.some((o) => c.name.includes(o))) continue;
  const t0 = Date.now();
  const t = { cleanup: [], skip: null };
  let srv;
  let error = null;
  try {
    srv = await start();
    await withTimeout(c.fn(srv, t), 60000, 'case');
  } catch (e) {
    error = e.message;
  }
  for (const fn of t.cleanup.reverse()) { try { await fn(); } catch { /* gone */ } }
  if (srv) {
    const problems = await srv.stop();
    if (problems.length) error = [error, ...problems].filter((x) => x !== null).join('\n      ');
  }
  const dt = ((Date.now() - t0) / 1000).toFixed(2);
  if (error === null && t.skip) {
    console.log(`SKIP  ${c.name}: ${t.skip}`);
  } else if (error === null) {
    console.log(`PASS  ${c.name} (${dt}s)`);
    passed++;
  } else {
    console.log(`FAIL  ${c.name} (${dt}s): ${error}`);
    if (srv) console.log(srv.log().split('\n').slice(-20).map((l) => '      ' + l).join('\n'));
    failed++;
  }
  if (srv) { srv.remove(); fs.rmSync(srv.storeDir, { recursive: true, force: true }); }
}
await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
