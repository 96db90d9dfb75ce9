// A line chart as inline SVG: time on x, one scale on y, a few series.
// Enough for a meter's volumes and pressures; no chart library needed.

import { s, fmtNum } from './dom.js';

const W = 640, H = 220, L = 64, R = 12, T = 14, B = 28;

/**
 * series: [{ name, cls, points: [[Date, number], ...] }]; unit labels the y axis.
 * Returns an <svg> with data-points counting what it drew.
 */
export function lineChart(series, { unit = '', title = '' } = {}) {
  const pts = series.flatMap((x) => x.points);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, 'data-points': pts.length });
  if (!pts.length) {
    svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty', text: 'no readings yet' }));
    return svg;
  }
  let t0 = Math.min(...pts.map((p) => +p[0])), t1 = Math.max(...pts.map((p) => +p[0]));
  let v0 = Math.min(...pts.map((p) => p[1])), v1 = Math.max(...pts.map((p) => p[1]));
  if (t1 === t0) t1 = t0 + 1;
  if (v1 === v0) { v0 -= 1; v1 += 1; }
  const pad = (v1 - v0) * 0.05; v0 -= pad; v1 += pad;
  const x = (t) => L + (W - L - R) * (+t - t0) / (t1 - t0);
  const y = (v) => T + (H - T - B) * (1 - (v - v0) / (v1 - v0));
  const axes = s('g', { class: 'axes' });
  for (let i = 0; i <= 4; i++) {
    const v = v0 + (v1 - v0) * i / 4;
    axes.append(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', text: fmtNum(v, Math.abs(v1 - v0) < 20 ? 1 : 0) }));
  }
  for (let i = 0; i <= 3; i++) {
    const t = t0 + (t1 - t0) * i / 3;
    axes.append(s('text', { x: x(t), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === 3 ? 'end' : 'middle',
      text: new Date(t).toISOString().slice(5, 16).replace('T', ' ') }));
  }
  axes.append(s('text', { x: 4, y: T - 2, class: 'unit', text: unit }));
  svg.append(axes);
  series.forEach((ser, i) => {
    if (!ser.points.length) return;
    const d = ser.points.map((p, j) => `${j ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
    svg.append(s('path', { d, class: `series ${ser.cls || `s${i}`}` }),
      s('text', { x: W - R - 4 - (series.length - 1 - i) * 150, y: T + 12, 'text-anchor': 'end', class: `legend ${ser.cls || `s${i}`}`, text: ser.name }));
  });
  return svg;
}
