// Job views as plain, frozen objects with camelCase fields; `raw` keeps the JSON as received.

export const AWAITING_UPLOAD = 'AWAITING_UPLOAD';
export const PENDING = 'PENDING';
export const PROCESSING = 'PROCESSING';
export const COMPLETED = 'COMPLETED';
export const FAILED = 'FAILED';
export const TERMINAL_STATES = Object.freeze([COMPLETED, FAILED]);
export const DOWNLOAD_FORMATS = Object.freeze(['json', 'srt', 'vtt', 'txt']);

/** @param {unknown} v */
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
/** @param {unknown} v @returns {string|null} */
const optString = (v) => (v === null || v === undefined ? null : String(v));
/** @param {unknown} v @returns {number|null} */
function optNumber(v) {
  if (v === null || v === undefined || typeof v === 'boolean' || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** @param {any} data @returns {import('./index.js').Word} */
export function toWord(data) {
  return Object.freeze({
    text: String(data.text ?? data.word ?? ''),
    start: optNumber(data.start),
    end: optNumber(data.end),
    probability: optNumber(data.probability),
    speaker: optString(data.speaker),
  });
}

/** @param {any} data @returns {import('./index.js').Segment} */
export function toSegment(data) {
  const words = Array.isArray(data.words) ? data.words.filter(isObject).map(toWord) : [];
  return Object.freeze({
    id: optNumber(data.id),
    start: optNumber(data.start) ?? 0,
    end: optNumber(data.end) ?? 0,
    text: String(data.text ?? ''),
    speaker: optString(data.speaker),
    channel: optNumber(data.channel),
    words: Object.freeze(words),
    raw: data,
  });
}

/** @param {unknown} value */
export function toSegments(value) {
  return Object.freeze(Array.isArray(value) ? value.filter(isObject).map(toSegment) : []);
}

/** The speakers of a diarized job ({label, name, seconds}); empty without speaker labels. @param {unknown} value */
export function toSpeakers(value) {
  const items = Array.isArray(value) ? value.filter(isObject) : [];
  return Object.freeze(items.map((s) => Object.freeze({ label: String(s.label ?? ''), name: optString(s.name), seconds: optNumber(s.seconds) ?? 0 })));
}

/** @param {any} data @returns {import('./index.js').Transcript} */
export function toTranscript(data) {
  const segments = toSegments(data.segments);
  let text = typeof data.text === 'string' ? data.text : data.transcript;
  if (typeof text !== 'string') text = segments.map((s) => s.text.trim()).filter(Boolean).join(' ');
  return Object.freeze({
    text,
    language: optString(data.language),
    duration: optNumber(data.duration),
    segments,
    raw: data,
  });
}

/** @param {any} data @returns {import('./index.js').Transcription} */
export function toTranscription(data) {
  const status = String(data.status || 'UNKNOWN').toUpperCase();
  let progress = optNumber(data.progress);
  if (progress === null) progress = status === COMPLETED ? 100 : 0;
  let transcript = null;
  if (isObject(data.transcript)) {
    const merged = { ...data.transcript };
    if (!('segments' in merged) && Array.isArray(data.segments)) merged.segments = data.segments;
    transcript = toTranscript(merged);
  }
  return Object.freeze({
    jobId: String(data.job_id ?? data.id ?? ''),
    status,
    filename: optString(data.filename),
    size: optNumber(data.size),
    progress: Math.max(0, Math.min(100, progress)),
    chunksDone: optNumber(data.chunks_done),
    chunksTotal: optNumber(data.chunks_total),
    language: optString(data.language),
    duration: optNumber(data.duration),
    options: isObject(data.options) ? { ...data.options } : {},
    createdAt: optString(data.created_at),
    updatedAt: optString(data.updated_at),
    startedAt: optString(data.started_at),
    completedAt: optString(data.completed_at),
    failedAt: optString(data.failed_at),
    reasonCode: optString(data.reason_code),
    errorMessage: optString(data.error_message),
    duplicateOf: optString(data.duplicate_of),
    channels: optNumber(data.channels),
    channelNote: optString(data.channel_note),
    speakers: toSpeakers(data.speakers),
    done: TERMINAL_STATES.includes(status),
    transcript,
    // A transcript too large for the view (over 5 MB) is left out; links.transcript says where to download it.
    transcriptLink: isObject(data.links) && typeof data.links.transcript === 'string' && data.links.transcript ? data.links.transcript : null,
    raw: data,
  });
}

/** @param {any} data @returns {import('./index.js').Page} */
export function toPage(data) {
  const items = Array.isArray(data.items) ? data.items.filter(isObject).map(toTranscription) : [];
  return Object.freeze({ items: Object.freeze(items), nextCursor: optString(data.next_cursor) || null, raw: data });
}

/** @param {any} data @returns {import('./index.js').Submission} */
export function toSubmission(data) {
  const headers = isObject(data.upload_headers) ? data.upload_headers : {};
  return Object.freeze({
    jobId: String(data.job_id ?? data.id ?? ''),
    status: String(data.status || AWAITING_UPLOAD).toUpperCase(),
    uploadUrl: optString(data.upload_url) || null,
    uploadMethod: String(data.upload_method || 'PUT').toUpperCase(),
    uploadExpiresAt: optString(data.upload_expires_at),
    uploadHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [String(k), String(v)])),
    raw: data,
  });
}

const AUDIO_TYPES = {
  wav: 'audio/wav', mp3: 'audio/mpeg', m4a: 'audio/mp4', mp4: 'audio/mp4', flac: 'audio/flac',
  ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/ogg', aac: 'audio/aac', wma: 'audio/x-ms-wma',
  webm: 'audio/webm',
};

/** The audio content type for a file name's extension, or null when it is not known. @param {string} filename */
export function guessContentType(filename) {
  const match = /\.([A-Za-z0-9]+)$/.exec(String(filename));
  return (match && AUDIO_TYPES[/** @type {keyof typeof AUDIO_TYPES} */ (match[1].toLowerCase())]) || null;
}
