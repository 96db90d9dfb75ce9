// Small DOM helpers: elements are built with textContent, never innerHTML,
// so no shipment ID, alert message or officer's note can inject markup.

const SVG = 'http://www.w3.org/2000/svg';

/** h('tag.class', {attr: v, onclick: f}, ...children) builds an HTML element. */
export function h(spec, attrs = {}, ...children) { return build(document.createElement.bind(document), spec, attrs, children); }

/** s('tag.class', ...) builds an SVG element. */
export function s(spec, attrs = {}, ...children) { return build((t) => document.createElementNS(SVG, t), spec, attrs, children); }

function build(create, spec, attrs, children) {
  // The attributes may be left out: a first argument that is a child (a
  // node, text, a list, or a false from a condition) is one.
  if (attrs === null || attrs === false || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children = [attrs, ...children];
    attrs = {};
  }
  const [tag, ...classes] = spec.split('.');
  const el = create(tag);
  if (classes.length) el.setAttribute('class', classes.join(' '));
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A time as the officers read it: UTC, to the minute. */
export function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  return isNaN(d) ? '—' : d.toISOString().replace('T', ' ').slice(0, 16) + 'Z';
}

export function fmtNum(v, digits = 0) {
  return v === undefined || v === null || isNaN(v) ? '—' : Number(v).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** The short name of a canonical event type: gov.cbp.inbond.telemetry.meter.v1 → meter. */
export function shortType(t) {
  const m = /\.([a-z_]+)\.v\d+$/.exec(t || '');
  return m ? m[1].replace(/_/g, ' ') : t;
}

export const severityRank = { info: 1, warning: 2, critical: 3 };
