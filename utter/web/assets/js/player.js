// The waveform player: a canvas drawn from peaks (the API's, or measured from the audio
// once it is loaded), a play/pause button and a seek bar that works from the keyboard
// (a slider: arrows move 5 s, Page keys 30 s, Home/End, Space plays or pauses).
// Only one player plays at a time across the page.

import { h, formatClock, uid } from './dom.js';
import { plainWords } from './http.js';
import { loadAudio, peaksFromBlob } from './media.js';
import { onThemeChange } from './theme.js';

let playing = null;
const starts = new Set();

const PLAY_ICON = '▶';
const PAUSE_ICON = '❚❚';

export function stopAll() {
  if (playing) playing.pause();
}

// Calls `fn` whenever any player starts playing, for sound made outside these players (the
// Generate page's live playback) to stop then. Returns the function that stops listening.
export function onPlayerStart(fn) {
  starts.add(fn);
  return () => starts.delete(fn);
}

export function createPlayer({ src = null, blob = null, peaks = null, duration = null, label = 'audio' } = {}) {
  const audio = new Audio();
  audio.preload = 'metadata';
  let objectUrl = null;
  let loadPromise = null;
  let levels = Array.isArray(peaks) && peaks.length ? peaks.map(Number) : null;
  let total = Number(duration) || 0;
  let frame = null;
  let destroyed = false;

  const canvas = h('canvas', { 'aria-hidden': 'true' });
  const time = h('span', { class: 'player-time' });
  const error = h('p', { class: 'player-error', role: 'alert', hidden: true });
  const button = h('button', { type: 'button', class: 'play-button', 'aria-label': `Play ${label}` },
    h('span', { 'aria-hidden': 'true' }, PLAY_ICON));
  const wave = h('div', {
    class: 'wave', role: 'slider', tabindex: '0', 'aria-label': `Position in ${label}`,
    'aria-valuemin': '0', 'aria-valuemax': '0', 'aria-valuenow': '0', id: uid('wave'),
  }, canvas);
  const el = h('div', { class: 'player', role: 'group', 'aria-label': `Player: ${label}`, dataset: { state: 'idle' } },
    button, wave, time, error);

  const api = {
    el,
    get state() { return el.dataset.state; },
    play,
    pause,
    destroy,
    // Fetch and measure now (the waveform and length appear) without playing.
    preload() { load().catch(() => {}); },
    // Resolves once the audio is loaded and measured (rejects when it could not be).
    loaded() { return load(); },
    // Plays from `seconds` in: where another playback of the same audio left off. `quiet`:
    // a refusal (no user gesture yet) leaves the player paused without an error.
    async playFrom(seconds, { quiet = false } = {}) {
      await seek(seconds);
      await play({ quiet });
    },
  };

  function setState(state) {
    el.dataset.state = state;
    const isPlaying = state === 'playing';
    button.firstChild.textContent = isPlaying ? PAUSE_ICON : PLAY_ICON;
    button.setAttribute('aria-label', `${isPlaying ? 'Pause' : 'Play'} ${label}`);
    button.setAttribute('aria-busy', String(state === 'loading'));
  }

  function position() {
    return audio.currentTime || 0;
  }

  function updateTime() {
    const now = position();
    time.textContent = total ? `${formatClock(now)} / ${formatClock(total)}` : formatClock(now);
    wave.setAttribute('aria-valuemax', String(Math.round(total)));
    wave.setAttribute('aria-valuenow', String(Math.round(now)));
    wave.setAttribute('aria-valuetext', `${formatClock(now)} of ${formatClock(total)}`);
  }

  function colors() {
    const style = getComputedStyle(el);
    return {
      wave: style.getPropertyValue('--wave').trim() || '#b8b8b8',
      played: style.getPropertyValue('--wave-played').trim() || '#111',
    };
  }

  function draw() {
    if (destroyed) return;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, wave.clientWidth);
    const height = Math.max(1, wave.clientHeight);
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const { wave: waveColor, played } = colors();
    const bar = 2;
    const gap = 1;
    const bars = Math.max(1, Math.floor(width / (bar + gap)));
    const progress = total ? position() / total : 0;
    const mid = height / 2;
    for (let i = 0; i < bars; i += 1) {
      let level = 0.04;
      if (levels && levels.length) {
        const from = Math.floor((i / bars) * levels.length);
        const to = Math.max(from + 1, Math.floor(((i + 1) / bars) * levels.length));
        let max = 0;
        for (let j = from; j < to && j < levels.length; j += 1) max = Math.max(max, levels[j]);
        level = Math.max(0.04, Math.min(1, max));
      }
      const barHeight = Math.max(2, level * (height - 4));
      ctx.fillStyle = (i + 0.5) / bars <= progress ? played : waveColor;
      ctx.fillRect(i * (bar + gap), mid - barHeight / 2, bar, barHeight);
    }
  }

  function animate() {
    cancelAnimationFrame(frame);
    const step = () => {
      updateTime();
      draw();
      if (!audio.paused && !destroyed) frame = requestAnimationFrame(step);
    };
    step();
  }

  function load() {
    if (loadPromise) return loadPromise;
    setState('loading');
    loadPromise = (async () => {
      const data = blob || await loadAudio(src);
      objectUrl = URL.createObjectURL(data);
      if (!levels) {
        try {
          const measured = await peaksFromBlob(data);
          levels = measured.peaks;
          if (!total) total = measured.duration;
        } catch {
          levels = null; // not decodable here; the <audio> element may still play it
        }
      }
      if (!total) {
        attach();
        await new Promise((resolve) => {
          if (audio.readyState >= 1) resolve();
          else audio.addEventListener('loadedmetadata', resolve, { once: true });
          audio.addEventListener('error', resolve, { once: true });
        });
        if (Number.isFinite(audio.duration)) total = audio.duration;
      }
      draw();
      updateTime();
      if (el.dataset.state === 'loading') setState('ready');
      return audio;
    })();
    loadPromise.catch((err) => {
      loadPromise = null;
      setState('idle');
      showError(plainWords(err));
    });
    return loadPromise;
  }

  // The <audio> element gets its source only when it is needed (play, seek, or a length
  // the decoder could not tell): a player that was only looked at never starts a media
  // load that leaving the page would then cut off.
  function attach() {
    if (objectUrl && !audio.getAttribute('src')) audio.src = objectUrl;
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  async function play({ quiet = false } = {}) {
    error.hidden = true;
    try {
      await load();
    } catch {
      return;
    }
    if (destroyed) return;
    attach();
    if (playing && playing !== api) playing.pause();
    playing = api;
    try {
      await audio.play();
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      setState('paused');
      if (!quiet || !err || err.name !== 'NotAllowedError') showError('This audio could not be played in this browser.');
    }
  }

  function pause() {
    audio.pause();
  }

  async function seek(seconds) {
    try {
      await load();
    } catch {
      return;
    }
    if (!total) return;
    attach();
    audio.currentTime = Math.max(0, Math.min(total, seconds));
    updateTime();
    draw();
    if (el.dataset.state === 'loading') setState('paused');
  }

  function toggle() {
    if (audio.paused) play();
    else pause();
  }

  audio.addEventListener('play', () => {
    setState('playing');
    animate();
    for (const fn of starts) fn(api);
  });
  audio.addEventListener('pause', () => {
    if (playing === api) playing = null;
    setState(audio.ended ? 'ended' : 'paused');
    updateTime();
    draw();
  });
  audio.addEventListener('ended', () => {
    setState('ended');
    updateTime();
    draw();
  });
  audio.addEventListener('error', () => {
    if (!audio.getAttribute('src')) return;
    setState('paused');
    showError('This audio could not be played in this browser.');
  });

  button.addEventListener('click', toggle);
  wave.addEventListener('pointerdown', (event) => {
    const rect = wave.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
    wave.focus();
    load().then(() => seek(fraction * total)).catch(() => {});
  });
  wave.addEventListener('keydown', (event) => {
    const steps = { ArrowLeft: -5, ArrowDown: -5, ArrowRight: 5, ArrowUp: 5, PageDown: -30, PageUp: 30 };
    if (event.key in steps) {
      event.preventDefault();
      seek(position() + steps[event.key]);
    } else if (event.key === 'Home') {
      event.preventDefault();
      seek(0);
    } else if (event.key === 'End') {
      event.preventDefault();
      seek(total);
    } else if (event.key === ' ' || event.key === 'Enter' || event.key === 'k') {
      event.preventDefault();
      toggle();
    }
  });

  const resize = new ResizeObserver(() => draw());
  resize.observe(wave);
  const offTheme = onThemeChange(() => requestAnimationFrame(draw));

  function destroy() {
    destroyed = true;
    cancelAnimationFrame(frame);
    audio.pause();
    if (playing === api) playing = null;
    resize.disconnect();
    offTheme();
    audio.removeAttribute('src');
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  }

  updateTime();
  requestAnimationFrame(draw);
  return api;
}
