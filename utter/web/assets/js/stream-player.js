// Live playback of a generation while it is being made. The worker publishes each finished
// chunk as a short WAV (the task's `audio_parts`, each with a signed URL a browser fetches
// without headers); this fetches each new one as the task poll lists it, decodes it and
// schedules it with Web Audio right after the one before, so the first sentence is heard
// while the rest is still being generated. When the task ends, the page hands over to its
// normal player (the finished file, which History keeps) at position(); stop() ends it.
//
// A task without `audio_parts` (a server that does not publish pieces) leaves this idle and
// hidden: the page then behaves as it always did.
//
// Browsers start sound only after a user gesture: prime() is called from the click that
// started the task. A task picked up later (a reload, coming back to the page) is offered
// with a button instead of starting by itself.

import { h } from './dom.js';
import { request } from './http.js';
import { onPlayerStart, stopAll } from './player.js';

// A piece is scheduled at least this far ahead, so its start is never already past.
const LEAD_SECONDS = 0.05;
const TICK_MS = 100;
const WORDS = {
  loading: 'Playback starts as soon as the first part is ready…',
  playing: 'Playing while generating…',
  waiting: 'Waiting for the next part…',
  ended: 'Played everything generated so far.',
  offer: 'The first parts are ready.',
  failed: 'Could not play the parts as they arrive; the finished file will be playable here.',
};

function audioContextClass() {
  return window.AudioContext || window.webkitAudioContext || null;
}

export function createLivePlayer() {
  const text = h('span', { class: 'live-text' });
  const listen = h('button', { type: 'button', class: 'button button-small', hidden: true }, 'Listen while it is generated');
  const el = h('p', { class: 'live-status', role: 'status', hidden: true, dataset: { live: 'off', audioContext: 'none', partsPlayed: '0' } },
    h('span', { class: 'live-dot', 'aria-hidden': 'true' }), text, listen);

  let context = null;
  let primed = false; // a gesture allowed sound for the task started next
  let session = null; // the task being played: { id, requested, pending, next, cursor, offset, scheduled, done, pumping, failed }
  let timer = null;
  let offStart = null;

  function show(state) {
    el.dataset.live = state;
    el.dataset.audioContext = context ? context.state : 'none';
    el.dataset.partsPlayed = String(session ? playedCount() : 0);
    el.hidden = state === 'off';
    listen.hidden = state !== 'offer';
    // Only a change is written: the line is a live region, read out on every change.
    const words = WORDS[state] || '';
    if (text.textContent !== words) text.textContent = words;
  }

  function ensureContext() {
    if (context && context.state !== 'closed') return context;
    const Context = audioContextClass();
    if (!Context) return null;
    context = new Context();
    return context;
  }

  function playedCount() {
    if (!context) return 0;
    const now = context.currentTime;
    return session.scheduled.filter((piece) => piece.start <= now).length;
  }

  // Seconds into the generated clip heard so far: within the piece sounding now, or the
  // end of the last one heard while waiting for the next.
  function position() {
    if (!session || !context) return 0;
    const now = context.currentTime;
    let heard = 0;
    for (const piece of session.scheduled) {
      if (piece.start > now) break;
      heard = piece.offset + Math.min(piece.duration, now - piece.start);
    }
    return heard;
  }

  // Whether someone is listening to this task's pieces and has not heard them all: playing,
  // about to, or waiting for the next piece.
  function listening() {
    if (!session || !session.started || session.failed || !context || context.state !== 'running') return false;
    return state() !== 'ended';
  }

  function state() {
    if (!session) return 'off';
    if (session.failed) return 'failed';
    if (!session.started) return 'offer';
    if (!context || context.state !== 'running' || !session.scheduled.length) return 'loading';
    const now = context.currentTime;
    if (now < session.scheduled[0].start) return 'loading';
    // A piece sounding, or the next one scheduled to start in a moment.
    if (now < session.cursor) return 'playing';
    return session.done && !session.pending.size ? 'ended' : 'waiting';
  }

  function tick() {
    const now = state();
    show(now);
    if ((now === 'ended' || now === 'failed') && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  async function fetchPiece(url) {
    const blob = await request(url, { expect: 'blob', offline: 'Could not load the audio. Check your connection and try again.' });
    const bytes = await blob.arrayBuffer();
    return context.decodeAudioData(bytes);
  }

  function schedule(buffer) {
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    const start = Math.max(session.cursor, context.currentTime + LEAD_SECONDS);
    source.start(start);
    session.scheduled.push({ start, duration: buffer.duration, offset: session.offset, source });
    session.offset += buffer.duration;
    session.cursor = start + buffer.duration;
  }

  // Schedules the pieces in index order, each once it is decoded.
  async function pump(current) {
    if (current.pumping) return;
    current.pumping = true;
    try {
      while (session === current && current.pending.has(current.next)) {
        const buffer = await current.pending.get(current.next);
        if (session !== current || context === null || context.state === 'closed') return;
        current.pending.delete(current.next);
        schedule(buffer);
        current.next += 1;
        tick();
      }
    } catch {
      // A piece that cannot be fetched or decoded: stop here rather than skip part of the
      // speech; the finished file follows.
      if (session === current) {
        silence(current);
        current.failed = true;
        tick();
      }
    } finally {
      current.pumping = false;
    }
  }

  function fetchNew(current, parts) {
    for (const part of parts) {
      if (!part || typeof part.url !== 'string' || current.requested.has(part.index)) continue;
      current.requested.add(part.index);
      const piece = fetchPiece(part.url);
      piece.catch(() => {}); // read by pump(), in order
      current.pending.set(part.index, piece);
    }
    pump(current);
  }

  function silence(current) {
    for (const piece of current.scheduled) {
      try { piece.source.stop(); } catch { /* not started yet, or already stopped */ }
      piece.source.disconnect();
    }
    current.scheduled = [];
    current.cursor = 0;
  }

  function begin(current) {
    current.started = true;
    if (!ensureContext()) {
      current.failed = true;
      return;
    }
    if (context.state === 'suspended') context.resume().catch(() => {});
    stopAll();
    if (!offStart) offStart = onPlayerStart(() => stop());
    if (!timer) timer = setInterval(tick, TICK_MS);
    fetchNew(current, current.parts);
  }

  listen.addEventListener('click', () => {
    if (session && !session.started) {
      begin(session);
      tick();
    }
  });

  // Ends the live playback at once (leaving the page, a cancel, the finished file taking over).
  function stop() {
    if (session) silence(session);
    session = null;
    clearInterval(timer);
    timer = null;
    if (offStart) offStart();
    offStart = null;
    if (context) context.close().catch(() => {});
    context = null;
    primed = false;
    show('off');
  }

  return {
    el,
    position,
    listening,
    stop,

    // Called from the click that starts a task: its pieces may then play by themselves.
    prime() {
      stop();
      primed = Boolean(ensureContext());
      if (primed && context.state === 'suspended') context.resume().catch(() => {});
    },

    // Each poll's view of the followed task. Pieces not seen before are fetched and queued;
    // a task that failed or was cancelled stops the sound.
    follow(task) {
      if (!task) return;
      if (session && session.id !== task.id) stop();
      if (task.status === 'failed' || task.status === 'cancelled') {
        if (session) stop();
        return;
      }
      if (!Array.isArray(task.audio_parts)) return;
      const parts = [...task.audio_parts].sort((a, b) => a.index - b.index);
      const active = task.status === 'pending' || task.status === 'processing';
      if (!session) {
        // A task already finished never starts here: the normal player has it.
        if (!active) return;
        session = {
          id: task.id, parts, requested: new Set(), pending: new Map(), next: 0, cursor: 0, offset: 0,
          scheduled: [], done: false, pumping: false, started: false, failed: false,
        };
        if (primed) begin(session);
      }
      session.parts = parts;
      session.done = !active;
      if (!session.started) {
        // Offered while there is something to hear and more is being made.
        if (!active) stop();
        else show(parts.length ? 'offer' : 'off');
        return;
      }
      if (!session.failed) fetchNew(session, parts);
      tick();
    },
  };
}
