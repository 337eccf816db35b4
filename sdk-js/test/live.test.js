// Against a running stack: TRANSCRIBER_API_URL and TRANSCRIBER_API_KEY (make serve prints both).
// Skipped without them; tests/integration/test_webapp.py runs them against the test stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AuthenticationError, Client, ConflictError, NotFoundError, ValidationError } from '../src/index.js';

const SAMPLE = fileURLToPath(new URL('../../samples/sample.flac', import.meta.url));
const { TRANSCRIBER_API_URL: url, TRANSCRIBER_API_KEY: key } = process.env;
const live = { skip: url && key ? false : 'set TRANSCRIBER_API_URL and TRANSCRIBER_API_KEY to run against a stack' };

test('a file path goes through create, upload (with progress), wait, segments, download, list and delete', live, async () => {
  const client = Client.fromEnv();
  const uploads = [];
  const progress = [];
  const submission = await client.submit(SAMPLE, { options: { dedupe: true }, onUploadProgress: (p) => uploads.push(p) });
  assert.match(submission.jobId, /^[0-9a-f]{32}$/);
  const size = (await readFile(SAMPLE)).length;
  assert.deepEqual(uploads.at(-1), { loaded: size, total: size });

  const job = await client.wait(submission.jobId, { pollMs: 300, timeoutMs: 240_000, onProgress: (j) => progress.push(j.progress) });
  assert.equal(job.status, 'COMPLETED');
  assert.equal(job.filename, 'sample.flac');
  assert.equal(progress.at(-1), 100);
  assert.ok(job.transcript.text.length > 20, job.transcript.text);
  assert.ok(job.transcript.segments.length > 0);
  const words = job.transcript.segments.flatMap((s) => s.words);
  assert.ok(words.length > 5 && words.every((w) => typeof w.start === 'number'));

  const srt = await client.download(job.jobId, 'srt');
  assert.match(srt, /^1\r?\n\d\d:\d\d:\d\d,\d\d\d --> /);
  assert.match(await client.download(job.jobId, 'vtt'), /^WEBVTT/);
  const first = words[0].text.trim().replace(/[^\p{L}\p{N}']/gu, '');
  const found = await client.segments(job.jobId, first);
  assert.ok(found.length >= 1 && found.every((s) => s.text.toLowerCase().includes(first.toLowerCase())));

  const listed = [];
  for await (const item of client.iterAll({ pageSize: 1 })) {
    listed.push(item.jobId);
    if (listed.length >= 3) break;
  }
  assert.ok(listed.includes(job.jobId));

  await assert.rejects(client.retry(job.jobId), ConflictError);
  await client.delete(job.jobId);
  await assert.rejects(client.get(job.jobId), NotFoundError);
});

test('a Blob upload and inline content both create jobs', live, async () => {
  const client = Client.fromEnv();
  const bytes = await readFile(SAMPLE);
  const viaBlob = await client.submit(new Blob([bytes]), { filename: 'blob.flac', options: { dedupe: true } });
  const inline = await client.create('inline.flac', bytes.length, { content: bytes, contentType: 'audio/flac' });
  assert.equal(inline.uploadUrl, null);
  for (const id of [viaBlob.jobId, inline.jobId]) {
    const got = await client.get(id);
    assert.notEqual(got.status, 'AWAITING_UPLOAD');
    await client.delete(id);
  }
});

test('errors come back typed, with the API message', live, async () => {
  const client = Client.fromEnv();
  await assert.rejects(client.get('0'.repeat(32)), NotFoundError);
  await assert.rejects(client.create('notes.txt', 10), (err) => err instanceof ValidationError && err.status >= 400 && Boolean(err.detail));
  const stranger = new Client(url, 'trk_nobody_wrong');
  await assert.rejects(stranger.list(), AuthenticationError);
});
