// Offline tests of the live wait (the server's reply to subscribe, refusals, the safety GET, abort),
// retries of idempotent calls, large transcripts left out of the job view, and segments' 413/speaker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APIConnectionError, AuthenticationError, Client, NotFoundError, RateLimitedError, ServerError, ValidationError,
  errorFor, isTransient,
} from '../src/index.js';
import { fakeFetch } from './helpers.js';

const problem = (status, extra = {}) => ({ type: 'urn:transcriber:problem:x', title: 'T', status, detail: `detail ${status}`, ...extra });

/** A recording sleep that does not wait. */
function recordingSleep() {
  const waits = [];
  const fn = async (ms, signal) => {
    waits.push(ms);
    if (signal?.aborted) throw signal.reason;
  };
  fn.waits = waits;
  return fn;
}

/**
 * A WebSocket stand-in: opens, then answers the subscribe message with `reply(message)` (an object
 * to send, or undefined for silence). Every instance is kept, to check each one was closed.
 */
function fakeSocketClass(reply) {
  return class FakeSocket {
    static all = [];
    constructor(url, protocols) {
      FakeSocket.all.push(this);
      this.url = url;
      this.protocols = protocols;
      this.closed = false;
      this.sent = [];
      setTimeout(() => this.onopen?.(), 0);
    }
    send(message) {
      const parsed = JSON.parse(message);
      this.sent.push(parsed);
      const answer = reply(parsed, this);
      if (answer !== undefined) setTimeout(() => this.push(answer), 0);
    }
    push(data) {
      if (!this.closed) this.onmessage?.({ data: JSON.stringify(data) });
    }
    drop(code = 1006) {
      this.closed = true;
      this.onclose?.({ code });
    }
    close(code = 1000) {
      if (this.closed) return;
      this.closed = true;
      setTimeout(() => this.onclose?.({ code }), 0);
    }
  };
}

const id = 'a'.repeat(32);
const view = (status, progress = 0, extra = {}) => ({ job_id: id, status, progress, ...extra });

// ---- subscribe and the live wait ----------------------------------------------------------------

test('subscribe resolves on the server\'s {"subscribed"} reply, not on open', async () => {
  const Socket = fakeSocketClass((m) => ({ subscribed: m.job_id }));
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[200, {}]]), WebSocket: Socket, websocketUrl: 'ws://api/ws' });
  const updates = [];
  const subscription = await client.subscribe(id, (j) => updates.push(j.progress));
  assert.deepEqual(Socket.all[0].sent, [{ action: 'subscribe', job_id: id }]);
  Socket.all[0].push({ job_id: 'b'.repeat(32), status: 'PROCESSING', progress: 5 }); // another job: not this subscription's
  Socket.all[0].push(view('PROCESSING', 30));
  assert.deepEqual(updates, [30]);
  subscription.close();
  assert.equal(Socket.all[0].closed, true);
});

test('a subscription the server never confirms is refused after replyTimeoutMs, and its socket closed', async () => {
  const Socket = fakeSocketClass(() => undefined);
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[200, {}]]), WebSocket: Socket, websocketUrl: 'ws://api/ws' });
  await assert.rejects(client.subscribe(id, () => {}, { replyTimeoutMs: 30 }), APIConnectionError);
  assert.equal(Socket.all[0].closed, true);
});

test('a refused subscription rejects with a typed error and closes the socket', async () => {
  const cases = [
    [{ error: 'RATE_LIMITED', message: 'Too many requests this minute.' }, RateLimitedError],
    [{ error: 'NOT_FOUND', message: `No transcription '${id}'.` }, NotFoundError],
    [{ error: 'NOT_CONNECTED', message: 'Connect again.' }, AuthenticationError],
    [{ error: 'TOO_MANY_SUBSCRIPTIONS', message: 'At most 100.' }, ValidationError],
  ];
  for (const [reply, cls] of cases) {
    const Socket = fakeSocketClass(() => reply);
    const client = new Client('http://api', 'key', { fetch: fakeFetch([[200, {}]]), WebSocket: Socket, websocketUrl: 'ws://api/ws' });
    await assert.rejects(client.subscribe(id, () => {}), (err) => {
      assert.ok(err instanceof cls, `${reply.error} -> ${err.name}`);
      assert.equal(err.reasonCode, reply.error);
      assert.equal(err.detail, reply.message);
      return true;
    });
    assert.equal(Socket.all[0].closed, true, reply.error);
  }
});

test('wait polls at once when the server refuses the subscription (a 429 on the socket)', { timeout: 5000 }, async () => {
  const Socket = fakeSocketClass(() => ({ error: 'RATE_LIMITED', message: 'Too many requests this minute.' }));
  const fetch = fakeFetch([[200, view('PROCESSING', 40)], [200, view('COMPLETED', 100, { transcript: { text: 'done' } })]]);
  const client = new Client('http://api', 'key', { fetch, WebSocket: Socket, websocketUrl: 'ws://api/ws', sleep: recordingSleep() });
  const seen = [];
  const job = await client.wait(id, { onProgress: (j) => seen.push(j.status) });
  assert.equal(job.transcript.text, 'done');
  assert.deepEqual(seen, ['PROCESSING', 'COMPLETED']);
  assert.equal(Socket.all.length, 1);
  assert.equal(Socket.all[0].closed, true);
});

test('while subscribed and without pushes, wait GETs every liveCheckMs and ends when the job is done', { timeout: 5000 }, async () => {
  const Socket = fakeSocketClass((m) => ({ subscribed: m.job_id })); // confirms, then never pushes
  const fetch = fakeFetch([
    [200, view('PROCESSING', 10)], [200, view('PROCESSING', 60)], [200, view('COMPLETED', 100, { transcript: { text: 'ok' } })],
  ]);
  const client = new Client('http://api', 'key', { fetch, WebSocket: Socket, websocketUrl: 'ws://api/ws' });
  const seen = [];
  const job = await client.wait(id, { liveCheckMs: 10, onProgress: (j) => seen.push(j.progress) });
  assert.equal(job.status, 'COMPLETED');
  assert.deepEqual(seen, [10, 60, 100]);
  assert.equal(fetch.calls.length, 3);
  assert.equal(Socket.all.length, 1);
  assert.equal(Socket.all[0].closed, true);
});

test('a dropped live connection is subscribed again; the wait still ends on a push', { timeout: 5000 }, async () => {
  const Socket = fakeSocketClass((m, socket) => {
    if (Socket.all.length === 1) setTimeout(() => socket.drop(), 5);
    else setTimeout(() => socket.push(view('COMPLETED', 100)), 5);
    return { subscribed: m.job_id };
  });
  const fetch = fakeFetch([
    [200, view('PROCESSING', 10)], [200, view('PROCESSING', 20)], [200, view('COMPLETED', 100, { transcript: { text: 'ok' } })],
  ]);
  const client = new Client('http://api', 'key', { fetch, WebSocket: Socket, websocketUrl: 'ws://api/ws' });
  const job = await client.wait(id);
  assert.equal(job.transcript.text, 'ok');
  assert.equal(Socket.all.length, 2);
  assert.ok(Socket.all.every((s) => s.closed));
});

test('aborting the signal stops a live wait and closes its socket', { timeout: 5000 }, async () => {
  const Socket = fakeSocketClass((m) => ({ subscribed: m.job_id }));
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[200, view('PROCESSING', 10)]]), WebSocket: Socket, websocketUrl: 'ws://api/ws' });
  const controller = new AbortController();
  const waiting = client.wait(id, { signal: controller.signal, onProgress: () => controller.abort(new Error('signed out')) });
  await assert.rejects(waiting, /signed out/);
  assert.equal(Socket.all[0].closed, true);
  await assert.rejects(client.wait(id, { signal: controller.signal }), /signed out/); // already aborted: nothing starts
  assert.equal(Socket.all.length, 1);
});

test('aborting the signal stops a polling wait', { timeout: 5000 }, async () => {
  const fetch = fakeFetch([[200, view('PROCESSING', 10)]]);
  const client = new Client('http://api', 'key', { fetch });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stop')), 20);
  await assert.rejects(client.wait(id, { pollMs: 5, signal: controller.signal }), /stop/);
  const calls = fetch.calls.length;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(fetch.calls.length, calls); // nothing more after the abort
});

test('an error of the GET during a live wait ends it and closes the socket', { timeout: 5000 }, async () => {
  const Socket = fakeSocketClass((m) => ({ subscribed: m.job_id }));
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[404, problem(404)]]), WebSocket: Socket, websocketUrl: 'ws://api/ws' });
  await assert.rejects(client.wait(id), NotFoundError);
  assert.equal(Socket.all[0].closed, true);
});

// ---- retries --------------------------------------------------------------------------------------

test('GET rides out a 503 without Retry-After and a failed connection, with jittered backoff', async () => {
  const sleep = recordingSleep();
  const fetch = fakeFetch([[503, problem(503)], new TypeError('fetch failed'), [504, 'Gateway Timeout'], [200, view('PROCESSING', 40)]]);
  const client = new Client('http://api', 'key', { fetch, sleep });
  const job = await client.get(id);
  assert.equal(job.progress, 40);
  assert.equal(fetch.calls.length, 4);
  assert.equal(sleep.waits.length, 3);
  sleep.waits.forEach((ms, attempt) => assert.ok(ms >= 0 && ms <= 500 * 2 ** attempt, `wait ${attempt}: ${ms} ms`));
});

test('retries are bounded by maxRetries; the last error is thrown', async () => {
  const fetch = fakeFetch([[502, 'Bad gateway']]);
  const client = new Client('http://api', 'key', { fetch, sleep: recordingSleep(), maxRetries: 2 });
  await assert.rejects(client.get(id), (err) => err instanceof ServerError && err.status === 502);
  assert.equal(fetch.calls.length, 3);
});

test('a DELETE and a PUT are retried on a 503; a POST that creates a job never is', async () => {
  const deleter = fakeFetch([[503, problem(503)], [204, null]]);
  await new Client('http://api', 'key', { fetch: deleter, sleep: recordingSleep() }).delete(id);
  assert.equal(deleter.calls.length, 2);

  const putter = fakeFetch([[502, 'Bad gateway'], [200, { job_id: id, speakers: [] }]]);
  await new Client('http://api', 'key', { fetch: putter, sleep: recordingSleep() }).renameSpeakers(id, { spk_0: 'A' });
  assert.equal(putter.calls.length, 2);

  for (const answer of [[503, problem(503)], new TypeError('fetch failed')]) {
    const poster = fakeFetch([answer, [201, { job_id: id }]]);
    const client = new Client('http://api', 'key', { fetch: poster, sleep: recordingSleep() });
    await assert.rejects(client.create('a.flac', 10), answer instanceof Error ? APIConnectionError : ServerError);
    assert.equal(poster.calls.length, 1);
  }
});

test('wait rides out transient errors beyond the per-call retries until the job is done', async () => {
  const fetch = fakeFetch([
    [200, view('PROCESSING', 10)], [503, problem(503)], new TypeError('fetch failed'), [502, 'Bad gateway'],
    [429, problem(429), { 'Retry-After': '2' }], [200, view('COMPLETED', 100, { transcript: { text: 'ok' } })],
  ]);
  const sleep = recordingSleep();
  const client = new Client('http://api', 'key', { fetch, sleep, maxRetries: 0 });
  const job = await client.wait(id, { pollMs: 100 });
  assert.equal(job.transcript.text, 'ok');
  assert.equal(fetch.calls.length, 6);
  assert.ok(sleep.waits.includes(2000), sleep.waits); // the 429's Retry-After
});

test('wait gives up on a transient error that lasts past its deadline, and not on a permanent one', async () => {
  const client = new Client('http://api', 'key', { fetch: fakeFetch([[503, problem(503)]]), sleep: recordingSleep(), maxRetries: 0 });
  await assert.rejects(client.wait(id, { timeoutMs: 0 }), ServerError);
  const refused = new Client('http://api', 'key', { fetch: fakeFetch([[401, problem(401)]]), sleep: recordingSleep() });
  await assert.rejects(refused.wait(id), AuthenticationError);
});

test('isTransient, exported for apps, is true for a 429, a 502, 503 or 504 and no connection only', () => {
  const none = new Headers();
  for (const status of [429, 502, 503, 504]) assert.ok(isTransient(errorFor(status, problem(status), none, 'x')), String(status));
  assert.ok(isTransient(new APIConnectionError('no answer')));
  for (const status of [400, 401, 404, 409, 413, 500, 501]) assert.ok(!isTransient(errorFor(status, problem(status), none, 'x')), String(status));
  assert.ok(!isTransient(new Error('other')));
  assert.ok(!isTransient(undefined));
});

// ---- large transcripts ---------------------------------------------------------------------------

test('a transcript too large for the job view is downloaded as JSON by get()', async () => {
  const link = `/v1/transcriptions/${id}/download?format=json`;
  const completed = view('COMPLETED', 100, { links: { self: `/v1/transcriptions/${id}`, transcript: link } });
  const document = {
    job_id: id, language: 'en', duration: 7200, transcript: 'a very long talk',
    segments: [{ id: 0, start: 0, end: 2, text: 'a very long talk', words: [{ word: 'a', start: 0, end: 0.1 }] }],
  };
  const fetch = fakeFetch([[200, completed], [200, JSON.stringify(document)]]);
  const client = new Client('http://api', 'key', { fetch });
  const job = await client.get(id);
  assert.equal(job.transcriptLink, link);
  assert.equal(job.transcript.text, 'a very long talk');
  assert.equal(job.transcript.duration, 7200);
  assert.equal(job.transcript.segments[0].words[0].text, 'a');
  const download = new URL(fetch.calls[1].url);
  assert.equal(download.pathname, `/v1/transcriptions/${id}/download`);
  assert.equal(download.searchParams.get('format'), 'json');

  const light = new Client('http://api', 'key', { fetch: fakeFetch([[200, completed]]) });
  const without = await light.get(id, { fetchTranscript: false });
  assert.equal(without.transcript, null);
  assert.equal(without.transcriptLink, link);
});

test('wait returns a large transcript in full', async () => {
  const link = `/v1/transcriptions/${id}/download?format=json`;
  const fetch = fakeFetch([
    [200, view('PROCESSING', 50)],
    [200, view('COMPLETED', 100, { links: { transcript: link } })],
    [200, JSON.stringify({ transcript: 'long', segments: [] })],
  ]);
  const client = new Client('http://api', 'key', { fetch, sleep: recordingSleep() });
  assert.equal((await client.wait(id)).transcript.text, 'long');
});

// ---- segments ------------------------------------------------------------------------------------

test("segments sends speaker; its 413 says to download the transcript, not to send a smaller file", async () => {
  const fetch = fakeFetch([[200, { job_id: id, count: 0, segments: [] }]]);
  const client = new Client('http://api', 'key', { fetch });
  await client.segments(id, 'budget', { speaker: 'spk_1' });
  await client.segments(id, null, 'spk_0');
  const [first, second] = fetch.calls.map((c) => new URL(c.url));
  assert.equal(first.searchParams.get('q'), 'budget');
  assert.equal(first.searchParams.get('speaker'), 'spk_1');
  assert.equal(second.searchParams.has('q'), false);
  assert.equal(second.searchParams.get('speaker'), 'spk_0');

  const tooLarge = problem(413, { detail: 'The transcript is too large to answer here' });
  const refusing = new Client('http://api', 'key', { fetch: fakeFetch([[413, tooLarge]]) });
  await assert.rejects(refusing.segments(id), (err) => {
    assert.ok(err instanceof ValidationError);
    assert.match(err.message, /download/);
    assert.doesNotMatch(err.message, /smaller file|inline/);
    return true;
  });
  const upload = errorFor(413, problem(413), new Headers(), 'Creating a job');
  assert.match(upload.message, /smaller file/);
});
