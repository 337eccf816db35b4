// The transcription API (/v1) as JavaScript calls, on the platform's fetch only.
import {
  APIConnectionError, AuthenticationError, NotFoundError, RateLimitedError, ServerError, TranscriberError,
  TranscriptionFailedError, UnsupportedError, UploadError, ValidationError, WaitTimeoutError, errorFor, parseRetryAfter,
} from './errors.js';
import {
  COMPLETED, DOWNLOAD_FORMATS, FAILED, guessContentType, toPage, toSegments, toSpeakers, toSubmission, toTranscript,
  toTranscription,
} from './models.js';
import { putAudio } from './upload.js';

export const VERSION = '0.1.0';
/** Files up to this size may be sent inside the create request (`inline`). */
export const INLINE_LIMIT_BYTES = 4 * 1024 * 1024;
const AUDIO_PATH = '/v1/transcriptions/{job_id}/audio';
/** Methods that may be sent again after a failure: repeating them changes nothing more. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'DELETE', 'PUT', 'OPTIONS']);
/** Answers worth another try: over the rate limit, or a gateway or server that is briefly unavailable. */
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
/** First backoff step and its cap (ms); each wait is a random time up to the step ("full jitter"). */
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
/** How long subscribe() waits for the server's {"subscribed": ...} reply. */
const SUBSCRIBE_REPLY_MS = 10_000;
/** While wait() follows pushes, a GET this often in case a push was lost. */
const LIVE_CHECK_MS = 30_000;
/** How many times one wait() subscribes again after the live connection dropped, before it polls. */
const LIVE_RECONNECTS = 5;

/**
 * An error that may pass by itself: over the rate limit, a 502, 503 or 504, or no answer. The one
 * check of what `wait` rides out; exported, so that an app's own retries decide the same way.
 */
export function isTransient(/** @type {unknown} */ err) {
  if (err instanceof RateLimitedError || err instanceof APIConnectionError) return true;
  return err instanceof ServerError && RETRY_STATUSES.has(/** @type {number} */ (err.status));
}

/** A random wait up to base * 2^attempt ms (capped): retries of many clients do not arrive together. */
function backoffMs(/** @type {number} */ attempt, cap = BACKOFF_CAP_MS) {
  return Math.random() * Math.min(cap, BACKOFF_BASE_MS * 2 ** attempt);
}

/** @param {number} ms @param {AbortSignal} [signal] */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, Math.max(0, ms));
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

const inNode = () => typeof process !== 'undefined' && !!process.versions?.node;

/** @param {Uint8Array} bytes */
function base64(bytes) {
  if (typeof Buffer !== 'undefined') return Buffer.from(bytes).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export class Client {
  /**
   * @param {string} baseUrl  the API's address (http://127.0.0.1:8080, or a stage URL); /v1 is added
   * @param {string} apiKey
   * @param {import('./index.js').ClientOptions} [options]
   */
  constructor(baseUrl, apiKey, options = {}) {
    const root = String(baseUrl ?? '').trim();
    let parsed;
    try {
      parsed = new URL(root);
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new ValidationError(
        `Invalid API base URL ${JSON.stringify(baseUrl)}: it must start with http:// or https://, e.g. http://127.0.0.1:8080.`,
      );
    }
    if (!apiKey || !String(apiKey).trim()) {
      throw new AuthenticationError('No API key: pass the key you were given (make serve prints a development key).');
    }
    this.baseUrl = root.replace(/\/+$/, '').replace(/\/v1$/, '');
    /** @type {string} */
    this.#apiKey = String(apiKey).trim();
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRetries = Math.max(0, options.maxRetries ?? 3);
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? 60_000;
    this.websocketUrl = options.websocketUrl ?? null;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket ?? null;
    this.#sleep = options.sleep ?? sleep;
  }

  #apiKey;
  #fetch;
  #WebSocket;
  #sleep;
  /** @type {Promise<any>|null} */
  #openapi = null;

  /** A client from TRANSCRIBER_API_URL and TRANSCRIBER_API_KEY (Node). @param {import('./index.js').ClientOptions} [options] */
  static fromEnv(options) {
    const env = inNode() ? process.env : {};
    return new Client(env.TRANSCRIBER_API_URL ?? '', env.TRANSCRIBER_API_KEY ?? '', options);
  }

  toJSON() { return { baseUrl: this.baseUrl }; } // never shows the key

  // ---- HTTP plumbing ------------------------------------------------------------------------

  /** @param {string} path @param {Record<string, unknown>} [query] */
  url(path, query = {}) {
    const url = new URL(`${this.baseUrl}/v1${path}`);
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /**
   * @param {string} url
   * @param {RequestInit} init
   * @param {AbortSignal} [signal]
   */
  async #send(url, init, signal) {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      return await this.#fetch(url, { ...init, signal: combined });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) {
        throw new APIConnectionError(`The API at ${this.baseUrl} did not answer within ${this.timeoutMs / 1000} s. Try again, or pass a larger timeoutMs.`, { cause: err });
      }
      throw new APIConnectionError(
        `Could not reach the API at ${this.baseUrl}: ${/** @type {Error} */ (err).message}. Check the base URL and that the server is running (make serve prints the address).`,
        { cause: err },
      );
    }
  }

  /**
   * One API call. Idempotent methods (GET, HEAD, DELETE, PUT) ride out a 429, 502, 503 or 504 and a
   * failed connection, at most maxRetries times: after Retry-After when the answer has one, else
   * after an exponential backoff with full jitter. A POST (it may create a job) is never repeated.
   * @param {string} method
   * @param {string} path
   * @param {{what: string, query?: Record<string, unknown>, payload?: unknown, accept?: string,
   *          followSeeOther?: boolean, signal?: AbortSignal, tooLarge?: string}} opts
   * @returns {Promise<Response>}
   */
  async request(method, path, opts) {
    const url = this.url(path, opts.query);
    /** @type {Record<string, string>} */
    const headers = {
      Authorization: `Bearer ${this.#apiKey}`,
      Accept: `${opts.accept ?? 'application/json'}, application/problem+json`,
    };
    let body;
    if (opts.payload !== undefined) {
      body = JSON.stringify(opts.payload);
      headers['Content-Type'] = 'application/json';
    }
    const idempotent = IDEMPOTENT.has(method.toUpperCase());
    // Node: never follow a redirect with the key; a browser drops Authorization on cross-origin redirects itself.
    const redirect = inNode() ? 'manual' : 'follow';
    const backoffCapMs = Math.min(BACKOFF_CAP_MS, this.maxRetryWaitMs);
    for (let attempt = 0; ; attempt += 1) {
      let response;
      try {
        response = await this.#send(url, { method, headers, body, redirect }, opts.signal);
        const location = response.headers.get('Location');
        if (!response.ok && opts.followSeeOther && response.status === 303 && location) {
          response = await this.#send(location, { method: 'GET' }, opts.signal);
        }
      } catch (err) {
        // No answer (refused, reset, timed out): the request may not have arrived; only an idempotent one is sent again.
        if (!(idempotent && err instanceof APIConnectionError && attempt < this.maxRetries)) throw err;
        await this.#sleep(backoffMs(attempt, backoffCapMs), opts.signal);
        continue;
      }
      if (response.ok) return response;
      const error = errorFor(response.status, await problemOf(response), response.headers, opts.what, { tooLarge: opts.tooLarge });
      if (!(idempotent && RETRY_STATUSES.has(response.status) && attempt < this.maxRetries)) throw error;
      const retryAfter = response.headers.get('Retry-After');
      const waitMs = retryAfter !== null
        ? parseRetryAfter(retryAfter) * 1000
        : backoffMs(attempt, backoffCapMs);
      if (waitMs > this.maxRetryWaitMs) throw error;
      await this.#sleep(waitMs, opts.signal);
    }
  }

  /** @param {string} method @param {string} path @param {Parameters<Client['request']>[2]} opts */
  async #json(method, path, opts) {
    const response = await this.request(method, path, opts);
    let data;
    try {
      data = await response.json();
    } catch (err) {
      throw new TranscriberError(`${opts.what}: the server answered HTTP ${response.status} with something that is not JSON. Check that ${this.baseUrl} is the transcription API.`, { status: response.status, cause: err });
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new TranscriberError(`${opts.what}: expected a JSON object from the API. Check that ${this.baseUrl} is the transcription API.`, { status: response.status });
    }
    return data;
  }

  /** @param {string} jobId @param {string} [suffix] */
  static jobPath(jobId, suffix = '') {
    if (!jobId || !String(jobId).trim()) throw new ValidationError('A job id is required (create() or list() gives them).');
    return `/transcriptions/${encodeURIComponent(String(jobId).trim())}${suffix}`;
  }

  // ---- creating jobs ------------------------------------------------------------------------

  /**
   * Create a job (POST /v1/transcriptions); PUT the audio to its uploadUrl next (or pass `content`, up to 4 MiB).
   * @param {string} filename
   * @param {number} size
   * @param {{options?: Record<string, unknown>, contentType?: string|null, content?: Uint8Array, signal?: AbortSignal}} [opts]
   */
  async create(filename, size, opts = {}) {
    /** @type {Record<string, unknown>} */
    const payload = { filename: String(filename), size: Number(size) };
    if (opts.contentType) payload.content_type = opts.contentType;
    payload.options = Object.fromEntries(Object.entries(opts.options ?? {}).filter(([, v]) => v !== null && v !== undefined));
    if (opts.content !== undefined) {
      if (opts.content.byteLength > INLINE_LIMIT_BYTES) {
        throw new ValidationError(`${filename} is ${opts.content.byteLength} bytes; only files up to 4 MiB can be sent inline. Leave inline off to use the upload URL.`);
      }
      payload.content_base64 = base64(opts.content);
    }
    return toSubmission(await this.#json('POST', '/transcriptions', { what: `Creating a job for ${filename}`, payload, signal: opts.signal }));
  }

  /**
   * Create a job the service fetches itself from `sourceUrl` (https; no upload step). Options
   * include `task` ('translate': into English) and `prompt`.
   * @param {string} sourceUrl
   * @param {{options?: Record<string, unknown>, filename?: string, signal?: AbortSignal}} [opts]
   */
  async submitUrl(sourceUrl, opts = {}) {
    /** @type {Record<string, unknown>} */
    const payload = { source_url: String(sourceUrl) };
    if (opts.filename) payload.filename = opts.filename;
    payload.options = Object.fromEntries(Object.entries(opts.options ?? {}).filter(([, v]) => v !== null && v !== undefined));
    return toSubmission(await this.#json('POST', '/transcriptions', { what: `Creating a job for ${sourceUrl}`, payload, signal: opts.signal }));
  }

  /**
   * PUT the audio to a job's presigned uploadUrl; no API key is sent there.
   * @param {import('./index.js').Submission} submission
   * @param {import('./index.js').UploadSource} source
   * @param {import('./index.js').UploadOptions} [opts]
   */
  async upload(submission, source, opts = {}) {
    if (!submission.uploadUrl) throw new UploadError(`${submission.jobId} has no upload URL (was the audio sent inline?); nothing to upload.`);
    await putAudio(submission.uploadUrl, source, { ...opts, headers: submission.uploadHeaders, job: submission.jobId });
  }

  /**
   * Create a job for a file (a path on Node, a File/Blob, bytes, or a stream with {filename, size}) and upload it.
   * @param {import('./index.js').UploadSource} source
   * @param {import('./index.js').SubmitOptions} [opts]
   */
  async submit(source, opts = {}) {
    let filename = opts.filename;
    let size = opts.size ?? null;
    if (typeof source === 'string') {
      if (!inNode()) throw new ValidationError('A file path can only be uploaded from Node; in a browser pass a File.');
      const fs = await import('node:fs');
      const path = await import('node:path');
      let stat;
      try {
        stat = await fs.promises.stat(source);
      } catch {
        throw new ValidationError(`${source} does not exist: give the path of an audio file (WAV, MP3, FLAC, ...).`);
      }
      if (!stat.isFile()) throw new ValidationError(`${source} is not a file: give the path of an audio file.`);
      size = stat.size;
      filename ??= path.basename(source);
    } else if (typeof Blob !== 'undefined' && source instanceof Blob) {
      size = source.size;
      filename ??= /** @type {any} */ (source).name;
    } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
      size = source.byteLength;
    }
    if (!filename) throw new ValidationError('Give the file name ({filename}): the API keeps it and checks its extension.');
    if (size === null) throw new ValidationError('Uploading a stream needs its size in bytes: pass {size}.');
    const blobType = typeof Blob !== 'undefined' && source instanceof Blob ? source.type : '';
    const contentType = opts.contentType || guessContentType(filename) || (blobType.startsWith('audio/') ? blobType : null);
    const submission = await this.create(filename, size, { options: opts.options, contentType, signal: opts.signal });
    if (submission.uploadUrl) {
      await this.upload(submission, source, { contentType, size, onProgress: opts.onUploadProgress, signal: opts.signal });
    }
    return submission;
  }

  /**
   * Submit a file and wait until it is COMPLETED (or throw).
   * @param {import('./index.js').UploadSource} source
   * @param {import('./index.js').SubmitOptions & import('./index.js').WaitOptions} [opts]
   */
  async transcribe(source, opts = {}) {
    const submission = await this.submit(source, opts);
    return this.wait(submission.jobId, opts);
  }

  // ---- reading jobs -------------------------------------------------------------------------

  /**
   * Status, progress, timings, and the transcript once COMPLETED. A transcript too large for the
   * API's answer (over 5 MB: the view has `links.transcript` instead, `transcriptLink` here) is
   * downloaded as JSON and filled in, unless `fetchTranscript` is false.
   * @param {string} jobId @param {{signal?: AbortSignal, fetchTranscript?: boolean}} [opts]
   */
  async get(jobId, opts = {}) {
    const job = toTranscription(await this.#json('GET', Client.jobPath(jobId), { what: `Getting job ${jobId}`, signal: opts.signal }));
    if (job.transcript || !job.transcriptLink || job.status !== COMPLETED || opts.fetchTranscript === false) return job;
    return Object.freeze({ ...job, transcript: await this.transcript(job.jobId, { signal: opts.signal }) });
  }

  /**
   * The whole transcript of a COMPLETED job, from its JSON download (for any size; get() includes
   * it itself up to 5 MB).
   * @param {string} jobId @param {{signal?: AbortSignal}} [opts]
   */
  async transcript(jobId, opts = {}) {
    const text = await this.download(jobId, 'json', { signal: opts.signal });
    let document;
    try {
      document = JSON.parse(text);
    } catch (err) {
      throw new TranscriberError(`The JSON transcript of job ${jobId} could not be read (${/** @type {Error} */ (err).message}). Download it again.`, { cause: err });
    }
    if (document === null || typeof document !== 'object' || Array.isArray(document)) {
      throw new TranscriberError(`The JSON transcript of job ${jobId} is not an object. Download it again.`);
    }
    return toTranscript(document);
  }

  /** One page of jobs, newest first. @param {{status?: string, limit?: number, cursor?: string|null, signal?: AbortSignal}} [opts] */
  async list(opts = {}) {
    const query = { status: opts.status ? opts.status.toUpperCase() : null, limit: opts.limit ?? null, cursor: opts.cursor ?? null };
    return toPage(await this.#json('GET', '/transcriptions', { what: 'Listing jobs', query, signal: opts.signal }));
  }

  /** Every job (optionally of one status), newest first, following the cursors. @param {{status?: string, pageSize?: number}} [opts] */
  async *iterAll(opts = {}) {
    /** @type {string|null} */
    let cursor = null;
    const seen = new Set();
    for (;;) {
      const page = await this.list({ status: opts.status, limit: opts.pageSize, cursor });
      yield* page.items;
      if (!page.nextCursor || seen.has(page.nextCursor)) return;
      seen.add(page.nextCursor);
      cursor = page.nextCursor;
    }
  }

  /**
   * The segments of a COMPLETED job, only those containing every word of q if given, and only
   * `speaker`'s (a label such as spk_1) if given. A transcript too large to answer here is a 413:
   * download it (transcript(), download()) or search it (search(q, {jobId})) instead.
   * @param {string} jobId @param {string|null} [q]
   * @param {string|null|{speaker?: string|null, signal?: AbortSignal}} [opts]  the speaker, or options
   */
  async segments(jobId, q = null, opts = {}) {
    const options = typeof opts === 'string' || opts === null ? { speaker: opts } : opts;
    const data = await this.#json('GET', Client.jobPath(jobId, '/segments'), {
      what: `Getting the segments of job ${jobId}`,
      query: { q, speaker: options.speaker },
      signal: options.signal,
      tooLarge: `The transcript of job ${jobId} is too large to answer with its segments: download it (transcript('${jobId}') ` +
        `or download('${jobId}', 'json')), or search it with search(q, {jobId: '${jobId}'}).`,
    });
    return toSegments(data.segments);
  }

  /**
   * Segments of all the tenant's transcripts matching q (every word; "phrases" in double quotes), best first.
   * @param {string} q
   * @param {{language?: string, createdAfter?: string, createdBefore?: string, jobId?: string, speaker?: string, limit?: number, cursor?: string | null, signal?: AbortSignal}} [opts]
   */
  async search(q, opts = {}) {
    const query = {
      q, language: opts.language, created_after: opts.createdAfter, created_before: opts.createdBefore,
      job_id: opts.jobId, speaker: opts.speaker, limit: opts.limit, cursor: opts.cursor,
    };
    const data = await this.#json('GET', '/search', { what: 'Searching', query, signal: opts.signal });
    const hits = Array.isArray(data.hits) ? data.hits.filter((h) => h && typeof h === 'object').map(toSearchHit) : [];
    return Object.freeze({ hits: Object.freeze(hits), nextCursor: typeof data.next_cursor === 'string' ? data.next_cursor : null, raw: data });
  }

  /**
   * The transcript of a COMPLETED job as json, srt, vtt or txt text. `unredacted`: the JSON as heard,
   * which a job created with redact_pii and keep_unredacted keeps beside its redacted outputs.
   * @param {string} jobId @param {string} [format] @param {{unredacted?: boolean, signal?: AbortSignal}} [options]
   */
  async download(jobId, format = 'srt', { unredacted = false, signal } = {}) {
    const fmt = String(format).toLowerCase().replace(/^\./, '');
    if (!DOWNLOAD_FORMATS.includes(fmt)) throw new ValidationError(`Unknown download format ${JSON.stringify(format)}: use one of ${DOWNLOAD_FORMATS.join(', ')}.`);
    if (unredacted && fmt !== 'json') throw new ValidationError('unredacted applies to the json format only.');
    const response = await this.request('GET', Client.jobPath(jobId, '/download'), {
      what: `Downloading job ${jobId} as ${fmt}${unredacted ? ' (unredacted)' : ''}`,
      query: unredacted ? { format: fmt, unredacted: 'true' } : { format: fmt },
      accept: 'application/json, text/plain, application/x-subrip, text/vtt, */*',
      followSeeOther: true,
      signal,
    });
    return response.text();
  }

  /**
   * What this server offers beyond the basics, from its OpenAPI document (fetched once):
   * `audio` (GET .../audio for the original recording) and `live` (a WebSocket URL is known: given,
   * or advertised by the server as `x-live-status-url`, which then becomes `websocketUrl`).
   */
  async capabilities() {
    this.#openapi ??= this.#fetch(`${this.baseUrl}/v1/openapi.json`, { headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : {}))
      .catch(() => ({}));
    const doc = await this.#openapi;
    const paths = (doc && doc.paths) || {};
    // The server's live-status WebSocket (x-live-status-url), unless one was configured.
    const advertised = doc && doc['x-live-status-url'];
    if (!this.websocketUrl && typeof advertised === 'string' && /^wss?:\/\//.test(advertised)) this.websocketUrl = advertised;
    return { audio: Boolean(paths[AUDIO_PATH]?.get), live: this.canSubscribe };
  }

  /**
   * A presigned GET URL for a job's original recording, or null when this server has no audio endpoint.
   * @param {string} jobId
   * @returns {Promise<string|null>}
   */
  async audioUrl(jobId) {
    if (!(await this.capabilities()).audio) return null;
    const response = await this.request('GET', Client.jobPath(jobId, '/audio'), { what: `Getting the audio of job ${jobId}` })
      .catch((err) => {
        if (err instanceof TranscriberError && err.status === 303 && err.location) return err.location;
        throw err;
      });
    if (typeof response === 'string') return response;
    if (response.redirected) return response.url; // a browser followed the 303 to the recording
    const data = await response.json().catch(() => ({}));
    return typeof data.url === 'string' ? data.url : null;
  }

  // ---- live updates -------------------------------------------------------------------------

  /** True when a WebSocket URL is configured and the platform has WebSocket. */
  get canSubscribe() {
    return Boolean(this.websocketUrl && this.#WebSocket);
  }

  /**
   * Live job views pushed over the WebSocket: `{"action": "subscribe", "job_id": ...}` (or every job
   * of the tenant without jobId). The key travels as a subprotocol (browsers cannot set headers).
   * Resolves once the server confirms with `{"subscribed": <job id or "*">}`; rejects, and closes
   * the socket, when it refuses (`{"error": ...}`: RateLimitedError, NotFoundError,
   * AuthenticationError, ValidationError), does not confirm within replyTimeoutMs, the connection
   * fails, or `signal` aborts. Aborting `signal` later closes the subscription.
   * @param {string|null} jobId
   * @param {(job: import('./index.js').Transcription) => void} onUpdate
   * @param {{onClose?: (err: Error|null) => void, signal?: AbortSignal, replyTimeoutMs?: number}} [opts]
   * @returns {Promise<import('./index.js').Subscription>}
   */
  subscribe(jobId, onUpdate, opts = {}) {
    if (!this.canSubscribe) {
      return Promise.reject(new UnsupportedError('Live updates need a WebSocket URL (websocketUrl) and a platform with WebSocket; use wait(), which polls.'));
    }
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const Socket = /** @type {typeof WebSocket} */ (this.#WebSocket);
    const url = /** @type {string} */ (this.websocketUrl);
    const wanted = jobId ? String(jobId) : null;
    const replyMs = opts.replyTimeoutMs ?? SUBSCRIBE_REPLY_MS;
    return new Promise((resolve, reject) => {
      /** 'opening' until the server confirms, then 'subscribed'; 'closed' at the end either way. */
      let state = 'opening';
      let closedByUs = false;
      /** @type {WebSocket} */
      let socket;
      const shut = () => {
        closedByUs = true;
        try { socket?.close(1000); } catch { /* already closing */ }
      };
      const onAbort = () => (state === 'opening' ? fail(signal?.reason) : shut());
      const timer = setTimeout(
        () => fail(new APIConnectionError(`The live connection at ${url} did not confirm the subscription within ${replyMs / 1000} s.`)),
        replyMs,
      );
      const cleanup = () => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); };
      /** @param {unknown} err */
      const fail = (err) => {
        if (state !== 'opening') return;
        state = 'closed';
        cleanup();
        shut();
        reject(err);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        socket = new Socket(url, ['transcriber.v1', `key.${this.#apiKey}`]);
      } catch (err) {
        fail(new APIConnectionError(`Could not open the live connection at ${url}: ${/** @type {Error} */ (err).message}.`, { cause: err }));
        return;
      }
      socket.onopen = () => {
        try {
          socket.send(JSON.stringify(wanted ? { action: 'subscribe', job_id: wanted } : { action: 'subscribe' }));
        } catch (err) {
          fail(new APIConnectionError(`Could not subscribe over the live connection at ${url}.`, { cause: err }));
        }
      };
      socket.onmessage = (event) => {
        let data;
        try {
          data = JSON.parse(String(event.data));
        } catch {
          return; // not JSON: ignore
        }
        if (data === null || typeof data !== 'object' || Array.isArray(data) || state === 'closed' || closedByUs) return;
        if (typeof data.job_id === 'string' && data.job_id) { // a pushed job view
          if (!wanted || data.job_id === wanted) onUpdate(toTranscription(data));
          return;
        }
        if (state !== 'opening') return; // the reply was had; nothing else is expected
        if (data.subscribed === (wanted ?? '*')) {
          state = 'subscribed';
          clearTimeout(timer);
          resolve({ close: shut });
          return;
        }
        fail(liveRefusal(data, wanted));
      };
      socket.onerror = () => fail(new APIConnectionError(`Could not open the live connection at ${url}.`));
      socket.onclose = (event) => {
        if (state === 'opening') {
          fail(new APIConnectionError(`The live connection at ${url} closed (${event.code}) before the subscription was confirmed.`));
          return;
        }
        if (state === 'closed') return;
        state = 'closed';
        cleanup();
        opts.onClose?.(closedByUs || event.code === 1000 ? null : new APIConnectionError(`The live connection closed (${event.code}).`));
      };
    });
  }

  /**
   * Wait until a job is COMPLETED or FAILED, calling onProgress on every change. Uses live pushes
   * when subscribe() is available (with a GET every liveCheckMs in case a push was lost) and polls
   * every pollMs when it is not, the server refuses the subscription, or it keeps dropping.
   * Transient errors (429, 5xx, no connection) are ridden out until the deadline; `signal` stops it.
   * @param {string} jobId
   * @param {import('./index.js').WaitOptions} [opts]
   */
  async wait(jobId, opts = {}) {
    const pollMs = opts.pollMs ?? 1000;
    const timeoutMs = opts.timeoutMs ?? 3_600_000;
    const { signal } = opts;
    if (signal?.aborted) throw signal.reason;
    const started = Date.now();
    const deadline = started + timeoutMs;
    const finish = (/** @type {import('./index.js').Transcription} */ job) => {
      if (job.status === FAILED && (opts.raiseOnFailure ?? true)) throw new TranscriptionFailedError(job);
      return job;
    };
    if (opts.live !== false && this.canSubscribe) {
      for (let attempt = 0; attempt <= LIVE_RECONNECTS && Date.now() < deadline; attempt += 1) {
        const outcome = await this.#waitLive(jobId, opts, deadline);
        if (outcome.job) return finish(outcome.job);
        if (outcome.why !== 'dropped') break; // refused, past the deadline, or done (its GET failed): poll
      }
    }
    let failures = 0;
    for (;;) {
      let job;
      try {
        job = await this.get(jobId, { signal });
        failures = 0;
      } catch (err) {
        if (signal?.aborted || !isTransient(err)) throw err;
        const pause = err instanceof RateLimitedError
          ? Math.max(pollMs, err.retryAfter * 1000)
          : Math.max(pollMs, backoffMs(failures));
        failures += 1;
        if (Date.now() + pause > deadline) throw err;
        await this.#sleep(pause, signal);
        continue;
      }
      opts.onProgress?.(job);
      if (job.status === COMPLETED || job.status === FAILED) return finish(job);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new WaitTimeoutError(job, Date.now() - started);
      await this.#sleep(Math.min(pollMs, remaining), signal);
    }
  }

  /**
   * Follow a job over one subscription: a GET when it is confirmed (a change before it is not
   * pushed) and every liveCheckMs (a push may be lost), pushes in between; a GET for the full view
   * once a push says it is done. `{job}` when it is, else why not: 'refused' (the subscription was
   * not confirmed), 'dropped' (the connection closed), 'deadline', or 'done' (its last GET failed).
   * The socket is closed on every way out.
   * @param {string} jobId @param {import('./index.js').WaitOptions} opts @param {number} deadline
   * @returns {Promise<{job?: import('./index.js').Transcription, why?: string}>}
   */
  async #waitLive(jobId, opts, deadline) {
    const { signal } = opts;
    const checkMs = Math.max(1, opts.liveCheckMs ?? LIVE_CHECK_MS);
    let pushedDone = false;
    let dropped = false;
    let wake = () => {};
    /** @type {import('./index.js').Subscription} */
    let subscription;
    try {
      subscription = await this.subscribe(jobId, (job) => {
        opts.onProgress?.(job);
        if (job.done) { pushedDone = true; wake(); }
      }, { signal, onClose: () => { dropped = true; wake(); } });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      return { why: 'refused' };
    }
    try {
      for (;;) {
        if (!pushedDone) {
          let current = null;
          try {
            current = await this.get(jobId, { signal });
          } catch (err) {
            if (signal?.aborted || !isTransient(err)) throw err; // a 404 or 401 ends the wait, as polling would
          }
          if (current) {
            opts.onProgress?.(current);
            if (current.done) return { job: current };
          }
        }
        if (pushedDone) {
          try {
            return { job: await this.get(jobId, { signal }) }; // the full view (pushes carry no transcript)
          } catch (err) {
            if (signal?.aborted || !isTransient(err)) throw err;
            return { why: 'done' };
          }
        }
        if (dropped) return { why: 'dropped' };
        const remaining = deadline - Date.now();
        if (remaining <= 0) return { why: 'deadline' };
        await new Promise((resolve, reject) => {
          const onAbort = () => { clearTimeout(timer); reject(signal?.reason); };
          const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(undefined); }, Math.min(checkMs, remaining));
          wake = () => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); resolve(undefined); };
          if (signal?.aborted) onAbort();
          else signal?.addEventListener('abort', onAbort, { once: true });
          if (pushedDone || dropped) wake();
        });
        wake = () => {};
      }
    } finally {
      subscription.close();
    }
  }

  // ---- changing jobs ------------------------------------------------------------------------

  /** Stop the job if it runs, delete its audio and outputs. @param {string} jobId */
  async delete(jobId) {
    await this.request('DELETE', Client.jobPath(jobId), { what: `Deleting job ${jobId}` });
  }

  /** Start a FAILED job again (finished chunks are reused); ConflictError if it is not FAILED. @param {string} jobId */
  async retry(jobId) {
    return toTranscription(await this.#json('POST', Client.jobPath(jobId, '/retry'), { what: `Retrying job ${jobId}` }));
  }

  /**
   * Name a COMPLETED job's speakers (`{spk_0: 'Alice'}`); the API rewrites all four outputs. The speakers after it.
   * @param {string} jobId @param {Record<string, string>} names
   */
  async renameSpeakers(jobId, names) {
    const data = await this.#json('PUT', Client.jobPath(jobId, '/speakers'), { what: `Renaming the speakers of job ${jobId}`, payload: names });
    return toSpeakers(data.speakers);
  }
}

/** The problem JSON of an error answer, or {detail: text}. @param {Response} response */
async function problemOf(response) {
  const text = await response.text().catch(() => '');
  try {
    const data = JSON.parse(text);
    if (data && typeof data === 'object' && !Array.isArray(data)) return data;
  } catch { /* not JSON */ }
  return text.trim() ? { detail: text.trim().slice(0, 300) } : {};
}

/** One search hit (GET /v1/search): which job and file, where in the audio, the text. @param {any} h */
function toSearchHit(h) {
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return Object.freeze({
    jobId: String(h.job_id ?? ''), filename: String(h.filename ?? ''), segmentId: num(h.segment_id),
    start: num(h.start), end: num(h.end), text: String(h.text ?? ''), highlight: String(h.highlight ?? ''),
    score: num(h.score), raw: h,
  });
}

/**
 * The error for a subscription the live-status server refused (`{"error": code, "message": ...}`,
 * sent on the open socket), or for a reply that is neither that nor the expected confirmation.
 * @param {Record<string, unknown>} reply @param {string|null} jobId
 * @returns {TranscriberError}
 */
function liveRefusal(reply, jobId) {
  const code = typeof reply.error === 'string' && reply.error ? reply.error : null;
  const said = String(reply.message ?? reply.detail ?? '').trim();
  const what = `Subscribing to ${jobId ? `job ${jobId}` : 'every job'} over the live connection was refused` +
    `${code ? ` [${code}]` : ''}${said ? `: ${said.replace(/\.+$/, '')}` : ''}.`;
  const problem = { reason_code: code, detail: said || null };
  if (code && /RATE|LIMIT|QUOTA/.test(code)) {
    const retryAfter = parseRetryAfter(reply.retry_after === undefined ? null : String(reply.retry_after), 60);
    return new RateLimitedError(`${what} Wait before subscribing again; wait() polls meanwhile.`, { status: 429, problem, retryAfter });
  }
  if (code === 'NOT_FOUND') return new NotFoundError(`${what} Check the job id; jobs of another tenant are not visible.`, { status: 404, problem });
  if (code === 'NOT_CONNECTED' || code === 'UNAUTHORIZED') return new AuthenticationError(`${what} Connect again with a valid API key.`, { status: 403, problem });
  if (code === 'TOO_MANY_SUBSCRIPTIONS') {
    return new ValidationError(`${what} Follow fewer jobs on one connection, or subscribe to every job (no job id).`, { status: 400, problem });
  }
  if (code) return new ValidationError(`${what} wait() polls instead.`, { status: 400, problem });
  if (/internal server error/i.test(said)) return new ServerError(`${what} This is usually temporary; wait() polls meanwhile.`, { status: 500, problem });
  return new UnsupportedError(`${what} The server did not confirm with {"subscribed": ...}: is ${jobId ? 'this' : 'it'} the transcription service's live-status socket?`, { problem });
}
