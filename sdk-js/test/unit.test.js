// Offline tests: error mapping, retries, models, uploads to a local HTTP server, wait's fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  AuthenticationError, Client, ConflictError, NotFoundError, RateLimitedError, ServerError,
  TranscriptionFailedError, UnsupportedError, UploadError, ValidationError, WaitTimeoutError,
  errorFor, parseRetryAfter, toTranscription,
} from '../src/index.js';
import { fakeFetch } from './helpers.js';

const problem = (status, extra = {}) => ({ type: `urn:transcriber:problem:x`, title: 'T', status, detail: `detail ${status}`, ...extra });

const noSleep = async () => {};

test('each status maps to its error class, with the API detail kept', () => {
  const headers = new Headers({ 'Retry-After': '7' });
  const cases = [
    [401, AuthenticationError], [403, AuthenticationError], [404, NotFoundError], [409, ConflictError],
    [400, ValidationError], [413, ValidationError], [415, ValidationError], [422, ValidationError],
    [429, RateLimitedError], [500, ServerError], [503, ServerError],
  ];
  for (const [status, cls] of cases) {
    const err = errorFor(status, problem(status, { reason_code: 'R' }), headers, 'Doing it');
    assert.ok(err instanceof cls, `${status} -> ${err.name}`);
    assert.equal(err.status, status);
    assert.equal(err.detail, `detail ${status}`);
    assert.equal(err.reasonCode, 'R');
    assert.match(err.message, new RegExp(`^Doing it.*detail ${status}`));
    assert.equal(err.name, cls.name);
  }
  assert.equal(errorFor(429, {}, headers, 'x').retryAfter, 7);
});

test('Retry-After as seconds or an HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3);
  assert.equal(parseRetryAfter(null, 1), 1);
  assert.equal(parseRetryAfter('garbage', 2), 2);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', 1, now), 10);
});

test('constructor refuses a bad URL or a missing key; /v1 is not doubled', () => {
  assert.throws(() => new Client('ftp://x', 'k'), ValidationError);
  assert.throws(() => new Client('http://x', ''), AuthenticationError);
  const client = new Client('http://127.0.0.1:1/v1/', 'k', { fetch: fakeFetch([[200, {}]]) });
  assert.equal(client.url('/transcriptions', { limit: 2, cursor: null }), 'http://127.0.0.1:1/v1/transcriptions?limit=2');
  assert.doesNotMatch(JSON.stringify(client), /"k"/);
});

test('GET rides out a 429 with Retry-After; POST is never repeated', async () => {
  const job = { job_id: 'a'.repeat(32), status: 'PROCESSING', progress: 40 };
  const fetch = fakeFetch([[429, problem(429), { 'Retry-After': '0' }], [200, job]]);
  const client = new Client('http://api', 'key', { fetch, sleep: noSleep });
  const got = await client.get(job.job_id);
  assert.equal(got.progress, 40);
  assert.equal(fetch.calls.length, 2);
  assert.equal(fetch.calls[0].init.headers.Authorization, 'Bearer key');

  const postFetch = fakeFetch([[429, problem(429), { 'Retry-After': '0' }]]);
  const poster = new Client('http://api', 'key', { fetch: postFetch, sleep: noSleep });
  await assert.rejects(poster.retry(job.job_id), RateLimitedError);
  assert.equal(postFetch.calls.length, 1);
});

test('a non-JSON error body becomes the detail', async () => {
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[502, 'Bad gateway']]), sleep: noSleep });
  await assert.rejects(client.list(), (err) => err instanceof ServerError && err.detail === 'Bad gateway');
});

test('job views: camelCase, clamped progress, words under either spelling', () => {
  const job = toTranscription({
    job_id: 'j', status: 'completed', progress: 140, created_at: '2026-01-01T00:00:00Z',
    transcript: { text: 'hi there', language: 'en', duration: 2, segments: [{ id: 0, start: 0, end: 2, text: 'hi there', words: [{ word: 'hi', start: 0, end: 0.5 }, { text: 'there', start: 0.6, end: 1 }] }] },
  });
  assert.equal(job.status, 'COMPLETED');
  assert.equal(job.progress, 100);
  assert.equal(job.done, true);
  assert.deepEqual(job.transcript.segments[0].words.map((w) => w.text), ['hi', 'there']);
  assert.equal(toTranscription({ job_id: 'j', status: 'COMPLETED' }).progress, 100);
});

test('wait polls until COMPLETED and reports progress; a FAILED job throws with its reason', async () => {
  const id = 'b'.repeat(32);
  const fetch = fakeFetch([
    [200, { job_id: id, status: 'PROCESSING', progress: 10 }],
    [200, { job_id: id, status: 'PROCESSING', progress: 60 }],
    [200, { job_id: id, status: 'COMPLETED', progress: 100 }],
  ]);
  const seen = [];
  const client = new Client('http://api', 'key', { fetch, sleep: noSleep });
  const done = await client.wait(id, { onProgress: (j) => seen.push(j.progress) });
  assert.equal(done.status, 'COMPLETED');
  assert.deepEqual(seen, [10, 60, 100]);

  const failing = new Client('http://api', 'key', {
    fetch: fakeFetch([[200, { job_id: id, status: 'FAILED', reason_code: 'AUDIO_UNREADABLE', error_message: 'not audio' }]]),
    sleep: noSleep,
  });
  await assert.rejects(failing.wait(id), (err) => err instanceof TranscriptionFailedError && err.reasonCode === 'AUDIO_UNREADABLE');
  const returned = await failing.wait(id, { raiseOnFailure: false });
  assert.equal(returned.status, 'FAILED');
});

test('wait times out with the last view', async () => {
  const id = 'c'.repeat(32);
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[200, { job_id: id, status: 'PENDING' }]]), sleep: noSleep });
  await assert.rejects(client.wait(id, { timeoutMs: 0 }), WaitTimeoutError);
});

test('without a WebSocket URL subscribe is unsupported and wait polls', async () => {
  const id = 'd'.repeat(32);
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[200, { job_id: id, status: 'COMPLETED' }]]), sleep: noSleep });
  assert.equal(client.canSubscribe, false);
  await assert.rejects(client.subscribe(id, () => {}), UnsupportedError);
  assert.equal((await client.wait(id)).status, 'COMPLETED');
});

test('wait uses live pushes when subscribe is available, then GETs the full view', async () => {
  const id = 'e'.repeat(32);
  class FakeSocket {
    constructor(url, protocols) {
      FakeSocket.last = this;
      this.protocols = protocols;
      setTimeout(() => this.onopen(), 0);
    }
    send(message) {
      this.sent = JSON.parse(message);
      setTimeout(() => this.onmessage({ data: JSON.stringify({ subscribed: id }) }), 0);
      setTimeout(() => this.onmessage({ data: JSON.stringify({ job_id: id, status: 'PROCESSING', progress: 50 }) }), 5);
      setTimeout(() => this.onmessage({ data: JSON.stringify({ job_id: id, status: 'COMPLETED', progress: 100 }) }), 10);
    }
    close() { this.closed = true; }
  }
  const fetch = fakeFetch([
    [200, { job_id: id, status: 'PROCESSING', progress: 20 }],
    [200, { job_id: id, status: 'COMPLETED', progress: 100, transcript: { text: 'done' } }],
  ]);
  const client = new Client('http://api', 'key', { fetch, WebSocket: FakeSocket, websocketUrl: 'ws://api/ws', sleep: noSleep });
  const seen = [];
  const job = await client.wait(id, { onProgress: (j) => seen.push(j.progress) });
  assert.equal(job.transcript.text, 'done');
  assert.deepEqual(seen, [20, 50, 100]);
  assert.deepEqual(FakeSocket.last.sent, { action: 'subscribe', job_id: id });
  assert.ok(FakeSocket.last.closed);
  assert.ok(FakeSocket.last.protocols.includes('key.key'));
});

test('download refuses an unknown format before any request', async () => {
  const fetch = fakeFetch([[200, 'x']]);
  const client = new Client('http://api', 'key', { fetch });
  await assert.rejects(client.download('j', 'docx'), ValidationError);
  assert.equal(fetch.calls.length, 0);
});

test('an unredacted download asks for the json copy as heard, and only as json', async () => {
  const fetch = fakeFetch([[200, '{"transcript": "as heard"}']]);
  const client = new Client('http://api', 'key', { fetch });
  await assert.rejects(client.download('j', 'srt', { unredacted: true }), ValidationError);
  assert.equal(fetch.calls.length, 0);
  assert.equal(await client.download('j', 'json', { unredacted: true }), '{"transcript": "as heard"}');
  const url = new URL(fetch.calls[0].url);
  assert.equal(url.searchParams.get('format'), 'json');
  assert.equal(url.searchParams.get('unredacted'), 'true');
});

test('audioUrl is null when the OpenAPI document has no audio endpoint', async () => {
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[200, { paths: {} }]]) });
  assert.deepEqual(await client.capabilities(), { audio: false, live: false });
  assert.equal(await client.audioUrl('f'.repeat(32)), null);
});

/** A storage stand-in: records each PUT's headers and body. */
async function storage(status = 200) {
  const puts = [];
  const server = http.createServer((req, res) => {
    const parts = [];
    req.on('data', (p) => parts.push(p));
    req.on('end', () => {
      puts.push({ headers: req.headers, body: Buffer.concat(parts) });
      res.writeHead(status, { 'Content-Type': 'application/xml' });
      res.end(status === 200 ? '' : '<Error><Code>AccessDenied</Code></Error>');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/bucket/key?X-Amz-Signature=s`, puts, close: () => server.close() };
}

test('upload PUTs bytes, a Blob and a stream with a binary type, a length and progress', async () => {
  const store = await storage();
  try {
    const client = new Client('http://api', 'secret-key', { fetch: fakeFetch([[200, {}]]) });
    const submission = { jobId: 'j', uploadUrl: store.url, uploadHeaders: {} };
    const bytes = new Uint8Array(3 * 1024 * 1024 + 5).fill(7);
    const progress = [];
    await client.upload(submission, bytes, { onProgress: (p) => progress.push(p) });
    await client.upload(submission, new Blob([bytes]), { contentType: 'audio/flac' });
    async function* stream() { yield bytes.subarray(0, 10); yield bytes.subarray(10, 20); }
    await client.upload(submission, stream(), { size: 20 });
    assert.equal(store.puts.length, 3);
    assert.equal(store.puts[0].headers['content-type'], 'application/octet-stream');
    assert.equal(store.puts[0].headers['content-length'], String(bytes.length));
    assert.equal(store.puts[0].headers.authorization, undefined);
    assert.equal(store.puts[0].body.length, bytes.length);
    assert.equal(store.puts[1].headers['content-type'], 'audio/flac');
    assert.equal(store.puts[2].body.length, 20);
    assert.deepEqual(progress.at(-1), { loaded: bytes.length, total: bytes.length });
    assert.ok(progress.length >= 4);
    await assert.rejects(client.upload(submission, stream(), {}), UploadError);
  } finally {
    store.close();
  }
});

test('a refused upload says the URL probably expired', async () => {
  const store = await storage(403);
  try {
    const client = new Client('http://api', 'k', { fetch: fakeFetch([[200, {}]]) });
    await assert.rejects(
      client.upload({ jobId: 'j', uploadUrl: store.url, uploadHeaders: {} }, new Uint8Array(4)),
      (err) => err instanceof UploadError && err.status === 403 && /expired/.test(err.message),
    );
  } finally {
    store.close();
  }
});

test('submitUrl sends source_url and the options, with no upload step', async () => {
  const created = { job_id: 'j1', status: 'AWAITING_UPLOAD', upload_url: null, upload_method: 'PUT', links: { self: '/v1/transcriptions/j1' } };
  const fetch = fakeFetch([[201, created]]);
  const client = new Client('http://api', 'key', { fetch, sleep: noSleep });
  const submission = await client.submitUrl('https://media.example.com/a.mp3', { options: { task: 'translate', prompt: 'Norland', language: null } });
  assert.equal(submission.jobId, 'j1');
  assert.equal(submission.uploadUrl, null);
  const sent = JSON.parse(fetch.calls[0].init.body);
  assert.deepEqual(sent, { source_url: 'https://media.example.com/a.mp3', options: { task: 'translate', prompt: 'Norland' } });
});

test('search sends the query and filters, and reads the hits', async () => {
  const hit = { job_id: 'a'.repeat(32), filename: 'talk.mp3', segment_id: 3, start: 75.5, end: 78, text: 'quick fox', highlight: '<mark>quick</mark> fox', score: 1.5 };
  const fetch = fakeFetch([[200, { hits: [hit], next_cursor: 'c2' }]]);
  const client = new Client('http://api', 'key', { fetch });
  const results = await client.search('"quick fox"', { language: 'en', limit: 5, createdAfter: '2026-01-01T00:00:00Z' });
  const url = new URL(fetch.calls[0].url);
  assert.equal(url.pathname, '/v1/search');
  assert.equal(url.searchParams.get('q'), '"quick fox"');
  assert.equal(url.searchParams.get('language'), 'en');
  assert.equal(url.searchParams.get('created_after'), '2026-01-01T00:00:00Z');
  assert.equal(url.searchParams.get('limit'), '5');
  assert.equal(url.searchParams.has('cursor'), false);
  assert.equal(results.nextCursor, 'c2');
  assert.deepEqual([results.hits[0].jobId, results.hits[0].start, results.hits[0].highlight], [hit.job_id, 75.5, hit.highlight]);
});

test('a bad search query is a ValidationError with the API detail', async () => {
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[422, problem(422)]]) });
  await assert.rejects(client.search(''), (err) => err instanceof ValidationError && err.detail === 'detail 422');
});

test('renameSpeakers PUTs the names and returns the speakers; the API message of a 422 is kept', async () => {
  const jobId = 'b'.repeat(32);
  const speakers = [{ label: 'spk_0', name: 'Alice', seconds: 12.5 }, { label: 'spk_1', name: null, seconds: 3 }];
  const fetch = fakeFetch([[200, { job_id: jobId, speakers }]]);
  const client = new Client('http://api', 'key', { fetch, sleep: noSleep });
  const got = await client.renameSpeakers(jobId, { spk_0: 'Alice' });
  assert.deepEqual(got, [{ label: 'spk_0', name: 'Alice', seconds: 12.5 }, { label: 'spk_1', name: null, seconds: 3 }]);
  assert.equal(fetch.calls[0].url, `http://api/v1/transcriptions/${jobId}/speakers`);
  assert.equal(fetch.calls[0].init.method, 'PUT');
  assert.deepEqual(JSON.parse(fetch.calls[0].init.body), { spk_0: 'Alice' });

  const refusing = new Client('http://api', 'key', { fetch: fakeFetch([[422, problem(422, { detail: 'No speaker spk_9 in this transcript' })]]), sleep: noSleep });
  await assert.rejects(refusing.renameSpeakers(jobId, { spk_9: 'X' }), (err) => err instanceof ValidationError && err.detail === 'No speaker spk_9 in this transcript');
  assert.deepEqual(toTranscription({ job_id: jobId, status: 'COMPLETED', speakers }).speakers.map((s) => s.name), ['Alice', null]);
  assert.deepEqual(toTranscription({ job_id: jobId, status: 'COMPLETED' }).speakers, []);
});
