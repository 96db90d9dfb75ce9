// The live stream: /v1/stream read with fetch, not EventSource.
//
// EventSource cannot send an Authorization header, and the alternatives (a
// token in the query string, a cookie) put the bearer token in access logs,
// browser history and Referer headers, or open the API to cross-site
// requests. fetch sends the same header as every other call, plus
// Last-Event-ID on reconnect, so a resumed stream misses nothing and
// repeats nothing (the server's id is every partition's position).
//
// This module parses text/event-stream itself: id, event, data and retry
// fields, comments (heartbeats) ignored, as the HTML spec describes.

import { token } from './api.js';

/**
 * Connects and keeps reconnecting until stop() is called.
 * onMessage(name, data, id) gets each message's event name and parsed data;
 * onState('live' | 'connecting' | 'down', detail) reports the connection.
 */
export function connect({ onMessage, onState, query = '' }) {
  let lastId = '', retry = 2000, stopped = false, ctl;
  const seen = new Set(); // alert transitions' CloudEvent ids: a processor crash may republish one

  async function once() {
    ctl = new AbortController();
    const headers = { Authorization: `Bearer ${token()}`, Accept: 'text/event-stream' };
    if (lastId) headers['Last-Event-ID'] = lastId;
    const res = await fetch('/v1/stream' + query, { headers, signal: ctl.signal, cache: 'no-store' });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      const err = new Error(body.error || `HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    onState('live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '', msg = { data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
        if (line === '') { dispatch(msg); msg = { data: [] }; continue; }
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'data') msg.data.push(val);
        else if (field === 'event') msg.event = val;
        else if (field === 'id') msg.id = val;
        else if (field === 'retry' && /^\d+$/.test(val)) retry = +val;
      }
    }
  }

  function dispatch(msg) {
    if (msg.id !== undefined) lastId = msg.id;
    if (!msg.data.length) return;
    let data;
    try { data = JSON.parse(msg.data.join('\n')); } catch { data = msg.data.join('\n'); }
    if (msg.event === 'alert') {
      if (seen.has(data.id)) return;
      seen.add(data.id);
      // A republished transition follows its original closely: the last
      // few thousand ids are enough, and the set stays bounded.
      if (seen.size > 5000) seen.delete(seen.values().next().value);
    }
    onMessage(msg.event || 'message', data, msg.id);
  }

  (async () => {
    let backoff = retry;
    while (!stopped) {
      onState('connecting');
      try {
        await once();
        backoff = retry;
      } catch (e) {
        if (stopped) return;
        onState('down', e.message);
        if (e.status === 401 || e.status === 403) return; // a new token restarts it
        if (e.status === 400) lastId = ''; // an id this server never sent: start from now
      }
      if (stopped) return;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 30000);
    }
  })();

  return {
    stop() { stopped = true; ctl?.abort(); },
    // drop ends the current connection as a network failure would: the
    // loop reconnects with Last-Event-ID (the browser test uses it).
    drop() { ctl?.abort(); },
  };
}
