// The web app: plain ES modules on the JavaScript SDK. Names and transcript text are only ever set
// as textContent, never as HTML. The API key lives in sessionStorage (this tab only).
import { Client, DOWNLOAD_FORMATS, TranscriberError } from '/sdk-js/src/index.js';
import { highlightNodes } from '/marks.js';

const KEY_SLOT = 'transcriber.apiKey';
const URL_SLOT = 'transcriber.apiUrl';
const POLL_MS = 1000;
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {Client|null} */
let client = null;
/** @type {string|null} */
let nextCursor = null;
/** Jobs on screen, by id. @type {Map<string, import('/sdk-js/src/index.js').Transcription>} */
const jobs = new Map();
/** Jobs being watched, so that a refresh does not start a second poller. */
const watching = new Set();

/** An element with text (never HTML) and attributes. */
function el(/** @type {string} */ tag, /** @type {Record<string, string>} */ attrs = {}, /** @type {string} */ text = '') {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

/** The API's own message when it sent one, else the SDK's explanation. */
function showError(/** @type {unknown} */ err) {
  const box = $('error');
  if (!err) { box.hidden = true; box.textContent = ''; return; }
  const text = err instanceof TranscriberError ? err.detail || err.message : String(/** @type {any} */ (err)?.message ?? err);
  box.textContent = text;
  box.hidden = false;
}

function fmtDuration(/** @type {number|null} */ seconds) {
  if (seconds === null || seconds === undefined) return '';
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function fmtTime(/** @type {number} */ seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return h ? `${h}:${mmss}` : mmss;
}

function fmtCreated(/** @type {string|null} */ iso) {
  if (!iso) return '';
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? iso : when.toLocaleString();
}

// ---- sign in ---------------------------------------------------------------------------------

async function signIn(/** @type {string} */ apiUrl, /** @type {string} */ apiKey) {
  const candidate = new Client(apiUrl, apiKey);
  await candidate.list({ limit: 1 }); // a wrong key is refused here, with the API's message
  await candidate.capabilities(); // the live-status WebSocket, when the server has one (else polling)
  client = candidate;
  sessionStorage.setItem(KEY_SLOT, apiKey);
  sessionStorage.setItem(URL_SLOT, apiUrl);
  $('sign-in').hidden = true;
  $('workspace').hidden = false;
  $('sign-out').hidden = false;
  showError(null);
  await refreshJobs();
}

function signOut() {
  sessionStorage.removeItem(KEY_SLOT);
  client = null;
  jobs.clear();
  /** @type {HTMLTableSectionElement} */ ($('jobs').querySelector('tbody')).replaceChildren();
  $('uploads').replaceChildren();
  $('search-hits').replaceChildren();
  $('search-status').textContent = '';
  closeViewer();
  $('workspace').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  /** @type {HTMLInputElement} */ ($('api-key')).value = '';
}

// ---- jobs ------------------------------------------------------------------------------------

async function refreshJobs(append = false) {
  if (!client) return;
  const page = await client.list({ limit: 25, cursor: append ? nextCursor : null });
  const body = /** @type {HTMLTableSectionElement} */ ($('jobs').querySelector('tbody'));
  if (!append) { body.replaceChildren(); jobs.clear(); }
  for (const job of page.items) {
    jobs.set(job.jobId, job);
    body.append(jobRow(job));
    if (!job.done && job.status !== 'AWAITING_UPLOAD') watch(job.jobId);
  }
  nextCursor = page.nextCursor;
  $('more').hidden = !nextCursor;
}

function jobRow(/** @type {import('/sdk-js/src/index.js').Transcription} */ job) {
  const row = el('tr', { 'data-job': job.jobId });
  fillRow(row, job);
  return row;
}

function fillRow(/** @type {HTMLElement} */ row, /** @type {import('/sdk-js/src/index.js').Transcription} */ job) {
  const name = job.filename || job.jobId;
  const status = job.done ? job.status : `${job.status} ${Math.round(job.progress)}%`;
  const statusCell = el('td', { class: `status status-${job.status}` }, status);
  if (job.status === 'FAILED' && (job.reasonCode || job.errorMessage)) {
    statusCell.append(el('div', { class: 'hint' }, [job.reasonCode, job.errorMessage].filter(Boolean).join(': ')));
  }
  const actions = el('td', { class: 'actions' });
  if (job.status === 'COMPLETED') actions.append(el('button', { type: 'button', 'data-action': 'open', 'aria-label': `Open the transcript of ${name}` }, 'Open'));
  actions.append(el('button', { type: 'button', 'data-action': 'retry', 'aria-label': `Retry ${name}` }, 'Retry'));
  actions.append(el('button', { type: 'button', 'data-action': 'delete', 'aria-label': `Delete ${name}` }, 'Delete'));
  statusCell.dataset.label = 'Status';
  row.replaceChildren(
    el('td', { class: 'name' }, name), statusCell, el('td', { 'data-label': 'Duration' }, fmtDuration(job.duration)),
    el('td', { 'data-label': 'Language' }, job.language ?? ''), el('td', { 'data-label': 'Created' }, fmtCreated(job.createdAt)), actions,
  );
}

function updateJob(/** @type {import('/sdk-js/src/index.js').Transcription} */ job) {
  jobs.set(job.jobId, job);
  const body = /** @type {HTMLTableSectionElement} */ ($('jobs').querySelector('tbody'));
  const row = body.querySelector(`tr[data-job="${CSS.escape(job.jobId)}"]`);
  if (row) fillRow(/** @type {HTMLElement} */ (row), job);
  else body.prepend(jobRow(job));
}

/** Follow a job to its end (the SDK's wait: live pushes when the server has them, else polling). */
async function watch(/** @type {string} */ jobId, /** @type {(job: any) => void} */ onJob = () => {}) {
  if (!client || watching.has(jobId)) return;
  watching.add(jobId);
  try {
    const job = await client.wait(jobId, { pollMs: POLL_MS, raiseOnFailure: false, onProgress: (j) => { updateJob(j); onJob(j); } });
    updateJob(job);
    onJob(job);
  } catch (err) {
    showError(err);
  } finally {
    watching.delete(jobId);
  }
}

async function onJobAction(/** @type {Event} */ event) {
  const button = /** @type {HTMLElement} */ (event.target).closest('button[data-action]');
  const row = button?.closest('tr[data-job]');
  if (!button || !row || !client) return;
  const jobId = /** @type {string} */ (row.getAttribute('data-job'));
  const action = button.getAttribute('data-action');
  showError(null);
  try {
    if (action === 'open') await openTranscript(jobId);
    if (action === 'retry') { updateJob(await client.retry(jobId)); watch(jobId); }
    if (action === 'delete') {
      const name = jobs.get(jobId)?.filename || jobId;
      if (!window.confirm(`Delete ${name}? Its audio and transcript are removed for good.`)) return;
      await client.delete(jobId);
      row.remove();
      jobs.delete(jobId);
      if ($('viewer').dataset.job === jobId) closeViewer();
    }
  } catch (err) {
    showError(err);
  }
}

// ---- uploads ---------------------------------------------------------------------------------

function uploadFiles(/** @type {Iterable<File>} */ files) {
  for (const file of files) uploadOne(file);
}

async function uploadOne(/** @type {File} */ file) {
  if (!client) return;
  const item = el('li', { class: 'upload' });
  const name = el('span', { class: 'name' }, file.name);
  const state = el('span', { class: 'state' }, 'Uploading 0%');
  const bar = /** @type {HTMLProgressElement} */ (el('progress', { max: '100', value: '0', 'aria-label': `Progress of ${file.name}` }));
  item.append(name, state, bar);
  $('uploads').prepend(item);
  const language = /** @type {HTMLInputElement} */ ($('language')).value.trim();
  try {
    const submission = await client.submit(file, {
      options: language ? { language } : {},
      onUploadProgress: ({ loaded, total }) => {
        const pct = total ? Math.round((100 * loaded) / total) : 0;
        bar.value = pct;
        state.textContent = `Uploading ${pct}%`;
      },
    });
    item.dataset.job = submission.jobId;
    state.textContent = 'Uploaded; queued';
    bar.value = 0;
    await watch(submission.jobId, (job) => {
      bar.value = job.progress;
      state.textContent = job.done ? job.status : `${job.status} ${Math.round(job.progress)}%`;
      item.dataset.status = job.status;
    });
  } catch (err) {
    state.textContent = 'Failed';
    item.dataset.status = 'ERROR';
    showError(err);
  }
}

// ---- transcript and player -------------------------------------------------------------------

/** Word start times in order, with their elements, for the highlight. */
let timeline = /** @type {{start: number, end: number, node: HTMLElement}[]} */ ([]);
let current = /** @type {HTMLElement|null} */ (null);

/** Open a job's transcript; with `at` (seconds, from a search hit), the player and the view start there. */
async function openTranscript(/** @type {string} */ jobId, /** @type {number|null} */ at = null) {
  if (!client) return;
  const job = await client.get(jobId);
  const viewer = $('viewer');
  viewer.dataset.job = jobId;
  $('viewer-title').textContent = `Transcript: ${job.filename || jobId}`;
  const segments = job.transcript?.segments ?? [];
  renderTranscript(segments, speakerNames(job.speakers));
  renderSpeakerForm(job.speakers);
  viewer.hidden = false;
  const player = /** @type {HTMLAudioElement} */ ($('player'));
  player.hidden = true;
  $('no-audio').hidden = true;
  const audio = await client.audioUrl(jobId).catch(() => null);
  if (audio) { player.src = audio; player.hidden = false; }
  else { player.removeAttribute('src'); $('no-audio').hidden = false; }
  viewer.scrollIntoView({ block: 'start' });
  $('viewer-title').focus?.();
  if (at !== null) startAt(at, audio !== null);
}

/** Put the player (once it knows the recording) and the view at `seconds`; mark the segment there. */
function startAt(/** @type {number} */ seconds, /** @type {boolean} */ playable) {
  const player = /** @type {HTMLAudioElement} */ ($('player'));
  if (playable) {
    if (player.readyState >= 1) player.currentTime = seconds;
    else player.addEventListener('loadedmetadata', () => { player.currentTime = seconds; }, { once: true });
  }
  highlight(seconds);
  const times = [...$('transcript').querySelectorAll('.time')];
  const at = times.filter((t) => Number(t.getAttribute('data-start')) <= seconds + 0.01).pop() ?? times[0];
  const segment = at?.closest('.segment');
  if (!segment || !at) return;
  segment.classList.add('sought');
  segment.scrollIntoView({ block: 'center' });
  /** @type {HTMLElement} */ (at).focus({ preventScroll: true });
}

/** Display names by speaker label (the label itself until renamed). */
function speakerNames(/** @type {readonly import('/sdk-js/src/index.js').Speaker[]} */ speakers) {
  return new Map(speakers.map((s) => [s.label, s.name || s.label]));
}

function renderTranscript(
  /** @type {readonly import('/sdk-js/src/index.js').Segment[]} */ segments,
  /** @type {Map<string, string>} */ names = new Map(),
) {
  const box = $('transcript');
  const nodes = [];
  timeline = [];
  current = null;
  let speaker = null;
  for (const segment of segments) {
    const p = el('p', { class: 'segment' });
    if (segment.speaker && segment.speaker !== speaker) { // a new turn: who speaks (text, never HTML)
      p.append(el('span', { class: 'speaker', 'data-speaker': segment.speaker }, `${names.get(segment.speaker) ?? segment.speaker}:`));
    }
    speaker = segment.speaker ?? speaker;
    p.append(el('button', { type: 'button', class: 'time', 'data-start': String(segment.start), 'aria-label': `Play from ${fmtTime(segment.start)}` }, fmtTime(segment.start)));
    if (segment.words.length) {
      for (const word of segment.words) {
        const start = word.start ?? segment.start;
        const span = el('span', { class: 'word', 'data-start': String(start) }, word.text.trim());
        timeline.push({ start, end: word.end ?? start, node: span });
        p.append(span, ' '); // word texts may or may not carry their own spaces
      }
    } else {
      p.append(el('span', { class: 'word', 'data-start': String(segment.start) }, segment.text));
    }
    nodes.push(p);
  }
  box.replaceChildren(...nodes);
}

function seekTo(/** @type {Event} */ event) {
  const target = /** @type {HTMLElement} */ (event.target).closest('[data-start]');
  if (!target) return;
  const player = /** @type {HTMLAudioElement} */ ($('player'));
  const start = Number(target.getAttribute('data-start'));
  if (!Number.isFinite(start) || player.hidden) return;
  player.currentTime = start;
  highlight(start);
  player.play().catch(() => {}); // autoplay rules may refuse: the position is set anyway
}

function highlight(/** @type {number} */ time) {
  let lo = 0;
  let hi = timeline.length - 1;
  let found = -1;
  while (lo <= hi) { // the last word starting at or before `time`
    const mid = (lo + hi) >> 1;
    if (timeline[mid].start <= time + 0.01) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  const node = found >= 0 ? timeline[found].node : null;
  if (node === current) return;
  current?.classList.remove('current');
  current?.removeAttribute('aria-current');
  current = node;
  node?.classList.add('current');
  node?.setAttribute('aria-current', 'true');
}

function followPlayback() {
  const player = /** @type {HTMLAudioElement} */ ($('player'));
  const tick = () => {
    highlight(player.currentTime);
    if (!player.paused) requestAnimationFrame(tick);
  };
  player.addEventListener('play', () => requestAnimationFrame(tick));
  player.addEventListener('seeked', () => highlight(player.currentTime));
}

// ---- speakers --------------------------------------------------------------------------------

/** One text box per speaker label, filled with its current name; hidden without speaker labels. */
function renderSpeakerForm(/** @type {readonly import('/sdk-js/src/index.js').Speaker[]} */ speakers) {
  const fields = speakers.map((s, i) => {
    const id = `speaker-name-${i}`;
    const row = el('div', { class: 'speaker-field' });
    const label = el('label', { for: id }, `${s.label} (${fmtDuration(s.seconds)} of speech)`);
    const input = /** @type {HTMLInputElement} */ (el('input', { id, type: 'text', maxlength: '64', 'data-label': s.label, spellcheck: 'false' }));
    input.value = s.name ?? '';
    input.placeholder = s.label;
    row.append(label, input);
    return row;
  });
  $('speaker-fields').replaceChildren(...fields);
  $('speakers-status').textContent = '';
  $('speakers-form').hidden = speakers.length === 0;
}

async function saveSpeakerNames(/** @type {Event} */ event) {
  event.preventDefault();
  const jobId = $('viewer').dataset.job;
  if (!jobId || !client) return;
  /** @type {Record<string, string>} */
  const names = {};
  for (const input of /** @type {NodeListOf<HTMLInputElement>} */ ($('speaker-fields').querySelectorAll('input[data-label]'))) {
    const name = input.value.trim();
    if (name) names[/** @type {string} */ (input.dataset.label)] = name;
  }
  const status = $('speakers-status');
  if (!Object.keys(names).length) { status.textContent = 'Type a name for at least one speaker.'; return; }
  showError(null);
  status.textContent = 'Saving...';
  try {
    const speakers = await client.renameSpeakers(jobId, names);
    const shown = speakerNames(speakers);
    for (const turn of /** @type {NodeListOf<HTMLElement>} */ ($('transcript').querySelectorAll('.speaker[data-speaker]'))) {
      turn.textContent = `${shown.get(/** @type {string} */ (turn.dataset.speaker)) ?? turn.dataset.speaker}:`;
    }
    renderSpeakerForm(speakers);
    status.textContent = 'Names saved; the downloads use them too.';
  } catch (err) {
    status.textContent = '';
    showError(err); // the API's own message, as text
  }
}

// ---- search ----------------------------------------------------------------------------------

async function runSearch(/** @type {Event} */ event) {
  event.preventDefault();
  if (!client) return;
  const q = /** @type {HTMLInputElement} */ ($('search-q')).value.trim();
  const status = $('search-status');
  const list = $('search-hits');
  if (!q) return;
  showError(null);
  status.textContent = 'Searching...';
  try {
    const { hits } = await client.search(q, { limit: 25 });
    list.replaceChildren(...hits.map((hit) => {
      const name = hit.filename || hit.jobId;
      const button = el('button', { type: 'button', class: 'hit', 'data-job': hit.jobId, 'data-start': String(hit.start) });
      button.append(el('span', { class: 'where' }, `${name} at ${fmtTime(hit.start)}`), ...highlightNodes(hit.highlight));
      const item = el('li');
      item.append(button);
      return item;
    }));
    status.textContent = hits.length ? `${hits.length} ${hits.length === 1 ? 'match' : 'matches'}; choose one to open it there.` : `Nothing found for ${q}.`;
  } catch (err) {
    status.textContent = '';
    list.replaceChildren();
    showError(err);
  }
}

async function openHit(/** @type {Event} */ event) {
  const button = /** @type {HTMLElement} */ (event.target).closest('button.hit');
  if (!button) return;
  showError(null);
  try {
    await openTranscript(/** @type {string} */ (button.getAttribute('data-job')), Number(button.getAttribute('data-start')) || 0);
  } catch (err) {
    showError(err);
  }
}

function closeViewer() {
  const player = /** @type {HTMLAudioElement} */ ($('player'));
  player.pause();
  player.removeAttribute('src');
  $('viewer').hidden = true;
  delete $('viewer').dataset.job;
}

async function download(/** @type {Event} */ event) {
  const button = /** @type {HTMLElement} */ (event.target).closest('button[data-format]');
  const jobId = $('viewer').dataset.job;
  if (!button || !jobId || !client) return;
  const format = /** @type {string} */ (button.getAttribute('data-format'));
  if (!DOWNLOAD_FORMATS.includes(/** @type {any} */ (format))) return;
  try {
    const text = await client.download(jobId, /** @type {any} */ (format));
    const type = { json: 'application/json', srt: 'application/x-subrip', vtt: 'text/vtt', txt: 'text/plain' }[format];
    const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
    const stem = (jobs.get(jobId)?.filename || jobId).replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_');
    const link = el('a', { href: url, download: `${stem}.${format}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    showError(err);
  }
}

// ---- wiring ----------------------------------------------------------------------------------

function wire() {
  const urlInput = /** @type {HTMLInputElement} */ ($('api-url'));
  urlInput.value = sessionStorage.getItem(URL_SLOT) || location.origin;
  $('sign-in-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = /** @type {HTMLInputElement} */ ($('api-key')).value.trim();
    try { await signIn(urlInput.value.trim() || location.origin, key); } catch (err) { showError(err); }
  });
  $('sign-out').addEventListener('click', signOut);
  $('refresh').addEventListener('click', () => refreshJobs().catch(showError));
  $('more').addEventListener('click', () => refreshJobs(true).catch(showError));
  $('jobs').addEventListener('click', onJobAction);
  $('transcript').addEventListener('click', seekTo);
  $('close-viewer').addEventListener('click', closeViewer);
  $('speakers-form').addEventListener('submit', saveSpeakerNames);
  $('search-form').addEventListener('submit', runSearch);
  $('search-hits').addEventListener('click', openHit);
  document.querySelector('.downloads')?.addEventListener('click', download);
  const input = /** @type {HTMLInputElement} */ ($('files'));
  input.addEventListener('change', () => { uploadFiles(input.files ?? []); input.value = ''; });
  const zone = $('drop-zone');
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    uploadFiles(e.dataTransfer?.files ?? []);
  });
  followPlayback();
  const saved = sessionStorage.getItem(KEY_SLOT);
  if (saved) signIn(urlInput.value, saved).catch((err) => { sessionStorage.removeItem(KEY_SLOT); showError(err); });
}

wire();
