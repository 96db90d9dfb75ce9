// The live map: the Natural Earth basemap, the declared corridors, the
// pipelines drawn by their meters, the ports of entry, and a marker per
// conveyance that moves as its positions arrive on the stream.
//
// Colour says two things at once: a marker's fill is the shipment's status,
// its ring (and a pipeline's stroke) the highest severity of its open alerts.

import { project, viewBox, ringPath, linePath } from './geo.js';
import { s, fmtNum, fmtTime, severityRank } from './dom.js';

const SHOWN = new Set(['declared', 'in_transit', 'diverted', 'arrived']); // exported/concluded leave the map

export class LiveMap {
  /** svg: the <svg> element; onSelect(id) opens a shipment. */
  constructor(svg, onSelect) {
    this.svg = svg;
    this.onSelect = onSelect;
    this.markers = new Map(); // shipment → <g>
    this.pipelines = new Map(); // corridor ID → { path, entry, exit, corridor }
    svg.setAttribute('viewBox', viewBox(-127, 24, -66, 53));
    for (const id of ['land', 'regions', 'corridors', 'pipelines', 'ports', 'meters', 'markers']) {
      svg.append(s('g', { id: `layer-${id}` }));
    }
  }

  layer(id) { return this.svg.querySelector(`#layer-${id}`); }

  /** Draws the basemap file: country fills, then state and province lines. */
  drawBasemap(base) {
    const land = this.layer('land'), regions = this.layer('regions');
    land.replaceChildren(s('path', { class: 'land', d: base.countries.map((r) => ringPath(r)).join('') }));
    regions.replaceChildren(s('path', { class: 'region', d: base.regions.map((r) => ringPath(r)).join('') }));
  }

  /** Draws /v1/map's layers: corridors, pipelines with their meters, ports. */
  drawLayers(layers) {
    this.corridors = new Map(layers.corridors.map((c) => [c.id, c]));
    const routes = this.layer('corridors'), pipes = this.layer('pipelines'), meters = this.layer('meters');
    routes.replaceChildren(); pipes.replaceChildren(); meters.replaceChildren();
    for (const c of layers.corridors) {
      if (c.mode !== 'pipeline') {
        routes.append(s('path', { class: `route mode-${c.mode}`, d: linePath(c.line), 'data-corridor': c.id },
          s('title', { text: `${c.id}: ${c.description || ''}` })));
        continue;
      }
      const path = s('path', { class: 'pipeline idle', d: linePath(c.line), 'data-corridor': c.id },
        s('title', { text: `${c.id}: ${c.description || ''}` }));
      pipes.append(path);
      const meter = (m, end) => {
        const [x, y] = project(m.lon, m.lat);
        const g = s('g', { class: `meter ${end}`, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, 'data-meter': m.id },
          s('rect', { x: -4, y: -4, width: 8, height: 8 }), s('title', { text: `meter ${m.id} (${end} of ${c.id})` }));
        meters.append(g);
        return g;
      };
      this.pipelines.set(c.id, { corridor: c, path, entry: meter(c.entry_meter, 'entry'), exit: meter(c.exit_meter, 'exit') });
    }
    const ports = this.layer('ports');
    ports.replaceChildren();
    for (const p of layers.ports) {
      const [x, y] = project(p.lon, p.lat);
      const g = s('g', { class: p.used ? 'port used' : 'port', transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, 'data-port': p.code },
        s('circle', { r: p.used ? 3 : 1.6 }), s('title', { text: `port ${p.code} ${p.name}` }));
      if (p.used) g.append(s('text', { x: 5, y: 3, text: p.code }));
      ports.append(g);
    }
  }

  /**
   * Brings every marker and pipeline in line with the shipments (a Map of
   * ShipmentSummary by ID) and their active alerts (a Map of alert by ID).
   */
  update(ships, alerts) {
    const worst = new Map(); // shipment → highest open severity
    const meterSev = new Map(); // meter → highest open severity of the alerts naming it
    for (const a of alerts.values()) {
      if (a.status === 'resolved') continue;
      if ((severityRank[a.severity] || 0) > (severityRank[worst.get(a.shipment)] || 0)) worst.set(a.shipment, a.severity);
      const m = a.evidence?.meter;
      if (m && (severityRank[a.severity] || 0) > (severityRank[meterSev.get(m)] || 0)) meterSev.set(m, a.severity);
    }
    const layer = this.layer('markers');
    const live = new Set();
    const onPipe = new Map(); // corridor → shipments on it
    for (const sh of ships.values()) {
      if (sh.mode === 'pipeline') {
        const c = this.pipelineOf(sh);
        if (c) onPipe.set(c, [...(onPipe.get(c) || []), sh]);
        continue;
      }
      // A finished movement leaves the map, unless an alert on it is still
      // open: the officer needs to see where it was.
      if (!sh.position || (!SHOWN.has(sh.status) && !worst.has(sh.id))) continue;
      live.add(sh.id);
      let g = this.markers.get(sh.id);
      if (!g) {
        g = s('g', { class: 'marker', 'data-shipment': sh.id, tabindex: 0, role: 'button', onclick: () => this.onSelect(sh.id),
          onkeydown: (e) => e.key === 'Enter' && this.onSelect(sh.id) },
        s('circle', { class: 'ring', r: 9 }), shape(sh.mode), s('title'));
        layer.append(g);
        this.markers.set(sh.id, g);
      }
      const [x, y] = project(sh.position.lon, sh.position.lat);
      // A CSS transform (not the attribute) so the move is transitioned.
      g.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px)`;
      g.dataset.x = x.toFixed(1); g.dataset.y = y.toFixed(1);
      g.dataset.status = sh.status;
      g.dataset.severity = worst.get(sh.id) || 'none';
      g.setAttribute('class', `marker mode-${sh.mode || 'unknown'} status-${sh.status} sev-${worst.get(sh.id) || 'none'}`);
      g.querySelector('title').textContent = `${sh.id} · ${sh.carrier || '?'} · ${sh.mode || ''} ${sh.status}` +
        ` · ${fmtNum(sh.position.speed_kmh)} km/h at ${fmtTime(sh.position.at)}` + (worst.get(sh.id) ? ` · ${worst.get(sh.id)} alert` : '');
    }
    for (const [id, g] of this.markers) {
      if (!live.has(id)) { g.remove(); this.markers.delete(id); }
    }
    for (const [id, p] of this.pipelines) {
      const shs = onPipe.get(id) || [];
      const flowing = shs.some((sh) => sh.status === 'in_transit' || sh.status === 'diverted');
      let sev = 'none';
      for (const sh of shs) if ((severityRank[worst.get(sh.id)] || 0) > (severityRank[sev] || 0)) sev = worst.get(sh.id);
      p.path.setAttribute('class', `pipeline ${flowing ? 'flowing' : 'idle'} sev-${sev}`);
      p.path.dataset.severity = sev;
      p.path.querySelector('title').textContent = `${id}: ${shs.length} batch(es), ${flowing ? 'flowing' : 'idle'}` +
        (sev !== 'none' ? `, ${sev} alert open` : '') + (shs.length ? ' — ' + shs.map((x) => x.id).join(', ') : '');
      for (const m of [p.entry, p.exit]) {
        const ms = meterSev.get(m.dataset.meter) || (sev !== 'none' && m === p.exit ? sev : 'none');
        m.setAttribute('class', `meter ${m === p.entry ? 'entry' : 'exit'} ${flowing ? 'flowing' : 'idle'} sev-${ms}`);
      }
    }
  }

  /** Shows a meter's latest reading in its tooltip. */
  meterReading(meter, d) {
    for (const p of this.pipelines.values()) {
      for (const m of [p.entry, p.exit]) {
        if (m.dataset.meter !== meter) continue;
        m.querySelector('title').textContent = `meter ${meter}: ${fmtNum(d.flow_rate)} ${d.unit}/h, ` +
          `${fmtNum(d.cumulative)} ${d.unit} total, ${fmtNum(d.pressure, 1)} ${d.pressure_unit || 'psig'}`;
      }
    }
  }

  /**
   * The pipeline a pipeline shipment flows in. A pipeline's manifest names
   * its meter pair, not a corridor, and the list's summary carries neither:
   * the meters seen on the stream decide, else the declared port pair.
   */
  pipelineOf(sh) {
    if (this.pipelines.has(sh.corridor)) return sh.corridor;
    for (const [id, p] of this.pipelines) {
      if (sh.meters?.has(p.corridor.entry_meter.id) || sh.meters?.has(p.corridor.exit_meter.id)) return id;
    }
    for (const [id, p] of this.pipelines) {
      if (p.corridor.origin_port === sh.origin_port && p.corridor.destination_port === sh.destination) return id;
    }
    return undefined;
  }
}

// One shape per mode, so colour-blind officers can still tell them apart.
function shape(mode) {
  switch (mode) {
    case 'rail': return s('rect', { class: 'body', x: -5, y: -5, width: 10, height: 10 });
    case 'vessel': case 'barge': return s('path', { class: 'body', d: 'M0,-6L6,5L-6,5Z' });
    default: return s('circle', { class: 'body', r: 5 });
  }
}
