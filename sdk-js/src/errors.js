// Typed errors, one class per kind of failure, like the Python SDK's (client/sdk.py).
// Every message says what happened and what to do about it.

/** Base of every error the SDK throws. For an API answer, `status` and `problem` are as sent. */
export class TranscriberError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number|null, problem?: Record<string, unknown>|null, cause?: unknown}} [init]
   */
  constructor(message, init = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    /** @type {number|null} */
    this.status = init.status ?? null;
    /** @type {Record<string, unknown>} */
    this.problem = { ...(init.problem ?? {}) };
    /** @type {string|null} where a 3xx pointed */
    this.location = null;
  }
  /** @returns {string|null} */
  get title() { return optString(this.problem.title); }
  /** @returns {string|null} the API's own explanation, shown as is by the web app */
  get detail() { return optString(this.problem.detail); }
  /** @returns {string|null} */
  get reasonCode() { return optString(this.problem.reason_code); }
  /** @returns {string|null} */
  get type() { return optString(this.problem.type); }
}

/** The API could not be reached (wrong URL, server down, network, timeout). */
export class APIConnectionError extends TranscriberError {}
/** 401 (or 403): the API key is missing, wrong, revoked, or not allowed to do this. */
export class AuthenticationError extends TranscriberError {}
/** 404: no such job for this API key (another tenant's job is not found either). */
export class NotFoundError extends TranscriberError {}
/** 409: the job is not in a state that allows this. */
export class ConflictError extends TranscriberError {}
/** 400, 413, 415 or 422: the request was refused as it stands; the message says why. */
export class ValidationError extends TranscriberError {}
/** 5xx: the API failed. Usually transient. */
export class ServerError extends TranscriberError {}
/** The audio could not be PUT to the presigned upload URL. */
export class UploadError extends TranscriberError {}
/** A feature this server does not offer (yet): live updates, the audio endpoint, ... */
export class UnsupportedError extends TranscriberError {}

/** 429: over the rate limit or the quota. `retryAfter` is in seconds. */
export class RateLimitedError extends TranscriberError {
  /**
   * @param {string} message
   * @param {{retryAfter: number, status?: number|null, problem?: Record<string, unknown>|null}} init
   */
  constructor(message, init) {
    super(message, init);
    this.retryAfter = init.retryAfter;
  }
}

/** The job ended FAILED. `transcription` is the final job view. */
export class TranscriptionFailedError extends TranscriberError {
  /** @param {import('./index.js').Transcription} transcription */
  constructor(transcription) {
    const reason = transcription.reasonCode || 'UNKNOWN';
    const detail = transcription.errorMessage || 'no message was recorded';
    super(
      `Transcription ${transcription.jobId} (${transcription.filename || 'file'}) failed [${reason}]: ` +
        `${detail}. Fix the cause and call retry('${transcription.jobId}') (finished chunks are reused), ` +
        'or submit the file again.',
      { problem: { reason_code: transcription.reasonCode, detail: transcription.errorMessage } },
    );
    this.transcription = transcription;
    this.jobId = transcription.jobId;
    this.errorMessage = transcription.errorMessage;
  }
}

/** `wait` gave up before the job finished. The job keeps running on the server. */
export class WaitTimeoutError extends TranscriberError {
  /**
   * @param {import('./index.js').Transcription} transcription
   * @param {number} waitedMs
   */
  constructor(transcription, waitedMs) {
    super(
      `Transcription ${transcription.jobId} is still ${transcription.status} ` +
        `(${Math.round(transcription.progress)}%) after waiting ${Math.round(waitedMs / 1000)} s. ` +
        `It keeps running: call wait('${transcription.jobId}') again, or pass a larger timeoutMs.`,
    );
    this.transcription = transcription;
    this.jobId = transcription.jobId;
    this.waitedMs = waitedMs;
  }
}

/** @param {unknown} value @returns {string|null} */
function optString(value) {
  return value === null || value === undefined ? null : String(value);
}

/**
 * `Retry-After` as seconds: a number of seconds or an HTTP date.
 * @param {string|null|undefined} value
 * @param {number} [fallback]
 * @param {number} [nowMs]
 */
export function parseRetryAfter(value, fallback = 1, nowMs = Date.now()) {
  const text = String(value ?? '').trim();
  if (!text) return fallback;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.max(0, Number(text));
  const when = Date.parse(text);
  if (Number.isNaN(when)) return fallback;
  return Math.max(0, (when - nowMs) / 1000);
}

/**
 * The error for a non-2xx answer, with the server's detail and what to do next.
 * @param {number} status
 * @param {Record<string, unknown>} problem  the problem JSON (or {detail: text})
 * @param {{get(name: string): string|null}} headers
 * @param {string} what  what the call was doing, e.g. "Getting job 123"
 * @param {{tooLarge?: string}} [hints]  what to do about a 413 where "send a smaller file" is wrong
 *   (GET .../segments: the transcript is too large to answer; download it instead)
 * @returns {TranscriberError}
 */
export function errorFor(status, problem, headers, what, hints = {}) {
  const detail = String(problem.detail || problem.title || problem.message || '').trim();
  const said = detail ? `: ${detail.replace(/\.+$/, '')}` : '';
  const tag = problem.reason_code ? ` [${problem.reason_code}]` : '';
  const init = { status, problem };
  if (status === 401 || status === 403) {
    const verb = status === 401 ? 'was refused (401)' : 'is not allowed (403)';
    return new AuthenticationError(
      `${what} ${verb}${said}. Check your API key: send the key you were given; a revoked key no longer works.`,
      init,
    );
  }
  if (status === 404) {
    return new NotFoundError(
      `${what}: not found (404)${said}. Check the job id (listing your jobs shows them); jobs of another ` +
        "API key's tenant are not visible, and deleted jobs are gone.",
      init,
    );
  }
  if (status === 409) {
    return new ConflictError(
      `${what}: conflict (409)${tag}${said}. Check the job's status first: downloads need a COMPLETED ` +
        'job, and only a FAILED job can be retried.',
      init,
    );
  }
  if (status === 413) {
    const hint = hints.tooLarge ??
      'Send a smaller file (or split it); files over 4 MiB cannot be sent inline and must use the upload URL.';
    return new ValidationError(`${what}: too large (413)${tag}${said}. ${hint}`, init);
  }
  if (status === 415) {
    return new ValidationError(
      `${what}: unsupported media type (415)${tag}${said}. Send an audio file (WAV, MP3, M4A, FLAC, ` +
        'OGG/Opus, AAC, WMA, WebM) with a matching extension or content type.',
      init,
    );
  }
  if (status === 400 || status === 422) {
    return new ValidationError(
      `${what}: invalid request (${status})${tag}${said}. Correct the request and send it again.`,
      init,
    );
  }
  if (status === 429) {
    const retryAfter = parseRetryAfter(headers.get('Retry-After'));
    return new RateLimitedError(
      `${what}: rate limit or quota exceeded (429)${tag}${said}. Wait ${retryAfter} s (Retry-After) ` +
        'before trying again, or ask for a higher limit.',
      { ...init, retryAfter },
    );
  }
  if (status >= 500) {
    return new ServerError(
      `${what}: the API failed (${status})${said}. This is usually temporary: try again in a moment; ` +
        'if it keeps happening, report it with the time and the job id.',
      init,
    );
  }
  if (status >= 300 && status < 400) {
    const redirect = new TranscriberError(
      `${what}: the API redirected to ${headers.get('Location') ?? '?'} (${status}). Use that address ` +
        'as the base URL (http versus https?); the client does not follow redirects with your key.',
      init,
    );
    /** where the API pointed (a presigned URL for the audio endpoint's 303) */
    redirect.location = headers.get('Location');
    return redirect;
  }
  return new TranscriberError(`${what}: unexpected HTTP ${status}${said}.`, init);
}
