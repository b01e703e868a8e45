// A live line chart on a canvas: a fixed window of points per series,
// redrawn on every push. No library.

export class LineChart {
  constructor(canvas, series, { points = 60, unit = '' } = {}) {
    this.canvas = canvas;
    this.series = series.map((s) => ({ ...s, data: [] }));
    this.points = points;
    this.unit = unit;
  }

  push(values) {
    this.series.forEach((s, i) => {
      s.data.push(values[i] ?? null);
      if (s.data.length > this.points) s.data.shift();
    });
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 360;
    const hgt = c.clientHeight || 160;
    if (c.width !== Math.round(w * dpr)) c.width = Math.round(w * dpr);
    if (c.height !== Math.round(hgt * dpr)) c.height = Math.round(hgt * dpr);
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const left = 48; const bottom = hgt - 16; const top = 8; const right = w - 8;
    let max = 0;
    for (const s of this.series) for (const v of s.data) if (v !== null && v > max) max = v;
    max = niceMax(max);
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#5d6678';
    g.strokeStyle = '#e3e7ee';
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i += 1) {
      const y = bottom - ((bottom - top) * i) / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
      g.fillText(format(max * i / 4) + this.unit, 2, y + 4);
    }
    const step = (right - left) / Math.max(1, this.points - 1);
    for (const s of this.series) {
      g.strokeStyle = s.color;
      g.lineWidth = 2;
      g.beginPath();
      let started = false;
      const offset = this.points - s.data.length;
      s.data.forEach((v, i) => {
        if (v === null) { started = false; return; }
        const x = left + (offset + i) * step;
        const y = bottom - (max ? (v / max) * (bottom - top) : 0);
        if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
      });
      g.stroke();
    }
  }
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

export function format(v) {
  if (v === null || v === undefined) return '—';
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(a < 10 ? 2 : 1);
}
