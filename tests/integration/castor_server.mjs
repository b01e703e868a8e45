// Starts the broker under test for the Node.js integration tests: Castor
// (CASTOR_BIN) or, with CASTOR_TEST_BROKER=mosquitto, Mosquitto, on a free
// loopback port with a generated configuration. Mirrors mqtt_test.py.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const broker = (process.env.CASTOR_TEST_BROKER || 'castor').toLowerCase();
export const isMosquitto = broker === 'mosquitto';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tryConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// How long the broker may take to exit after SIGTERM (as in mqtt_test.py).
export const STOP_TIMEOUT_MS = 1000 * Number(process.env.CASTOR_TEST_STOP_TIMEOUT || 10);

// Lines by which the sanitizers announce a finding (as in mqtt_test.py).
const SANITIZER_MARKERS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer',
  'LeakSanitizer has encountered a fatal error', 'AddressSanitizer:DEADLYSIGNAL',
  'ERROR: UndefinedBehaviorSanitizer', 'UndefinedBehaviorSanitizer:DEADLYSIGNAL',
  'runtime error:', 'WARNING: ThreadSanitizer', 'SUMMARY: AddressSanitizer',
  'SUMMARY: UndefinedBehaviorSanitizer'];

export function sanitizerReports(text) {
  return text.split('\n').filter((l) => SANITIZER_MARKERS.some((m) => l.includes(m)));
}

function withDefaults(options, defaults) {
  const parts = (options || '').split(':').filter((o) => o);
  const have = new Set(parts.map((o) => o.split('=')[0]));
  for (const [k, v] of defaults) if (!have.has(k)) parts.push(`${k}=${v}`);
  return parts.join(':');
}

// The broker's environment: in a sanitizer build every report reaches the
// log and makes the exit status non-zero (see broker_env in mqtt_test.py).
export function brokerEnv() {
  const env = { ...process.env };
  const src = process.env.CASTOR_SOURCE_DIR
    || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  env.ASAN_OPTIONS = withDefaults(env.ASAN_OPTIONS,
    [['detect_leaks', '1'], ['exitcode', '1'], ['log_path', 'stderr']]);
  const ubsan = [['print_stacktrace', '1'], ['halt_on_error', '1'], ['log_path', 'stderr']];
  const supp = path.join(src, 'tests', 'sanitizers', 'ubsan.supp');
  if (fs.existsSync(supp)) ubsan.push(['suppressions', supp]);
  env.UBSAN_OPTIONS = withDefaults(env.UBSAN_OPTIONS, ubsan);
  return env;
}

// `listeners`: extra Castor listeners, objects of listener settings without
// a port (each gets a free one, returned in `ports` by name); they come
// before the tcp listener, which is opened last, so all are up once it
// accepts connections. `mqtt`: mqtt settings.
// extraConfig: YAML appended to Castor's configuration (other top-level
// sections, such as topics:).
export async function startServer({ timeoutMs = 10000, listeners = [], mqtt = {}, extraConfig = '' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'castor-integ-js-'));
  const logPath = path.join(dir, 'server.log');
  const port = await freePort();
  const ports = {};
  let cmd;
  let args;
  if (isMosquitto) {
    const conf = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(conf, [
      'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type all',
      `listener ${port} 127.0.0.1`, ''].join('\n'));
    cmd = process.env.MOSQUITTO_BIN || '/usr/sbin/mosquitto';
    args = ['-c', conf];
  } else {
    const bin = process.env.CASTOR_BIN;
    if (!bin) throw new Error('CASTOR_BIN is not set (or set CASTOR_TEST_BROKER=mosquitto)');
    const conf = path.join(dir, 'castor.yaml');
    const lines = ['log_level: info', 'listeners:'];
    for (const l of listeners) {
      let p = await freePort();
      while (p === port || Object.values(ports).includes(p)) p = await freePort();
      ports[l.name] = p;
      lines.push('  - ' + JSON.stringify({ bind: '127.0.0.1', ...l, port: p }));
    }
    lines.push(`  - {name: mqtt, transport: tcp, bind: 127.0.0.1, port: ${port}}`);
    if (Object.keys(mqtt).length) {
      lines.push('mqtt:');
      for (const [k, v] of Object.entries(mqtt)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
    }
    if (extraConfig) lines.push(extraConfig);
    fs.writeFileSync(conf, lines.join('\n') + '\n');
    cmd = path.resolve(bin); // the broker runs in its own directory
    args = ['--config', conf, '--mqtt-port', String(port), '--log-level', 'info'];
  }
  const log = fs.openSync(logPath, 'a');
  const proc = spawn(cmd, args, { stdio: ['ignore', log, log], cwd: dir, env: brokerEnv() });
  let exited = null;
  proc.on('exit', (code, sig) => { exited = code ?? sig; });
  const status = () => (typeof exited === 'string' ? `killed by ${exited}` : String(exited));
  const readLog = () => { try { return fs.readFileSync(logPath, 'utf8'); } catch { return ''; } };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && exited === null) {
    if (await tryConnect(port)) {
      return {
        port,
        ports,
        url: `mqtt://127.0.0.1:${port}`,
        alive: () => exited === null,
        log: readLog,
        // Stops the server with SIGTERM; returns what is wrong with it (an
        // empty list when nothing): it exited during the case, did not exit
        // within STOP_TIMEOUT_MS (a hang at shutdown; then killed), exited
        // with a status other than 0, or printed a sanitizer report. The
        // directory is kept until remove(), for the log of a failure.
        async stop() {
          const problems = [];
          if (exited !== null) {
            problems.push(`the server exited during the case (status ${status()})`);
          } else {
            proc.kill('SIGTERM');
            const t = Date.now() + STOP_TIMEOUT_MS;
            while (exited === null && Date.now() < t) await sleep(20);
            if (exited === null) {
              problems.push(`the server did not exit within ${STOP_TIMEOUT_MS / 1000} s `
                            + 'after SIGTERM (hang at shutdown); killed');
              proc.kill('SIGKILL');
              while (exited === null) await sleep(20);
            } else if (exited !== 0) {
              problems.push(`exit status ${status()} after SIGTERM, expected 0`);
            }
          }
          fs.closeSync(log);
          const reports = sanitizerReports(readLog());
          if (reports.length) {
            problems.push('sanitizer report in the server\'s output:\n  '
                          + reports.slice(0, 12).join('\n  '));
          }
          return problems;
        },
        remove() {
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await sleep(20);
  }
  if (exited === null) proc.kill('SIGKILL');
  const text = readLog();
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`${broker} failed to start (${exited === null ? 'no listener' : 'exit ' + exited})\n${text}`);
}
