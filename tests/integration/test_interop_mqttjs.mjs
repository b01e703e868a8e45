// Interoperability with MQTT.js: publish and subscribe at QoS 0/1/2 over TCP
// with MQTT 5 and 3.1.1, retained messages, and MQTT 5 properties; the
// payload mapping, `$delta/` subscriptions followed with fast-json-patch (an
// independent JSON Patch implementation) and time series events.
// Prints one line per case and "N passed, N failed"; exits 1 on failure.

import { startServer, broker, isMosquitto } from './castor_server.mjs';

let mqtt;
try {
  mqtt = (await import('mqtt')).default;
} catch (e) {
  console.log('MQTT.js is not installed: run npm install in tests/integration (scripts/setup.sh does)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const TIMEOUT = 5000;
const cases = [];
// opts.config: YAML for Castor's configuration (the case is Castor's own).
const test = (name, fn, opts = {}) => cases.push({ name, fn, opts });

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
  // The message handler is attached before the CONNACK: a resumed session's
  // queued messages may arrive right after it.
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: TIMEOUT, ...opts });
  c.inbox = [];
  c.waiters = [];
  c.on('message', (topic, payload, packet) => {
    const m = { topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain,
      properties: packet.properties || {} };
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

for (const version of [5, 4]) {
  test(`pub_sub_every_qos_v${version}`, async (srv) => {
    const sub = await client(srv.url, { protocolVersion: version, clientId: `js-sub-${version}` });
    const pub = await client(srv.url, { protocolVersion: version, clientId: `js-pub-${version}` });
    try {
      for (const qos of [0, 1, 2]) {
        const topic = `js/v${version}/q${qos}`;
        const granted = await withTimeout(sub.subscribeAsync(topic, { qos }), TIMEOUT, 'suback');
        assertEq(granted[0].qos, qos, 'granted QoS');
        for (let i = 0; i < 5; i++) {
          await withTimeout(pub.publishAsync(topic, `m${i}`, { qos }), TIMEOUT, 'publish');
        }
        for (let i = 0; i < 5; i++) {
          const m = await sub.next();
          assertEq([m.topic, m.payload, m.qos, m.retain], [topic, `m${i}`, qos, false], `QoS ${qos} message`);
        }
      }
    } finally {
      await sub.endAsync();
      await pub.endAsync();
    }
  });

  test(`retained_v${version}`, async (srv) => {
    const topic = `js/ret/v${version}`;
    const pub = await client(srv.url, { protocolVersion: version });
    await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
    await pub.endAsync();
    const sub = await client(srv.url, { protocolVersion: version });
    try {
      await sub.subscribeAsync(topic, { qos: 1 });
      const m = await sub.next('retained message');
      assertEq([m.topic, m.payload, m.retain, m.qos], [topic, 'kept', true, 1], 'retained message');
    } finally {
      await sub.endAsync();
    }
  });
}

test('cross_version_qos2', async (srv) => {
  const sub = await client(srv.url, { protocolVersion: 4 });
  const pub = await client(srv.url, { protocolVersion: 5 });
  try {
    await sub.subscribeAsync('js/cross', { qos: 2 });
    await pub.publishAsync('js/cross', 'five to four', { qos: 2, properties: { userProperties: { a: 'b' } } });
    const m = await sub.next();
    assertEq([m.topic, m.payload, m.qos], ['js/cross', 'five to four', 2], 'message');
  } finally {
    await sub.endAsync();
    await pub.endAsync();
  }
});

test('v5_properties', async (srv) => {
  const sub = await client(srv.url, { protocolVersion: 5 });
  const pub = await client(srv.url, { protocolVersion: 5 });
  try {
    await sub.subscribeAsync('js/props', { qos: 1 });
    await pub.publishAsync('js/props', '{"v":1}', {
      qos: 1,
      properties: {
        userProperties: { trace: 'xyz', hop: ['1', '2'] },
        responseTopic: 'js/reply',
        correlationData: Buffer.from([1, 2, 3]),
        contentType: 'application/json',
        payloadFormatIndicator: true,
      },
    });
    const m = await sub.next();
    const p = m.properties;
    assertEq(m.payload, '{"v":1}', 'payload');
    assertEq(p.userProperties, { trace: 'xyz', hop: ['1', '2'] }, 'user properties');
    assertEq(p.responseTopic, 'js/reply', 'response topic');
    assertEq([...p.correlationData], [1, 2, 3], 'correlation data');
    assertEq(p.contentType, 'application/json', 'content type');
    assertEq(p.payloadFormatIndicator, true, 'payload format indicator');
  } finally {
    await sub.endAsync();
    await pub.endAsync();
  }
});

test('persistent_session_v5', async (srv) => {
  const opts = { protocolVersion: 5, clientId: 'js-persist', clean: false,
    properties: { sessionExpiryInterval: 60 } };
  let s = await client(srv.url, opts);
  await s.subscribeAsync('js/persist', { qos: 1 });
  await s.endAsync();
  const pub = await client(srv.url, { protocolVersion: 5 });
  for (let i = 0; i < 3; i++) await pub.publishAsync('js/persist', `off${i}`, { qos: 1 });
  await pub.endAsync();
  s = await client(srv.url, opts);
  try {
    for (let i = 0; i < 3; i++) {
      const m = await s.next('queued message');
      assertEq([m.topic, m.payload], ['js/persist', `off${i}`], 'queued message');
    }
  } finally {
    await s.endAsync();
  }
});

// The payload mapping (docs/platform.md): MQTT.js publishes to explicit
// topics of every type and to an implicit one; what does not convert is
// refused with PUBACK 0x99 (MQTT.js rejects the publish with code 153).
const MAPPING = `topics:
  mapping:
    - {filter: "js/map/int/#", type: int64}
    - {filter: "js/map/num/#", type: double}
    - {filter: "js/map/doc/#", type: json}
    - {filter: "js/map/text/#", type: string}
    - {filter: "js/map/blob/#", type: binary}`;

test('payload_mapping_v5', async (srv) => {
  const sub = await client(srv.url, { protocolVersion: 5 });
  const pub = await client(srv.url, { protocolVersion: 5 });
  try {
    await sub.subscribeAsync('js/#', { qos: 1 });
    const good = [['js/map/int/a', '12', undefined, 1], ['js/map/num/a', '-0.5', undefined, 1],
      ['js/map/doc/a', '{"a":[true]}', 'application/json', 1], ['js/map/text/a', 'héllo', undefined, 1],
      ['js/map/blob/a', 'raw', undefined, undefined], ['js/free/a', 'as is', undefined, undefined]];
    for (const [topic, payload, contentType, pfi] of good) {
      await withTimeout(pub.publishAsync(topic, payload, { qos: 1 }), TIMEOUT, 'publish');
      const m = await sub.next(topic);
      assertEq([m.topic, m.payload, m.properties.contentType, m.properties.payloadFormatIndicator],
        [topic, payload, contentType, pfi === undefined ? undefined : true], `delivery on ${topic}`);
    }
    for (const [topic, payload] of [['js/map/int/a', '1.5'], ['js/map/num/a', 'x'],
      ['js/map/doc/a', '{'], ['js/map/text/a', Buffer.from([0xc3, 0x28])]]) {
      let code = null;
      try {
        await withTimeout(pub.publishAsync(topic, payload, { qos: 1 }), TIMEOUT, 'publish');
      } catch (e) {
        code = e.code;
      }
      assertEq(code, 153, `PUBACK reason for ${topic}`);
    }
    // Nothing refused was delivered: the next message is this one.
    await withTimeout(pub.publishAsync('js/free/end', 'end', { qos: 1 }), TIMEOUT, 'publish');
    const m = await sub.next('the end marker');
    assertEq([m.topic, m.payload], ['js/free/end', 'end'], 'the message after the refused ones');
  } finally {
    await sub.endAsync();
    await pub.endAsync();
  }
}, { config: MAPPING });

/** A random JSON document: nested objects and arrays, strings with escapes. */
function randomDoc(rand, depth = 0) {
  const pick = (n) => Math.floor(rand() * n);
  const scalar = () => [() => pick(1000) - 500, () => rand() * 10, () => `s"\\\n${pick(50)}`,
    () => pick(2) === 0, () => null][pick(5)]();
  if (depth > 2) return scalar();
  const doc = {};
  for (let i = 0; i < 3 + pick(4); i++) {
    const key = `k${pick(8)}`;
    const kind = pick(4);
    if (kind === 0) doc[key] = randomDoc(rand, depth + 1);
    else if (kind === 1) doc[key] = Array.from({ length: pick(4) }, () => randomDoc(rand, depth + 1));
    else doc[key] = scalar();
  }
  return doc;
}

/** JSON text with object members in key order (documents compare equal as values). */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

test('delta_follower_with_fast_json_patch_v5', async (srv) => {
  const jsonpatch = (await import('fast-json-patch')).default;
  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const follower = await client(srv.url, { protocolVersion: 5 });
  const plain = await client(srv.url, { protocolVersion: 5 });
  const pub = await client(srv.url, { protocolVersion: 5 });
  try {
    await follower.subscribeAsync('$delta/js/doc/#', { qos: 1 });
    await plain.subscribeAsync('js/doc/#', { qos: 1 });
    const topics = ['js/doc/a', 'js/doc/b'];
    const docs = {};
    const known = {};
    let patches = 0;
    for (let i = 0; i < 200; i++) {
      const topic = topics[i % 2];
      // Mostly a small change of the topic's document, sometimes a new one
      // (a description makes a few changes smaller than the document).
      if (!docs[topic] || rand() < 0.2) docs[topic] = { ...randomDoc(rand), about: `${topic} `.repeat(20) };
      else docs[topic] = { ...docs[topic], [`k${Math.floor(rand() * 8)}`]: Math.floor(rand() * 100) };
      const doc = docs[topic];
      await withTimeout(pub.publishAsync(topic, JSON.stringify(doc),
        { qos: 1, properties: { contentType: 'application/json' } }), TIMEOUT, 'publish');
      const whole = await plain.next(`whole ${i}`);
      const d = await follower.next(`delta ${i}`);
      assertEq(d.topic, `$delta/${topic}`, 'delta topic');
      if (d.properties.contentType === 'application/json-patch+json') {
        patches++;
        known[topic] = jsonpatch.applyPatch(known[topic], JSON.parse(d.payload), true, false).newDocument;
      } else {
        known[topic] = JSON.parse(d.payload);
      }
      assertEq(canonical(known[topic]), canonical(JSON.parse(whole.payload)), `value ${i} of ${topic}`);
    }
    if (patches < 100) throw new Error(`only ${patches} of 200 updates came as patches`);
  } finally {
    await follower.endAsync();
    await plain.endAsync();
    await pub.endAsync();
  }
});

test('time_series_events_v5', async (srv) => {
  const api = await client(srv.url, { protocolVersion: 5 });
  const sub = await client(srv.url, { protocolVersion: 5 });
  try {
    await api.subscribeAsync('js/replies', { qos: 0 });
    await withTimeout(api.publishAsync('$castor/api/topics/add', JSON.stringify({
      path: 'js/ts', type: 'time_series', properties: { TIME_SERIES_EVENT_VALUE_TYPE: 'int64' } }),
    { qos: 1, properties: { responseTopic: 'js/replies', correlationData: Buffer.from('1') } }),
    TIMEOUT, 'request');
    const answer = await api.next('answer');
    assertEq(JSON.parse(answer.payload), { ok: true }, 'topics/add');
    await sub.subscribeAsync('js/ts', { qos: 1 });
    for (let i = 0; i < 5; i++) {
      await withTimeout(api.publishAsync('js/ts', `${100 + i}`, { qos: 1 }), TIMEOUT, 'publish');
    }
    for (let i = 0; i < 5; i++) {
      const m = await sub.next(`event ${i}`);
      const up = m.properties.userProperties || {};
      assertEq([m.payload, up.seq, up.author], [`${100 + i}`, `${i}`, ''], `event ${i}`);
      if (!(Number(up.timestamp) > 0)) throw new Error(`timestamp ${up.timestamp}`);
    }
  } finally {
    await api.endAsync();
    await sub.endAsync();
  }
}, { config: ' ' });

// Request-response messaging (docs/platform.md): an MQTT.js handler
// registered for a path answers a plain MQTT 5 request on the server's
// $castor/reply/ topic; the requester gets it with its correlation data.
test('message_handler_v5', async (srv) => {
  const handler = await client(srv.url, { protocolVersion: 5 });
  const requester = await client(srv.url, { protocolVersion: 5 });
  try {
    await withTimeout(handler.publishAsync('$castor/api/handlers/add', JSON.stringify({ path: 'js/svc' }),
      { qos: 1, properties: { responseTopic: 'js/handler-api', correlationData: Buffer.from('h') } }),
    TIMEOUT, 'handlers/add');
    const added = await handler.next('handlers/add answer');
    const a = JSON.parse(added.payload);
    assertEq([a.ok, a.added], [true, true], 'handlers/add');
    await withTimeout(requester.publishAsync('js/svc/double', '21', {
      qos: 1,
      properties: { responseTopic: 'js/my-answers', correlationData: Buffer.from('q1'),
        userProperties: { trace: 't1' } },
    }), TIMEOUT, 'request');
    const req = await handler.next('request');
    assertEq([req.topic, req.payload, [...req.properties.correlationData], req.properties.userProperties],
      ['js/svc/double', '21', [...Buffer.from('q1')], { trace: 't1' }], 'request');
    if (!req.properties.responseTopic.startsWith('$castor/reply/')) {
      throw new Error(`response topic ${req.properties.responseTopic}`);
    }
    await withTimeout(handler.publishAsync(req.properties.responseTopic, `${2 * Number(req.payload)}`, {
      qos: 1, properties: { contentType: 'text/plain' } }), TIMEOUT, 'answer');
    const ans = await requester.next('answer');
    assertEq([ans.topic, ans.payload, Buffer.from(ans.properties.correlationData).toString(), ans.properties.contentType],
      ['js/my-answers', '42', 'q1', 'text/plain'], 'answer');
  } finally {
    await handler.endAsync();
    await requester.endAsync();
  }
}, { config: ' ' });

const only = process.argv.slice(2);
let passed = 0;
let failed = 0;
console.log(`broker under test: ${isMosquitto ? broker : 'castor (' + process.env.CASTOR_BIN + ')'}`);
for (const c of cases) {
  if (only.length && !only.some((o) => c.name.includes(o))) continue;
  if (c.opts.config && isMosquitto) {
    console.log(`SKIP  ${c.name} (Castor's configuration)`);
    continue;
  }
  const t0 = Date.now();
  let srv;
  let error = null;
  try {
    srv = await startServer({ extraConfig: c.opts.config || '' });
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
