// The shipment page: what the movement is, whether its history verifies on
// the ledger, its meters, its quality against the declaration, its alerts
// and its timeline. It follows the stream while it is open.

import { get, APIError } from './api.js';
import { h, fmtTime, fmtNum, shortType } from './dom.js';
import { lineChart } from './chart.js';
import { alertItem } from './feed.js';

const TIMELINE_PAGES = 4; // of 500 events: a pipeline batch's readings for the chart

export class ShipmentPage {
  /** root: the view's element; feed: the alert feed (commands go through its dialog). */
  constructor(root, id, { feed, canCommand, onOpen }) {
    Object.assign(this, { root, id, feed, canCommand, onOpen });
    this.events = []; // TimelineEvent-shaped, newest first
    this.cursor = ''; // where older events continue ('' once all are read)
    this.seenEvents = new Set();
    this.timer = null;
    this.disposed = false;
    root.replaceChildren(h('p.loading', { text: `Loading ${id}…` }));
    this.load();
  }

  dispose() { this.disposed = true; clearTimeout(this.timer); clearTimeout(this.verifyTimer); }

  async load() {
    try {
      const [detail, events] = await Promise.all([
        get(`/v1/shipments/${encodeURIComponent(this.id)}`), this.readTimeline()]);
      if (this.disposed) return;
      this.detail = detail;
      this.addEvents(events);
      this.feed.load(detail.alerts);
      this.render();
      this.verify();
    } catch (e) {
      this.root.replaceChildren(h('p.error', { text: e instanceof APIError && e.status === 404 ? `No shipment ${this.id}.` : e.message }));
    }
  }

  // readTimeline reads up to TIMELINE_PAGES pages back from this.cursor
  // (the newest first); this.cursor is then where older events continue.
  async readTimeline() {
    let out = [];
    for (let i = 0; i < TIMELINE_PAGES; i++) {
      const p = await get(`/v1/shipments/${encodeURIComponent(this.id)}/events?limit=500` + (this.cursor ? `&cursor=${this.cursor}` : ''));
      out = out.concat(p.items);
      this.cursor = p.next_cursor || '';
      if (!this.cursor) break;
    }
    return out;
  }

  async loadOlder() {
    this.addEvents(await this.readTimeline());
    this.render();
  }

  addEvents(items) {
    for (const it of items) {
      const ev = typeof it.event === 'string' ? JSON.parse(it.event) : it.event;
      if (this.seenEvents.has(ev.id)) continue;
      this.seenEvents.add(ev.id);
      this.events.push({ ...it, event: ev });
    }
    this.events.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  }

  /** A stream update: this shipment's event was applied. */
  update(u) {
    if (u.shipment !== this.id || this.disposed) return;
    this.addEvents([{ type: u.type, time: u.time, carrier: u.carrier, event: u.event }]);
    this.schedule();
  }

  /** An alert transition on the stream (the feed has taken it already). */
  alert(ev) { if (ev.data.shipment === this.id) this.schedule(); }

  // Re-read the state at most once a second while events flow.
  schedule() {
    if (this.timer) return;
    this.timer = setTimeout(async () => {
      this.timer = null;
      try { this.detail = await get(`/v1/shipments/${encodeURIComponent(this.id)}`); } catch { return; }
      if (!this.disposed) this.render();
    }, 1000);
  }

  render() {
    const { shipment: sh, receipt } = this.detail;
    const m = sh.manifest || {};
    const alerts = [...this.feed.alerts.values()].filter((a) => a.shipment === this.id)
      .sort((a, b) => (a.opened_at < b.opened_at ? 1 : -1));
    const badge = this.root.querySelector('#badge') || h('div.badge', { id: 'badge', 'data-state': 'verifying', text: 'Verifying on the ledger…' });
    const alertList = h('ol.alerts', {}, alerts.map((a) => alertItem(a, { canCommand: this.canCommand, pending: this.feed.pending.get(a.id) })));
    alertList.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-action]');
      if (b) this.feed.ask(b.closest('li').dataset.alert, b.dataset.action);
    });
    this.root.replaceChildren(
      h('div.ship-head',
        h('h1', { text: sh.id }),
        h(`span.status.status-${sh.status}`, { text: sh.status }),
        badge),
      h('dl.facts',
        fact('In-bond number', m.inbond_number), fact('Entry type', m.entry_type), fact('Carrier', sh.carrier),
        fact('Mode', m.mode), fact('Product', m.product && `${m.product} (HTS ${m.hts})`),
        fact('Declared', m.declared_quantity && `${fmtNum(m.declared_quantity)} ${m.unit}`),
        fact('Route', `${m.origin_port || '?'} → ${sh.destination || m.destination_port || '?'}` + (m.corridor ? ` via ${m.corridor}` : '') +
          (m.entry_meter ? ` · meters ${m.entry_meter} → ${m.exit_meter}` : '')),
        fact('Importer', m.importer?.name), fact('Deadline', fmtTime(m.deadline)), fact('Last event', fmtTime(sh.last_event_at)),
        fact('Events', fmtNum(sh.event_count)), fact('Seal', sh.seal && `${sh.seal.id} ${sh.seal.state}`),
        fact('Ledger receipt', receipt ? `log index ${receipt.log_index ?? '—'}` : 'none yet')),
      h('section.panel', h('h2', { text: 'Meters' }), this.meterCharts(m)),
      h('section.panel', h('h2', { text: 'Quality vs declared' }), qualityTable(sh, m)),
      h('section.panel', h('h2', { text: `Alerts (${alerts.length})` }), alerts.length ? alertList : h('p.muted', { text: 'No alerts.' })),
      h('section.panel', h('h2', { text: `Timeline (${this.events.length} events, newest first)` }), this.timeline()));
  }

  meterCharts(m) {
    const readings = this.events.filter((e) => e.type.endsWith('.meter.v1')).reverse(); // oldest first
    if (!readings.length) return h('p.muted', { text: m.mode === 'pipeline' ? 'No meter readings yet.' : 'A conveyance: no custody-transfer meters.' });
    const by = (id, f) => readings.filter((e) => e.event.data.meter === id).map((e) => [new Date(e.event.time), f(e.event.data)]);
    const entry = m.entry_meter, exit = m.exit_meter;
    const unit = readings[0].event.data.unit, punit = readings[0].event.data.pressure_unit || 'psig';
    return h('div.charts',
      h('figure', {}, lineChart([
        { name: `entry ${entry}`, cls: 'entry', points: by(entry, (d) => d.cumulative) },
        { name: `exit ${exit}`, cls: 'exit', points: by(exit, (d) => d.cumulative) }], { unit: `volume, ${unit}`, title: 'entry vs exit volume' }),
      h('figcaption', { text: `Cumulative volume at the entry and exit meters (${unit}); the gap is what is in the line, or lost.` +
        (this.cursor ? ' Newest readings only: load older events below for the whole batch.' : '') })),
      h('figure', {}, lineChart([
        { name: `entry ${entry}`, cls: 'entry', points: by(entry, (d) => d.pressure) },
        { name: `exit ${exit}`, cls: 'exit', points: by(exit, (d) => d.pressure) }], { unit: `pressure, ${punit}`, title: 'pressure' }),
      h('figcaption', { text: 'Pressure at each meter: a sudden drop is a possible leak or offtake.' })));
  }

  timeline() {
    const older = this.cursor && h('button', { type: 'button', text: 'Load older events (chart and timeline)', onclick: () => this.loadOlder() });
    const rows = this.events.slice(0, this.showAll ? undefined : 100);
    const table = h('table.timeline', {},
      h('thead', {}, h('tr', {}, h('th', { text: 'Observed' }), h('th', { text: 'Event' }), h('th', { text: 'By' }), h('th', { text: 'What' }))),
      h('tbody', {}, rows.map((e) => h('tr', { 'data-type': shortType(e.type) },
        h('td', { text: fmtTime(e.time) }), h('td', { text: shortType(e.type) }),
        h('td', { text: [e.carrier, e.event.device].filter(Boolean).join(' / ') }), h('td', { text: summary(e) })))));
    const all = this.events.length > rows.length && h('button', { type: 'button', text: `Show all ${this.events.length}`, onclick: () => { this.showAll = true; this.render(); } });
    return h('div', {}, table, h('p.buttons', {}, all, older));
  }

  /**
   * The badge asks the server to prove the history: GET .../proof runs the
   * same check as `inbond verify` (the chain recomputed from the archive,
   * the checkpoint's Merkle inclusion, the log's inclusion proof and its
   * signed checkpoint). The offline proof it returns can be checked again
   * with `inbond verify --offline` and a verifier key obtained elsewhere.
   */
  async verify() {
    clearTimeout(this.verifyTimer);
    const badge = () => this.root.querySelector('#badge');
    const set = (state, text, proof) => {
      const b = badge();
      if (!b) return;
      b.dataset.state = state;
      b.replaceChildren(h('span', { text }));
      if (proof) {
        const url = URL.createObjectURL(new Blob([proof], { type: 'text/plain' }));
        b.append(h('a.proof', { href: url, download: `${this.id}.tlog-proof`, text: 'offline proof' }));
      }
    };
    set('verifying', 'Verifying on the ledger…');
    try {
      const p = await get(`/v1/shipments/${encodeURIComponent(this.id)}/proof`);
      if (this.disposed) return;
      set(p.verified ? 'verified' : 'failed',
        `✓ Verified on the ledger: ${p.events} events, checkpoint ${p.checkpoint}, log entry ${p.log_index} of ${p.tree_size}` +
        (p.unanchored ? `; ${p.unanchored} later events not anchored yet` : ''), p.tlog_proof);
      if (p.unanchored) this.verifyTimer = setTimeout(() => this.verify(), 10000);
    } catch (e) {
      if (this.disposed) return;
      if (e.status === 404 && /receipt/.test(e.message)) {
        set('pending', 'Not anchored yet: waiting for its first checkpoint…');
        this.verifyTimer = setTimeout(() => this.verify(), 3000);
      } else if (e.status === 409) {
        set('failed', `✗ Does not verify: ${e.message}`);
      } else {
        set('error', `Ledger unavailable: ${e.message}`);
        this.verifyTimer = setTimeout(() => this.verify(), 10000);
      }
    }
  }
}

function fact(k, v) {
  return [h('dt', { text: k }), h('dd', { text: v === undefined || v === null || v === '' ? '—' : String(v) })];
}

function qualityTable(sh, m) {
  const q = sh.quality || {};
  const avg = (sum) => (q.weight && sum ? sum / q.weight : undefined);
  const dq = m.declared_quality || {};
  const rows = [];
  const row = (name, declared, measured, digits, note) => rows.push(h('tr', {},
    h('th', { text: name }), h('td', { text: fmtNum(declared, digits) }), h('td', { text: fmtNum(measured, digits) }),
    h('td', { text: declared !== undefined && measured !== undefined ? fmtNum(measured - declared, digits) : '—' }),
    h('td', { class: note?.bad ? 'bad' : '', text: note?.text || '' })));
  if (m.product === 'crude_oil' || dq.api_gravity !== undefined) {
    const api = avg(q.api_gravity_sum);
    // HTS 2709.00.10 is crude under 25° API, 2709.00.20 at 25° or more.
    const heavy = m.hts === '2709.00.10';
    const wrong = api !== undefined && (heavy ? api >= 25 : api < 25);
    row('API gravity (°)', dq.api_gravity, api, 1, api === undefined ? null :
      { bad: wrong, text: wrong ? `measured on the other side of 25° from HTS ${m.hts}` : `consistent with HTS ${m.hts}` });
    row('Sulfur (mass %)', dq.sulfur_pct, avg(q.sulfur_sum), 2);
  }
  if (m.product === 'natural_gas' || dq.heating_value !== undefined) {
    row('Heating value (Btu/scf)', dq.heating_value, avg(q.heating_value_sum), 0);
  }
  return h('div', {},
    h('table.quality', {}, h('thead', {}, h('tr', {}, ['', 'Declared', 'Measured', 'Difference', ''].map((t) => h('th', { text: t })))), h('tbody', {}, rows)),
    h('p.muted', { text: `${fmtNum(q.samples || 0)} samples, volume-weighted.` }));
}

function summary(e) {
  const d = e.event.data || {};
  switch (shortType(e.type)) {
    case 'position': return `${fmtNum(d.lat, 3)}, ${fmtNum(d.lon, 3)} at ${fmtNum(d.speed_kmh)} km/h`;
    case 'meter': return `${d.meter}: ${fmtNum(d.flow_rate)} ${d.unit}/h, total ${fmtNum(d.cumulative)} ${d.unit}, ${fmtNum(d.pressure, 1)} ${d.pressure_unit || ''}`;
    case 'quality': return Object.entries(d).filter(([, v]) => v !== null).map(([k, v]) => `${k} ${v}`).join(', ');
    case 'seal': return `seal ${d.seal} ${d.state}`;
    case 'manifest': return `in-bond ${d.inbond_number}, ${d.mode} ${d.product}, ${fmtNum(d.declared_quantity)} ${d.unit}`;
    case 'alert': return `${d.action} ${d.alert} by ${d.by}${d.note ? `: “${d.note}”` : ''}`;
    case 'delivered': return `ticket ${d.ticket}: ${fmtNum(d.net)} ${d.unit} net`;
    default: return d.port ? `port ${d.port}` : '';
  }
}
