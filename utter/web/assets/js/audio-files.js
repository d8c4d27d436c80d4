// What the clone page accepts as reference audio, and the content type to upload it as.
// Kept in step with the `references` bucket's allowed types (migration 0003).

export const MAX_BYTES = 50 * 1024 * 1024;

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
