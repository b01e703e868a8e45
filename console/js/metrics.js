// Reads the Prometheus text exposition of /metrics into samples, and sums
// the series of a metric (optionally only those with some label values).

export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[3]))) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    const value = Number(m[4]);
    if (!Number.isNaN(value)) samples.push({ name: m[1], labels, value });
  }
  return samples;
}

// The sum of `name`'s samples whose labels include `where`; null when the
// server exports no such metric.
export function total(samples, name, where = {}) {
  let sum = null;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (!Object.entries(where).every(([k, v]) => s.labels[k] === v)) continue;
    sum = (sum || 0) + s.value;
  }
  return sum;
}

// The first of several names the server exports (names that changed).
export function firstTotal(samples, names, where) {
  for (const n of names) {
    const v = total(samples, n, where);
    if (v !== null) return v;
  }
  return null;
}
