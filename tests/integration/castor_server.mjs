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

// `listeners`: extra Castor listeners, objects of listener settings without
// a port (each gets a free one, returned in `ports` by name); they come
// before the tcp listener, which is opened last, so all are up once it
// accepts connections. `mqtt`: mqtt settings.
export async function startServer({ timeoutMs = 10000, listeners = [], mqtt = {} } = {}) {
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
    fs.writeFileSync(conf, lines.join('\n') + '\n');
    cmd = bin;
    args = ['--config', conf, '--mqtt-port', String(port), '--log-level', 'info'];
  }
  const log = fs.openSync(logPath, 'a');
  const proc = spawn(cmd, args, { stdio: ['ignore', log, log], cwd: dir });
  let exited = null;
  proc.on('exit', (code, sig) => { exited = code ?? sig; });
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
        async stop() {
          if (exited === null) {
            proc.kill('SIGTERM');
            const t = Date.now() + 5000;
            while (exited === null && Date.now() < t) await sleep(20);
            if (exited === null) proc.kill('SIGKILL');
          }
          fs.closeSync(log);
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
