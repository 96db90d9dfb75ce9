// The reports page: the DOE monthly reports the scheduler produced
// (/v1/reports), newest period first, each file with the ledger checkpoint
// it was computed at, and the aggregates for every role that may read them.
//
// A file is fetched with the bearer header like every call (a plain link
// would go without it) and handed to the browser as a blob: the HTML page
// opens in a new tab, CSV and JSON download under their own names.

import { get, token } from './api.js';
import { h, fmtNum } from './dom.js';

const FORMS = {
  'eia-814': 'EIA-814 crude oil imports',
  'fe-746r': 'FE-746R natural gas imports, exports, in transit',
  'inbond-summary': 'In-bond summary',
  metering: 'Metering by shipment and day',
  doe: 'The month, for people (HTML, prints to PDF)',
};

async function open(file) {
  const res = await fetch(file.href, { headers: { Authorization: `Bearer ${token()}` }, cache: 'no-store' });
  if (!res.ok) throw new Error(`${file.name}: HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  if (file.format === 'html') {
    window.open(url, '_blank', 'noopener');
  } else {
    const a = h('a', { href: url, download: file.name });
    document.body.append(a);
    a.click();
    a.remove();
  }
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function period(p) {
  const byForm = new Map();
  for (const f of p.files) byForm.set(f.form, [...(byForm.get(f.form) || []), f]);
  const cp = p.files[0]?.checkpoint;
  return h('section.report', {},
    h('h2', { text: p.period }),
    cp && h('p.checkpoint', { text: `computed at ledger checkpoint ${cp.origin}, tree size ${cp.tree_size}, root ${cp.root.slice(0, 16)}…` }),
    h('table.reports', {}, h('tbody', {}, [...byForm].map(([form, files]) => h('tr', {},
      h('th', { text: FORMS[form] || form }),
      h('td', {}, files.map((f) => h('button.file', {
        type: 'button', title: `${f.name}, ${fmtNum(f.bytes)} bytes, sha256 ${f.sha256}`,
        onclick: (ev) => open(f).catch((e) => { ev.target.textContent = e.message; }),
      }, f.format))))))));
}

export async function showReports(root, role) {
  root.replaceChildren(h('h1', { text: 'Reports' }), h('p.loading', { text: 'Loading…' }));
  const parts = [h('h1', { text: 'Reports' })];
  try {
    const r = await get('/v1/reports');
    parts.push(r.periods.length
      ? h('div.periods', {}, r.periods.map(period))
      : h('p.placeholder', { text: 'No period has closed yet: each month\'s reports appear here once its grace period has passed.' }));
    parts.push(h('p.hint', {}, 'Each file names the checkpoint it was computed at; ',
      h('code', { text: 'inbond report verify FILE --key VKEY' }), ' re-derives every total from the archive.'));
  } catch (e) {
    parts.push(h('p.placeholder', {}, `The reports are not available here (${e.status === 503 ? 'no report directory configured' : e.message}). `,
      h('code', { text: 'inbond report doe --period YYYY-MM' }), ' computes one.'));
  }
  if (role === 'cbp' || role === 'doe') {
    try {
      const a = await get('/v1/aggregates');
      parts.push(h('h2', { text: `Shipments by status (${fmtNum(a.total)})` }),
        h('table.aggregates', {}, h('tbody', {}, Object.entries(a.by_status).map(([k, v]) => h('tr', {}, h('th', { text: k }), h('td', { text: fmtNum(v) }))))));
    } catch { /* aggregates are a convenience here */ }
  }
  root.replaceChildren(...parts);
}
