// Records the microphone in the browser and returns a WAV file: 16 kHz, 16-bit, mono,
// which is what a reference clip needs and keeps uploads small. Samples come from an
// AudioWorklet (or a ScriptProcessor where worklets are missing); the level meter is the
// RMS of each chunk. Resampling goes through an OfflineAudioContext, which filters
// properly instead of dropping samples.

const TARGET_RATE = 16000;

export function recordingSupported() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.AudioContext);
}

export async function startRecording({ onLevel } = {}) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  const chunks = [];
  const started = performance.now();

  const take = (samples) => {
    chunks.push(samples);
    if (onLevel) {
      let sum = 0;
      for (let i = 0; i < samples.length; i += 1) sum += samples[i] * samples[i];
      onLevel(Math.sqrt(sum / samples.length));
    }
  };

  let node;
  const silent = context.createGain();
  silent.gain.value = 0; // keeps the graph pulling samples without playing them back
  if (context.audioWorklet) {
    await context.audioWorklet.addModule('/assets/js/recorder-worklet.js');
    node = new AudioWorkletNode(context, 'utter-pcm-capture', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1 });
    node.port.onmessage = (event) => take(event.data);
  } else {
    node = context.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (event) => take(new Float32Array(event.inputBuffer.getChannelData(0)));
  }
  source.connect(node);
  node.connect(silent);
  silent.connect(context.destination);

  return {
    elapsed() { return (performance.now() - started) / 1000; },
    async stop() {
      source.disconnect();
      node.disconnect();
      for (const track of stream.getTracks()) track.stop();
      const rate = context.sampleRate;
      await context.close();
      const length = chunks.reduce((n, chunk) => n + chunk.length, 0);
      const samples = new Float32Array(length);
      let offset = 0;
      for (const chunk of chunks) {
        samples.set(chunk, offset);
        offset += chunk.length;
      }
      const resampled = await resample(samples, rate, TARGET_RATE);
      return new File([encodeWav(resampled, TARGET_RATE)], `recording-${Date.now()}.wav`, { type: 'audio/wav' });
    },
    cancel() {
      source.disconnect();
      node.disconnect();
      for (const track of stream.getTracks()) track.stop();
      context.close();
    },
  };
}

async function resample(samples, from, to) {
  if (!samples.length) return samples;
  if (from === to) return samples;
  const frames = Math.max(1, Math.ceil((samples.length * to) / from));
  const offline = new OfflineAudioContext(1, frames, to);
  const buffer = offline.createBuffer(1, samples.length, from);
  buffer.copyToChannel(samples, 0);
  const source = offline.createBufferSource();
  source.buffer = buffer;
  source.connect(offline.destination);
  source.start();
  const rendered = await offline.startRendering();
  return rendered.getChannelData(0);
}

export function encodeWav(samples, rate) {
  const bytes = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(bytes);
  const text = (offset, value) => { for (let i = 0; i < value.length; i += 1) view.setUint8(offset + i, value.charCodeAt(i)); };
  text(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i += 1) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return bytes;
}
