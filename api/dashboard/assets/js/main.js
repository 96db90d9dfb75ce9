// The dashboard's entry: sign-in, the routes (#/ the live map and feed,
// #/shipments/ID a shipment, #/reports the DOE reports), and the one stream
// that feeds them all.

import { takeTokenFromFragment, token, setToken, clearToken, get, all, whoAmI } from './api.js';
import { connect } from './stream.js';
import { LiveMap } from './map.js';
import { Feed } from './feed.js';
import { ShipmentPage } from './shipment.js';
import { showReports } from './reports.js';

const $ = (sel) => document.querySelector(sel);

const app = {
  role: '',
  ships: new Map(), // ShipmentSummary by ID, kept current from the stream
  map: null,
  feed: null,
  page: null, // the open ShipmentPage
  stream: null,
};

// What the browser test (and an officer's devtools) may look at: the
// stream's connections and the alerts as the feed holds them.
window.inbondDebug = {
  connects: 0,
  drop: () => app.stream?.drop(),
  alerts: () => [...(app.feed?.alerts.values() || [])].map((a) => [a.id, a.status, a.history?.length || 0]),
};

takeTokenFromFragment();
window.addEventListener('inbond:unauthorized', () => signIn('That token is not valid (or no longer is). Paste a token:'));
$('#login form').addEventListener('submit', (e) => {
  e.preventDefault();
  setToken($('#token-input').value);
  $('#token-input').value = '';
  start();
});
$('#logout').addEventListener('click', () => { clearToken(); app.stream?.stop(); signIn('Signed out. Paste a token:'); });
$('#show-resolved').addEventListener('change', (e) => app.feed?.setShowResolved(e.target.checked));
window.addEventListener('hashchange', route);
start();

function signIn(message) {
  $('#login').hidden = false;
  $('#login .why').textContent = message || '';
  for (const v of document.querySelectorAll('.view')) v.hidden = true;
  $('#token-input').focus();
}

async function start() {
  if (!token()) return signIn('Paste an API token (inbond demo prints one), or open the link it prints.');
  try {
    app.role = await whoAmI();
  } catch (e) {
    if (e.status !== 401) signIn(`The API did not answer: ${e.message}`);
    return;
  }
  $('#login').hidden = true;
  $('#logout').hidden = false;
  $('#who').textContent = app.role;
  document.body.dataset.role = app.role;
  if (app.role === 'doe') { // analysts see reports and aggregates only
    location.hash = '#/reports';
    route();
    return;
  }
  const canCommand = app.role === 'cbp';
  app.feed = new Feed($('#alerts'), $('#cmd-dialog'), { canCommand, onOpen: open, onChange: () => redraw() });
  app.map = new LiveMap($('#map'), open);
  const [base, layers] = await Promise.all([fetch('/assets/basemap.json').then((r) => r.json()), get('/v1/map')]);
  app.map.drawBasemap(base);
  app.map.drawLayers(layers);
  // The stream first, so nothing between the lists' reads and its start is
  // missed; the lists then fill in what happened before.
  app.stream?.stop();
  app.stream = connect({ onMessage, onState });
  await refresh();
  app.feed.load(await all('/v1/alerts?limit=200', 5));
  app.refreshTimer ??= setInterval(refresh, 30000); // a safety net: the stream carries every change
  route();
}

// The map's shipments: the movements under way and any with an alert not
// resolved, never the (many) finished ones, which the index filters skip.
const MAP_QUERIES = ['status=in_transit', 'status=diverted', 'status=declared', 'status=arrived', 'has_open_alert=true'];

async function refresh() {
  const lists = await Promise.all(MAP_QUERIES.map((q) => all(`/v1/shipments?${q}&limit=500`, 10)));
  const next = new Map();
  for (const sh of lists.flat()) next.set(sh.id, { ...sh, meters: app.ships.get(sh.id)?.meters });
  app.ships = next;
  redraw();
}

let drawPending = false;
function redraw() {
  if (drawPending || !app.map) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    app.map.update(app.ships, app.feed.alerts);
    const moving = [...app.ships.values()].filter((s) => s.status === 'in_transit' || s.status === 'diverted').length;
    $('#count').textContent = `${moving} in transit · ${app.ships.size} on the map`;
  });
}

let unknown = new Set(), unknownTimer = null;
function onMessage(name, data) {
  if (name === 'alert') {
    app.feed.transition(data);
    app.page?.alert(data);
    return;
  }
  if (name !== 'shipment') return;
  const ev = data.event;
  let sh = app.ships.get(data.shipment);
  if (!sh) {
    // A shipment the lists have not shown yet: read its summary soon, in one batch.
    unknown.add(data.shipment);
    unknownTimer ??= setTimeout(async () => { unknownTimer = null; unknown = new Set(); await refresh(); }, 1000);
  } else {
    sh.last_event_at = data.time;
    if (ev.type.endsWith('.position.v1')) {
      sh.position = { lat: ev.data.lat, lon: ev.data.lon, speed_kmh: ev.data.speed_kmh, at: ev.time };
      if (sh.status === 'declared') sh.status = 'in_transit';
    } else if (ev.type.endsWith('.meter.v1')) {
      (sh.meters ??= new Set()).add(ev.data.meter);
      app.map.meterReading(ev.data.meter, ev.data);
    } else if (/\.carrier\.(arrived|exported|delivered|departed|diversion_approved)\.v1$/.test(ev.type)) {
      unknown.add(data.shipment); // a status change: re-read the summaries
      unknownTimer ??= setTimeout(async () => { unknownTimer = null; unknown = new Set(); await refresh(); }, 1000);
    }
    redraw();
  }
  app.page?.update(data);
}

function onState(state, detail) {
  if (state === 'live') window.inbondDebug.connects++;
  const el = $('#conn');
  el.dataset.state = state;
  el.textContent = state === 'live' ? 'live' : state === 'connecting' ? 'connecting…' : `stream down: ${detail || ''}`;
}

function open(id) { location.hash = `#/shipments/${encodeURIComponent(id)}`; }

function route() {
  if (!app.role) return;
  const hash = location.hash.replace(/^#/, '') || '/';
  app.page?.dispose();
  app.page = null;
  for (const v of document.querySelectorAll('.view')) v.hidden = true;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.getAttribute('href') === '#' + hash);
  const m = /^\/shipments\/(.+)$/.exec(hash);
  if (m && app.feed) {
    $('#view-shipment').hidden = false;
    app.page = new ShipmentPage($('#view-shipment'), decodeURIComponent(m[1]), { feed: app.feed, canCommand: app.role === 'cbp', onOpen: open });
  } else if (hash === '/reports' || !app.feed) {
    $('#view-reports').hidden = false;
    showReports($('#view-reports'), app.role);
  } else {
    $('#view-map').hidden = false;
    redraw();
  }
}
