// Audio from the API. `/api/.../audio` and `/api/voices/{id}/preview` answer with a 302
// to a signed URL and need the bearer token, which an <audio src> cannot send. So the
// player fetches the bytes with the token (the fetch follows the redirect), keeps them
// as a Blob and plays an object URL. Why a Blob rather than handing the signed URL to
// the <audio> element: the bytes are needed anyway to draw a waveform when the API has
// no peaks (voice previews) and to save a download under a proper file name, an object
// URL never expires while a page stays open (signed URLs last an hour), and no request
// has to be cut off half-way. The cost is that playback starts once the file is loaded.

import { session } from './api.js';
import { buildUrl, request } from './http.js';

const MAX_CACHED = 12;
const cache = new Map(); // key -> Promise<Blob>

export function loadAudio(src, { format } = {}) {
  const key = format ? `${src}|${format}` : src;
  if (cache.has(key)) {
    const hit = cache.get(key);
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const promise = fetchAudio(src, format);
  promise.catch(() => cache.delete(key));
  cache.set(key, promise);
  while (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value);
  return promise;
}

// The bytes of `src`, following the API's 302; the token goes only to this site's /api.
function fetchAudio(src, format) {
  const url = buildUrl(src, format ? { format } : undefined);
  const ours = url.origin === location.origin && url.pathname.startsWith('/api/');
  return request(url.href, {
    session: ours ? session : null,
    expect: 'blob',
    offline: 'Could not load the audio. Check your connection and try again.',
  });
}

// Saves the audio under `filename`, as a download.
export async function downloadAudio(src, filename, { format } = {}) {
  const blob = await loadAudio(src, { format });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the URL by now; give it time before letting it go.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Up to `count` peak levels (0..1) of the audio in `blob`, for drawing a waveform.
export async function peaksFromBlob(blob, count = 400) {
  const bytes = await blob.arrayBuffer();
  const Offline = window.OfflineAudioContext || window.webkitOfflineAudioContext;
  const context = new Offline(1, 1, 44100);
  const audio = await context.decodeAudioData(bytes);
  return { peaks: peaksFromSamples(audio.getChannelData(0), count), duration: audio.duration };
}

export function peaksFromSamples(samples, count = 400) {
  const n = Math.max(1, Math.min(count, samples.length));
  const size = samples.length / n;
  const peaks = new Array(n);
  let top = 0;
  for (let i = 0; i < n; i += 1) {
    let max = 0;
    const end = Math.min(samples.length, Math.floor((i + 1) * size));
    for (let j = Math.floor(i * size); j < end; j += 1) {
      const v = Math.abs(samples[j]);
      if (v > max) max = v;
    }
    peaks[i] = max;
    if (max > top) top = max;
  }
  return top > 0 ? peaks.map((p) => p / top) : peaks;
}
