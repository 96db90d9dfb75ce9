// The reports page. The DOE/EIA monthly reports come from /v1/reports,
// which another part of issue 18 adds: until it answers, this page says so
// rather than showing nothing. Aggregates are shown for every role that may
// read them.

import { get } from './api.js';
import { h, fmtNum } from './dom.js';

export async function showReports(root, role) {
  root.replaceChildren(h('h1', { text: 'Reports' }), h('p.loading', { text: 'Loading…' }));
  const parts = [h('h1', { text: 'Reports' })];
  try {
    const r = await get('/v1/reports');
    const items = Array.isArray(r) ? r : r.items || [];
    parts.push(h('p', { text: 'DOE/EIA import reports, by period:' }),
      h('ul.reports', {}, items.map((it) => h('li', { text: [it.period, it.kind || it.type, it.checkpoint].filter(Boolean).join(' · ') || JSON.stringify(it) }))));
  } catch (e) {
    parts.push(h('p.placeholder', {}, 'The DOE monthly reports (EIA-814 crude oil; natural gas imports) will be listed here from ',
      h('code', { text: '/v1/reports' }), ` once it is served (${e.status === 404 ? 'not yet' : e.message}). Until then: `,
      h('code', { text: 'inbond report doe --period YYYY-MM' }), '.'));
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
