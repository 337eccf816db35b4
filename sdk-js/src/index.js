// @audio-transcriber/sdk: the transcription API for Node 20+ and browsers, with no dependencies.
export { Client, INLINE_LIMIT_BYTES, VERSION, isTransient } from './client.js';
export * from './errors.js';
export {
  AWAITING_UPLOAD, COMPLETED, DOWNLOAD_FORMATS, FAILED, PENDING, PROCESSING, TERMINAL_STATES,
  guessContentType, toPage, toSegment, toSpeakers, toSubmission, toTranscript, toTranscription,
} from './models.js';
export { BINARY } from './upload.js';
