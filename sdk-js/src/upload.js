// PUT the audio to a presigned upload URL, with progress. The API key never goes there.
// Browsers: XMLHttpRequest (the only browser API with upload progress). Node: node:http(s), fed
// from a file path, a Blob, bytes or a stream, with an explicit Content-Length (S3 refuses chunked).
import { UploadError } from './errors.js';

/** The body is binary: moto's S3 stalls on a PUT declaring application/x-www-form-urlencoded. */
export const BINARY = 'application/octet-stream';

const isNode = () => typeof process !== 'undefined' && !!process.versions?.node && typeof XMLHttpRequest === 'undefined';

/**
 * @param {string} url
 * @param {import('./index.js').UploadSource} source
 * @param {{contentType?: string|null, size?: number|null, headers?: Record<string, string>,
 *          onProgress?: (p: import('./index.js').UploadProgress) => void, signal?: AbortSignal, job?: string}} [opts]
 */
export async function putAudio(url, source, opts = {}) {
  const job = opts.job ?? 'the job';
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new UploadError(`The upload URL for ${job} is not a URL: ${String(url).slice(0, 80)}.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UploadError(`The upload URL for ${job} is not an http(s) URL: ${String(url).slice(0, 80)}.`);
  }
  const headers = { 'Content-Type': opts.contentType || BINARY, ...(opts.headers ?? {}) };
  const { status, body } = isNode()
    ? await putFromNode(parsed, source, headers, opts)
    : await putFromBrowser(url, source, headers, opts);
  if (status < 200 || status >= 300) {
    const snippet = String(body || '').trim().slice(0, 300);
    const hint =
      status === 403
        ? 'The upload URL has probably expired (it is valid for up to 15 minutes) or was altered: create the job again and upload at once.'
        : 'Try the upload again; if it keeps failing, create the job again.';
    throw new UploadError(
      `Uploading the audio for ${job} failed: storage answered HTTP ${status}${snippet ? ': ' + snippet : ''}. ${hint}`,
      { status },
    );
  }
}

/** @param {unknown} source */
function isBlob(source) {
  return typeof Blob !== 'undefined' && source instanceof Blob;
}

/** @param {unknown} source */
function isBytes(source) {
  return source instanceof ArrayBuffer || ArrayBuffer.isView(source);
}

/**
 * @param {string} url
 * @param {any} source
 * @param {Record<string, string>} headers
 * @param {any} opts
 * @returns {Promise<{status: number, body: string}>}
 */
async function putFromBrowser(url, source, headers, opts) {
  let blob;
  if (isBlob(source)) blob = source;
  else if (isBytes(source)) blob = new Blob([/** @type {BlobPart} */ (source)]);
  else if (source && typeof source.getReader === 'function') blob = await new Response(source).blob();
  else throw new UploadError('In a browser, upload a File, a Blob, bytes or a ReadableStream.');
  const total = blob.size;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) =>
      opts.onProgress?.({ loaded: event.loaded, total: event.lengthComputable ? event.total : total });
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) opts.onProgress?.({ loaded: total, total });
      resolve({ status: xhr.status, body: xhr.responseText });
    };
    xhr.onerror = () =>
      reject(new UploadError(`Uploading the audio for ${opts.job ?? 'the job'} failed: the network or storage refused the connection (CORS?). Check the network and try again.`));
    xhr.onabort = () => reject(new UploadError(`Uploading the audio for ${opts.job ?? 'the job'} was cancelled.`));
    opts.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(blob);
  });
}

/**
 * @param {URL} url
 * @param {any} source
 * @param {Record<string, string>} headers
 * @param {any} opts
 * @returns {Promise<{status: number, body: string}>}
 */
async function putFromNode(url, source, headers, opts) {
  const job = opts.job ?? 'the job';
  /** @type {AsyncIterable<Uint8Array>} */
  let chunks;
  let total = opts.size ?? null;
  if (typeof source === 'string' || source instanceof URL) {
    const fs = await import('node:fs');
    try {
      total = (await fs.promises.stat(source)).size;
    } catch (err) {
      throw new UploadError(`Cannot read ${source} to upload it: ${/** @type {Error} */ (err).message}.`, { cause: err });
    }
    chunks = fs.createReadStream(source, { highWaterMark: 1024 * 1024 });
  } else if (isBlob(source)) {
    total = source.size;
    chunks = /** @type {any} */ (source.stream());
  } else if (isBytes(source)) {
    const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    total = bytes.byteLength;
    chunks = (async function* () { for (let i = 0; i < bytes.length; i += 1024 * 1024) yield bytes.subarray(i, i + 1024 * 1024); })();
  } else if (source && (typeof source[Symbol.asyncIterator] === 'function')) {
    if (total === null) throw new UploadError('Uploading a stream needs its size in bytes: pass {size}.');
    chunks = source;
  } else {
    throw new UploadError('Upload a file path, a Blob, bytes, or a stream with {size}.');
  }
  /** @type {typeof import('node:http')} */
  const http = await import(url.protocol === 'https:' ? 'node:https' : 'node:http');
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'PUT', headers: { ...headers, 'Content-Length': String(total) }, signal: opts.signal },
      (/** @type {import('node:http').IncomingMessage} */ response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (/** @type {string} */ part) => { body += part; });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', (/** @type {Error} */ err) =>
      reject(new UploadError(`Uploading the audio for ${job} failed: ${err.message}. Check the network and try again.`, { cause: err })));
    (async () => {
      let loaded = 0;
      for await (const chunk of chunks) {
        const part = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        loaded += part.byteLength;
        if (!request.write(part)) await new Promise((r) => request.once('drain', r));
        opts.onProgress?.({ loaded, total });
      }
      if (loaded !== total) {
        request.destroy();
        throw new UploadError(`The stream for ${job} gave ${loaded} bytes, not the ${total} the upload URL was signed for.`);
      }
      request.end();
    })().catch((err) => { request.destroy(); reject(err instanceof UploadError ? err : new UploadError(`Reading the audio for ${job} failed: ${err.message}.`, { cause: err })); });
  });
}
