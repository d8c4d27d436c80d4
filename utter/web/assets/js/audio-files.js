// What the clone page accepts as reference audio, and the content type to upload it as.
// Kept in step with the `references` bucket's allowed types (migration 0003). The size and
// length limits come from the server (GET /api/limits); these say them as the server does.

const TYPES = {
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/opus',
  webm: 'audio/webm',
};

export const ACCEPT = [...Object.keys(TYPES).map((ext) => `.${ext}`), 'audio/*'].join(',');
export const FORMATS_TEXT = 'WAV, MP3, M4A, AAC, FLAC, OGG, Opus or WebM';

export function extensionOf(name) {
  const match = /\.([A-Za-z0-9]+)$/.exec(name || '');
  return match ? match[1].toLowerCase() : '';
}

export function isAccepted(file) {
  return Boolean(file) && extensionOf(file.name) in TYPES;
}

export function contentType(file) {
  return TYPES[extensionOf(file.name)] || file.type || 'application/octet-stream';
}

function trim(value) {
  const text = value.toFixed(1);
  return text.endsWith('.0') ? text.slice(0, -2) : text;
}

// "50 MB" (binary megabytes, as the bucket's limit).
export function sayBytes(bytes) {
  return `${trim(bytes / (1024 * 1024))} MB`;
}

// "3 seconds", "5 minutes"; short: "3 s", "5 min".
export function saySeconds(seconds, { short = false } = {}) {
  if (seconds >= 60 && seconds % 60 === 0) {
    const minutes = seconds / 60;
    return short ? `${minutes} min` : `${minutes} minute${minutes === 1 ? '' : 's'}`;
  }
  return short ? `${trim(seconds)} s` : `${trim(seconds)} second${seconds === 1 ? '' : 's'}`;
}
