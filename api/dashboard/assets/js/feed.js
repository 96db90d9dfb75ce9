// The alert feed: every alert, newest first, updated from the stream, with
// an officer's acknowledge and resolve. A command is only sent here: the
// alert changes when the processor applies it from the log, and the feed
// shows that change when its transition arrives on the stream, not before.

import { post } from './api.js';
import { h, fmtTime } from './dom.js';

const RULES = {
  route: 'Route deviation', stop: 'Unscheduled stop', overdue: 'Overdue', late_report: 'Late arrival report',
  diversion: 'Unauthorized diversion', imbalance: 'Volume imbalance', misclassification: 'Misclassification',
  pressure: 'Pressure / flow anomaly', seal: 'Seal / tamper', gap: 'Telemetry gap', identity: 'Identity', replay: 'Sequence / replay',
};
export const ruleName = (r) => RULES[r] || r;

/** One alert as a list item, with its commands when the officer may send them. */
export function alertItem(a, { canCommand, onOpen, pending }) {
  const li = h('li.alert', { 'data-alert': a.id, 'data-status': a.status, 'data-severity': a.severity, 'data-shipment': a.shipment },
    h('div.alert-head',
      h(`span.sev.sev-${a.severity}`, { text: a.severity }),
      h('strong', { text: ruleName(a.rule) }),
      h('a.ship', { href: `#/shipments/${encodeURIComponent(a.shipment)}`, text: a.shipment, onclick: (e) => { if (onOpen) { e.preventDefault(); onOpen(a.shipment); } } }),
      h(`span.status.status-${a.status}`, { text: pending ? `${a.status} · ${pending} sent…` : a.status })),
    h('p.msg', { text: a.message }),
    h('div.alert-foot',
      h('time', { datetime: a.opened_at, text: `opened ${fmtTime(a.opened_at)}` }),
      lastNote(a),
      canCommand && a.status !== 'resolved' && h('span.actions',
        a.status === 'open' && h('button.ack', { type: 'button', 'data-action': 'acknowledge', text: 'Acknowledge' }),
        h('button.resolve', { type: 'button', 'data-action': 'resolve', text: 'Resolve' }))));
  return li;
}

function lastNote(a) {
  const c = [...(a.history || [])].reverse().find((x) => x.note);
  return c ? h('span.note', { text: `${c.by}: “${c.note}”` }) : null;
}

export class Feed {
  /** list: the <ol>; dialog: the command <dialog>; onOpen(id) opens a shipment. */
  constructor(list, dialog, { canCommand, onOpen, onChange }) {
    this.list = list;
    this.dialog = dialog;
    this.alerts = new Map(); // ID → alert
    this.pending = new Map(); // ID → the action sent, until its transition arrives
    this.opts = { canCommand, onOpen };
    this.onChange = onChange;
    this.showResolved = false;
    list.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-action]');
      if (b) this.ask(b.closest('li').dataset.alert, b.dataset.action);
    });
  }

  /** Replaces the feed's alerts with a list read from the API. */
  load(alerts) {
    for (const a of alerts) this.alerts.set(a.id, a);
    this.render();
  }

  /** Takes an alert transition from the stream (its data is the alert after it). */
  transition(ev) {
    const a = ev.data;
    const known = this.alerts.get(a.id);
    // Transitions of one alert come in order on its shipment's partition;
    // a list read after the stream started may be newer than a message.
    if (known && (known.history?.length || 0) > (a.history?.length || 0)) return;
    this.alerts.set(a.id, a);
    if (a.status === 'resolved' || (this.pending.get(a.id) === 'acknowledge' && a.status !== 'open')) this.pending.delete(a.id);
    this.render(known ? null : a.id);
  }

  setShowResolved(v) { this.showResolved = v; this.render(); }

  render(fresh) {
    const sorted = [...this.alerts.values()]
      .filter((a) => this.showResolved || a.status !== 'resolved')
      .sort((x, y) => (y.opened_at > x.opened_at ? 1 : y.opened_at < x.opened_at ? -1 : x.id < y.id ? -1 : 1));
    // Items are rebuilt only when their alert changed, so a button under
    // the officer's pointer stays where it is while other alerts arrive.
    this.items ??= new Map(); // ID → { li, key }
    const keep = new Set();
    const lis = sorted.slice(0, 200).map((a) => {
      keep.add(a.id);
      const key = `${a.status}|${a.history?.length}|${this.pending.get(a.id) || ''}`;
      let it = this.items.get(a.id);
      if (!it || it.key !== key) {
        it = { li: alertItem(a, { ...this.opts, pending: this.pending.get(a.id) }), key };
        if (a.id === fresh) it.li.classList.add('fresh');
        this.items.set(a.id, it);
      }
      return it.li;
    });
    for (const id of this.items.keys()) if (!keep.has(id)) this.items.delete(id);
    if (!lis.length) lis.push(h('li.empty', { text: this.showResolved ? 'No alerts.' : 'No active alerts.' }));
    const same = lis.length === this.list.children.length && lis.every((li, i) => this.list.children[i] === li);
    if (!same) this.list.replaceChildren(...lis);
    this.onChange?.(this.alerts);
  }

  /** Asks the officer for a note, then sends the command. */
  ask(id, action) {
    const a = this.alerts.get(id);
    if (!a) return;
    const d = this.dialog;
    d.querySelector('.what').textContent = `${action === 'resolve' ? 'Resolve' : 'Acknowledge'} ${ruleName(a.rule)} on ${a.shipment}`;
    d.querySelector('.error').textContent = '';
    const note = d.querySelector('textarea');
    note.value = '';
    const form = d.querySelector('form');
    const changes = a.history?.length || 0;
    form.onsubmit = async (e) => {
      e.preventDefault();
      if (e.submitter?.value === 'cancel') { d.close(); return; }
      try {
        await post(`/v1/alerts/${encodeURIComponent(id)}/${action === 'resolve' ? 'resolve' : 'ack'}`, { note: note.value });
        // The transition can come back on the stream before this answer
        // does: only wait for it if the alert has not changed since.
        if ((this.alerts.get(id)?.history?.length || 0) === changes) this.pending.set(id, action);
        d.close();
        this.render();
      } catch (err) {
        d.querySelector('.error').textContent = err.field ? `${err.field}: ${err.message}` : err.message;
      }
    };
    d.showModal();
    note.focus();
  }
}
