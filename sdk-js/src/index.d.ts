// Types of @audio-transcriber/sdk (hand-written; the sources are JSDoc-typed ES modules).

export const VERSION: string;
export const INLINE_LIMIT_BYTES: number;
export const BINARY: 'application/octet-stream';
export const AWAITING_UPLOAD: 'AWAITING_UPLOAD';
export const PENDING: 'PENDING';
export const PROCESSING: 'PROCESSING';
export const COMPLETED: 'COMPLETED';
export const FAILED: 'FAILED';
export const TERMINAL_STATES: readonly ['COMPLETED', 'FAILED'];
export const DOWNLOAD_FORMATS: readonly ['json', 'srt', 'vtt', 'txt'];
export type JobStatus = 'AWAITING_UPLOAD' | 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED' | string;
export type DownloadFormat = 'json' | 'srt' | 'vtt' | 'txt';

export interface Word {
  readonly text: string;
  readonly start: number | null;
  readonly end: number | null;
  readonly probability: number | null;
  readonly speaker: string | null;
}
export interface Segment {
  readonly id: number | null;
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly speaker: string | null;
  /** 0-based source channel, with the channel_identification option */
  readonly channel: number | null;
  readonly words: readonly Word[];
  readonly raw: Record<string, unknown>;
}
export interface SearchHit {
  readonly jobId: string;
  readonly filename: string;
  readonly segmentId: number;
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /** the text HTML-escaped, matched words in <mark>...</mark> */
  readonly highlight: string;
  readonly score: number;
  readonly raw: Record<string, unknown>;
}
export interface SearchResults {
  readonly hits: readonly SearchHit[];
  readonly nextCursor: string | null;
  readonly raw: Record<string, unknown>;
}
export interface Speaker {
  /** spk_0, spk_1, ... in order of first appearance */
  readonly label: string;
  /** display name; null until renamed */
  readonly name: string | null;
  /** seconds of speech */
  readonly seconds: number;
}
export interface Transcript {
  readonly text: string;
  readonly language: string | null;
  readonly duration: number | null;
  readonly segments: readonly Segment[];
  readonly raw: Record<string, unknown>;
}
export interface Transcription {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly filename: string | null;
  readonly size: number | null;
  /** 0-100 */
  readonly progress: number;
  readonly chunksDone: number | null;
  readonly chunksTotal: number | null;
  readonly language: string | null;
  readonly duration: number | null;
  readonly options: Record<string, unknown>;
  readonly createdAt: string | null;
  readonly updatedAt: string | null;
  readonly startedAt: string | null;
  readonly completedAt: string | null;
  readonly failedAt: string | null;
  readonly reasonCode: string | null;
  readonly errorMessage: string | null;
  readonly duplicateOf: string | null;
  /** with channel_identification: the recording's channel count, and a note when it had one */
  readonly channels: number | null;
  readonly channelNote: string | null;
  /** with speaker labels: each speaker's label, display name and seconds of speech; else empty */
  readonly speakers: readonly Speaker[];
  /** COMPLETED or FAILED */
  readonly done: boolean;
  /**
   * The transcript once COMPLETED. Client.get() fills it in also when the API left it out of the
   * view for its size (see transcriptLink), unless called with `fetchTranscript: false`.
   */
  readonly transcript: Transcript | null;
  /**
   * `links.transcript`: set when the transcript was too large (over 5 MB) for the job view, which
   * then has no `transcript`; the JSON download it names has it (Client.transcript()).
   */
  readonly transcriptLink: string | null;
  readonly raw: Record<string, unknown>;
}
export interface Page {
  readonly items: readonly Transcription[];
  readonly nextCursor: string | null;
  readonly raw: Record<string, unknown>;
}
export interface Submission {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly uploadUrl: string | null;
  readonly uploadMethod: string;
  readonly uploadExpiresAt: string | null;
  readonly uploadHeaders: Record<string, string>;
  readonly raw: Record<string, unknown>;
}
export interface UploadProgress {
  loaded: number;
  total: number | null;
}
/** A file path (Node), a File/Blob, bytes, or a stream (give its size). */
export type UploadSource =
  | string
  | Blob
  | ArrayBuffer
  | ArrayBufferView
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;
export interface UploadOptions {
  contentType?: string | null;
  size?: number | null;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}
export interface SubmitOptions {
  filename?: string;
  size?: number;
  options?: Record<string, unknown>;
  contentType?: string | null;
  onUploadProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}
export interface WaitOptions {
  /** the polling interval when there are no live updates (ms; default 1000) */
  pollMs?: number;
  /** give up with WaitTimeoutError after this long (ms; default 1 hour) */
  timeoutMs?: number;
  onProgress?: (job: Transcription) => void;
  raiseOnFailure?: boolean;
  /** false: poll even when live updates are available */
  live?: boolean;
  /** while following live updates, a GET this often in case a push was lost (ms; default 30000) */
  liveCheckMs?: number;
  /** aborting it stops the wait (rejects with the signal's reason) and closes its live connection */
  signal?: AbortSignal;
}
export interface ClientOptions {
  timeoutMs?: number;
  maxRetries?: number;
  maxRetryWaitMs?: number;
  /** the WebSocket API's URL, for live updates (wait() polls without it) */
  websocketUrl?: string | null;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket | null;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}
export interface Subscription {
  /** close the live connection; onClose is then called with null */
  close(): void;
}
export interface SubscribeOptions {
  /** after the subscription was confirmed: the connection closed (null when closed by close() or normally) */
  onClose?: (err: Error | null) => void;
  /** aborting it rejects a pending subscribe() or closes the subscription */
  signal?: AbortSignal;
  /** how long to wait for the server's {"subscribed": ...} reply (ms; default 10000) */
  replyTimeoutMs?: number;
}
export interface Capabilities {
  audio: boolean;
  live: boolean;
}

export class Client {
  constructor(baseUrl: string, apiKey: string, options?: ClientOptions);
  static fromEnv(options?: ClientOptions): Client;
  static jobPath(jobId: string, suffix?: string): string;
  readonly baseUrl: string;
  timeoutMs: number;
  maxRetries: number;
  maxRetryWaitMs: number;
  websocketUrl: string | null;
  readonly canSubscribe: boolean;
  url(path: string, query?: Record<string, unknown>): string;
  request(
    method: string,
    path: string,
    opts: {
      what: string;
      query?: Record<string, unknown>;
      payload?: unknown;
      accept?: string;
      followSeeOther?: boolean;
      signal?: AbortSignal;
      /** what a 413 means for this call, instead of "send a smaller file" */
      tooLarge?: string;
    },
  ): Promise<Response>;
  create(
    filename: string,
    size: number,
    opts?: { options?: Record<string, unknown>; contentType?: string | null; content?: Uint8Array; signal?: AbortSignal },
  ): Promise<Submission>;
  submitUrl(
    sourceUrl: string,
    opts?: { options?: Record<string, unknown>; filename?: string; signal?: AbortSignal },
  ): Promise<Submission>;
  upload(submission: Submission, source: UploadSource, opts?: UploadOptions): Promise<void>;
  submit(source: UploadSource, opts?: SubmitOptions): Promise<Submission>;
  transcribe(source: UploadSource, opts?: SubmitOptions & WaitOptions): Promise<Transcription>;
  /** fetchTranscript (default true): download a transcript too large for the view (transcriptLink) */
  get(jobId: string, opts?: { signal?: AbortSignal; fetchTranscript?: boolean }): Promise<Transcription>;
  /** a COMPLETED job's whole transcript, from its JSON download (any size) */
  transcript(jobId: string, opts?: { signal?: AbortSignal }): Promise<Transcript>;
  list(opts?: { status?: string; limit?: number; cursor?: string | null; signal?: AbortSignal }): Promise<Page>;
  iterAll(opts?: { status?: string; pageSize?: number }): AsyncGenerator<Transcription, void, undefined>;
  /** only the segments with every word of q, and only speaker's (a label such as spk_1), when given */
  segments(
    jobId: string,
    q?: string | null,
    opts?: string | null | { speaker?: string | null; signal?: AbortSignal },
  ): Promise<readonly Segment[]>;
  search(
    q: string,
    opts?: {
      language?: string; createdAfter?: string; createdBefore?: string; jobId?: string; speaker?: string;
      limit?: number; cursor?: string | null; signal?: AbortSignal;
    },
  ): Promise<SearchResults>;
  download(jobId: string, format?: DownloadFormat, options?: { unredacted?: boolean; signal?: AbortSignal }): Promise<string>;
  capabilities(): Promise<Capabilities>;
  audioUrl(jobId: string): Promise<string | null>;
  /** resolves once the server confirms the subscription; rejects (socket closed) when it refuses */
  subscribe(jobId: string | null, onUpdate: (job: Transcription) => void, opts?: SubscribeOptions): Promise<Subscription>;
  wait(jobId: string, opts?: WaitOptions): Promise<Transcription>;
  delete(jobId: string): Promise<void>;
  retry(jobId: string): Promise<Transcription>;
  renameSpeakers(jobId: string, names: Record<string, string>): Promise<readonly Speaker[]>;
}

export class TranscriberError extends Error {
  constructor(message: string, init?: { status?: number | null; problem?: Record<string, unknown> | null; cause?: unknown });
  status: number | null;
  problem: Record<string, unknown>;
  location: string | null;
  readonly title: string | null;
  readonly detail: string | null;
  readonly reasonCode: string | null;
  readonly type: string | null;
}
export class APIConnectionError extends TranscriberError {}
export class AuthenticationError extends TranscriberError {}
export class NotFoundError extends TranscriberError {}
export class ConflictError extends TranscriberError {}
export class ValidationError extends TranscriberError {}
export class ServerError extends TranscriberError {}
export class UploadError extends TranscriberError {}
export class UnsupportedError extends TranscriberError {}
export class RateLimitedError extends TranscriberError {
  constructor(message: string, init: { retryAfter: number; status?: number | null; problem?: Record<string, unknown> | null });
  /** seconds */
  retryAfter: number;
}
export class TranscriptionFailedError extends TranscriberError {
  constructor(transcription: Transcription);
  transcription: Transcription;
  jobId: string;
  errorMessage: string | null;
}
export class WaitTimeoutError extends TranscriberError {
  constructor(transcription: Transcription, waitedMs: number);
  transcription: Transcription;
  jobId: string;
  waitedMs: number;
}
export function errorFor(
  status: number,
  problem: Record<string, unknown>,
  headers: { get(name: string): string | null },
  what: string,
  hints?: { tooLarge?: string },
): TranscriberError;
/** true for an error that may pass by itself (429, 502, 503, 504, no connection): what the client retries */
export function isTransient(err: unknown): boolean;
export function parseRetryAfter(value: string | null | undefined, fallback?: number, nowMs?: number): number;
export function guessContentType(filename: string): string | null;
export function toTranscription(data: Record<string, unknown>): Transcription;
export function toTranscript(data: Record<string, unknown>): Transcript;
export function toSegment(data: Record<string, unknown>): Segment;
export function toSpeakers(data: unknown): readonly Speaker[];
export function toPage(data: Record<string, unknown>): Page;
export function toSubmission(data: Record<string, unknown>): Submission;
