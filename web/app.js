// The web app: plain ES modules on the JavaScript SDK. Names and transcript text are only ever set
// as textContent, never as HTML. The API key lives in sessionStorage (this tab only).
import {
  Client, DOWNLOAD_FORMATS, NotFoundError, RateLimitedError, TranscriberError, isTransient,
} from '/sdk-js/src/index.js';
import { highlightNodes } from '/marks.js';

const KEY_SLOT = 'transcriber.apiKey';
const URL_SLOT = 'transcriber.apiUrl';
/**
 * Following running jobs costs at most one GET per TICK_MS whatever their number (the default
 * tenant limit is 120 requests a minute). Each job is asked again after 1 s, up to 10 s while it
 * does not change; with live status (one WebSocket for every job of the tenant) only every 30 s,
 * in case a push was lost.
 */
const TICK_MS = 1000;
const POLL_MIN_MS = 1000;
const POLL_MAX_MS = 10_000;
const LIVE_CHECK_MS = 30_000;
/**
 * After the live connection fails, it is tried again after a pause that doubles with each failure in
 * a row, up to LIVE_RETRY_MAX_MS: from LIVE_REFUSED_MS when the subscription was refused or the
 * server unreachable, from LIVE_DROPPED_MS when an open connection dropped.
 */
const LIVE_REFUSED_MS = 15_000;
const LIVE_DROPPED_MS = 5_000;
const LIVE_RETRY_MAX_MS = 300_000;
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @typedef {import('/sdk-js/src/index.js').Transcription} Transcription */

/** The signed-in session, or null. @type {Session|null} */
let session = null;
/** @type {string|null} */
let nextCursor = null;
/** Jobs on screen, by id. @type {Map<string, Transcription>} */
const jobs = new Map();

/**
 * What one sign-in owns: its client, an AbortController that sign-out aborts (stopping its
 * requests, uploads and live connection), the jobs this tab deleted, and the follower of its
 * running jobs. Work that finishes after sign-out checks `active` and leaves the page alone.
 */
class Session {
  constructor(/** @type {Client} */ api) {
    this.client = api;
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    /** Jobs deleted from this tab: a late view of them is dropped, not shown again. */
    this.deleted = new Set();
    this.follower = new Follower(this);
  }

  get active() {
    return session === this && !this.signal.aborted;
  }

  end() {
    this.controller.abort(new DOMException('Signed out', 'AbortError'));
    this.follower.stop();
  }
}

/**
 * Follows a session's running jobs until each is COMPLETED or FAILED: over one live subscription
 * to every job of the tenant when the server has live status, and with one shared poll loop (one
 * GET per TICK_MS at most, each job backing off from 1 s to 10 s) otherwise or while it is down.
 */
class Follower {
  constructor(/** @type {Session} */ owner) {
    this.session = owner;
    /** @type {Map<string, {waiters: {resolve: (job: Transcription|null) => void, reject: (err: unknown) => void, onJob: (job: Transcription) => void}[], due: number, interval: number, seen: string, updatedAt: string}>} */
    this.followed = new Map();
    this.timer = 0;
    this.liveTimer = 0;
    this.busy = false;
    this.nextRequestAt = 0;
    this.pausedUntil = 0;
    /** 'off', 'connecting' or 'on' */
    this.live = 'off';
    /** @type {import('/sdk-js/src/index.js').Subscription|null} */
    this.subscription = null;
    this.liveFailures = 0;
    this.retryLiveAt = 0;
  }

  /** The job's final view once it is done, null if forgotten (deleted here); onJob on each change. */
  follow(/** @type {string} */ jobId, /** @type {(job: Transcription) => void} */ onJob = () => {}) {
    return new Promise((resolve, reject) => {
      if (!this.session.active) { reject(this.session.signal.reason); return; }
      let entry = this.followed.get(jobId);
      if (!entry) {
        entry = { waiters: [], due: Date.now(), interval: POLL_MIN_MS, seen: '', updatedAt: '' };
        this.followed.set(jobId, entry);
      }
      entry.waiters.push({ resolve, reject, onJob });
      this.connectLive();
      this.schedule();
    });
  }

  /** Stop following a job (deleted here): its waiters get null. */
  forget(/** @type {string} */ jobId) {
    const entry = this.followed.get(jobId);
    if (!entry) return;
    this.followed.delete(jobId);
    for (const w of entry.waiters) w.resolve(null);
  }

  stop() {
    clearTimeout(this.timer);
    clearTimeout(this.liveTimer);
    this.subscription?.close();
    this.subscription = null;
    const reason = this.session.signal.reason;
    for (const entry of this.followed.values()) for (const w of entry.waiters) w.reject(reason);
    this.followed.clear();
  }

  /** A job view, from a GET or a push: shown, and passed to the job's waiters. True when it changed. */
  deliver(/** @type {Transcription} */ job) {
    const s = this.session;
    if (!s.active || s.deleted.has(job.jobId)) return false;
    const entry = this.followed.get(job.jobId);
    if (!entry) { // a push for a job not followed: only a job on screen is updated (a retry from elsewhere)
      if (jobs.has(job.jobId)) updateJob(s, job);
      return false;
    }
    if (job.updatedAt && entry.updatedAt && job.updatedAt < entry.updatedAt) return false; // older than what is shown
    entry.updatedAt = job.updatedAt ?? entry.updatedAt;
    const seen = `${job.status} ${job.progress}`;
    const changed = seen !== entry.seen;
    entry.seen = seen;
    updateJob(s, job);
    for (const w of entry.waiters) w.onJob(job);
    if (job.done) {
      this.followed.delete(job.jobId);
      for (const w of entry.waiters) w.resolve(job);
    }
    return changed;
  }

  /** The next GET: when a job is due, and no sooner than TICK_MS after the last one or a 429's Retry-After. */
  schedule() {
    clearTimeout(this.timer);
    if (!this.session.active || this.busy) return;
    let next = Infinity;
    for (const entry of this.followed.values()) next = Math.min(next, entry.due);
    if (next === Infinity) return;
    const at = Math.max(next, this.nextRequestAt, this.pausedUntil);
    this.timer = window.setTimeout(() => this.tick(), Math.max(0, at - Date.now()));
  }

  async tick() {
    const s = this.session;
    if (!s.active) return;
    const now = Date.now();
    /** @type {[string, any]|null} */
    let chosen = null;
    for (const item of this.followed) if (item[1].due <= now && (!chosen || item[1].due < chosen[1].due)) chosen = item;
    if (!chosen) { this.schedule(); return; }
    const [jobId, entry] = chosen;
    this.busy = true;
    this.nextRequestAt = now + TICK_MS;
    try {
      const job = await s.client.get(jobId, { fetchTranscript: false, signal: s.signal });
      const changed = this.deliver(job);
      if (this.live === 'on') entry.interval = LIVE_CHECK_MS;
      else entry.interval = changed ? Math.max(POLL_MIN_MS, entry.interval / 2) : Math.min(POLL_MAX_MS, entry.interval * 2);
      entry.due = Date.now() + entry.interval;
    } catch (err) {
      if (!s.active || this.followed.get(jobId) !== entry) return; // signed out, or forgotten meanwhile
      if (err instanceof RateLimitedError) this.pausedUntil = Date.now() + Math.max(1, err.retryAfter) * 1000;
      if (isTransient(err)) { // 429, 502, 503, 504, no connection: ask again later, say nothing
        entry.interval = Math.min(POLL_MAX_MS, entry.interval * 2);
        entry.due = Date.now() + entry.interval;
      } else if (err instanceof NotFoundError && s.deleted.has(jobId)) {
        this.forget(jobId);
      } else {
        this.followed.delete(jobId);
        for (const w of entry.waiters) w.reject(err);
      }
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  /** One subscription to every job of the tenant, while there are jobs to follow and the server has live status. */
  connectLive() {
    const s = this.session;
    if (this.live !== 'off' || !s.active || !s.client.canSubscribe || !this.followed.size) return;
    const later = this.retryLiveAt - Date.now();
    if (later > 0) {
      if (!this.liveTimer) this.liveTimer = window.setTimeout(() => { this.liveTimer = 0; this.connectLive(); }, later);
      return;
    }
    this.live = 'connecting';
    s.client.subscribe(null, (job) => this.deliver(job), { signal: s.signal, onClose: () => this.liveLost() }).then(
      (subscription) => {
        if (!s.active) { subscription.close(); return; }
        this.subscription = subscription;
        this.live = 'on';
        this.liveFailures = 0;
        for (const entry of this.followed.values()) { // once now (a change before the subscription is not pushed), then rarely
          entry.interval = LIVE_CHECK_MS;
          entry.due = Date.now();
        }
        this.schedule();
      },
      (err) => { // refused or unreachable: polling goes on; try again later (not before a 429's Retry-After)
        if (!s.active) return;
        this.retryLiveLater(LIVE_REFUSED_MS, err instanceof RateLimitedError ? err.retryAfter * 1000 : 0);
      },
    );
  }

  /**
   * The live connection failed (refused, unreachable or dropped): live status is off, and
   * connectLive tries again after a backoff from `firstMs`, doubling with each failure in a row up
   * to LIVE_RETRY_MAX_MS, and not before `atLeastMs`. A confirmed subscription resets the count.
   */
  retryLiveLater(/** @type {number} */ firstMs, atLeastMs = 0) {
    this.live = 'off';
    this.liveFailures += 1;
    const backoff = Math.min(LIVE_RETRY_MAX_MS, firstMs * 2 ** (this.liveFailures - 1));
    this.retryLiveAt = Date.now() + Math.max(backoff, atLeastMs);
    this.connectLive();
  }

  /** The live connection closed: poll from now on, and subscribe again after a pause. */
  liveLost() {
    this.subscription = null;
    if (!this.session.active) return;
    for (const entry of this.followed.values()) {
      entry.interval = POLL_MIN_MS;
      entry.due = Math.min(entry.due, Date.now());
    }
    this.schedule();
    this.retryLiveLater(LIVE_DROPPED_MS);
  }
}

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
  session?.end();
  session = new Session(candidate);
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
  session?.end(); // stops its follower, live connection, uploads and requests
  session = null;
  nextCursor = null;
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
  const s = session;
  if (!s) return;
  let page;
  try {
    page = await s.client.list({ limit: 25, cursor: append ? nextCursor : null, signal: s.signal });
  } catch (err) {
    if (!s.active) return; // signed out meanwhile: nothing to say
    throw err;
  }
  if (!s.active) return;
  const body = /** @type {HTMLTableSectionElement} */ ($('jobs').querySelector('tbody'));
  if (!append) { body.replaceChildren(); jobs.clear(); }
  for (const job of page.items) {
    if (s.deleted.has(job.jobId)) continue;
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

/** Show a job's view: only the signed-in session's, and never a job this tab deleted. */
function updateJob(/** @type {Session} */ s, /** @type {Transcription} */ job) {
  if (!s.active || s.deleted.has(job.jobId)) return;
  jobs.set(job.jobId, job);
  const body = /** @type {HTMLTableSectionElement} */ ($('jobs').querySelector('tbody'));
  const row = body.querySelector(`tr[data-job="${CSS.escape(job.jobId)}"]`);
  if (row) fillRow(/** @type {HTMLElement} */ (row), job);
  else body.prepend(jobRow(job));
}

/**
 * Follow a job to its end (the session's follower: live pushes when the server has them, else a
 * shared poll loop). The final view, or null when it was deleted here or the session ended.
 */
async function watch(/** @type {string} */ jobId, /** @type {(job: Transcription) => void} */ onJob = () => {}) {
  const s = session;
  if (!s) return null;
  try {
    return await s.follower.follow(jobId, onJob);
  } catch (err) {
    if (s.active) showError(err);
    return null;
  }
}

async function onJobAction(/** @type {Event} */ event) {
  const button = /** @type {HTMLElement} */ (event.target).closest('button[data-action]');
  const row = button?.closest('tr[data-job]');
  if (!button || !row || !session) return;
  const jobId = /** @type {string} */ (row.getAttribute('data-job'));
  const action = button.getAttribute('data-action');
  const s = /** @type {Session} */ (session);
  showError(null);
  try {
    if (action === 'open') await openTranscript(jobId);
    if (action === 'retry') {
      const job = await s.client.retry(jobId);
      updateJob(s, job);
      if (s.active && !job.done) watch(jobId);
    }
    if (action === 'delete') {
      const name = jobs.get(jobId)?.filename || jobId;
      if (!window.confirm(`Delete ${name}? Its audio and transcript are removed for good.`)) return;
      // From here a late view of the job (a GET in flight, a push) is dropped, and its 404 is expected.
      s.deleted.add(jobId);
      s.follower.forget(jobId);
      try {
        await s.client.delete(jobId);
      } catch (err) {
        s.deleted.delete(jobId);
        const known = jobs.get(jobId);
        if (s.active && known && !known.done && known.status !== 'AWAITING_UPLOAD') watch(jobId);
        throw err;
      }
      if (!s.active) return;
      row.remove();
      jobs.delete(jobId);
      if ($('viewer').dataset.job === jobId) closeViewer();
    }
  } catch (err) {
    if (s.active) showError(err);
  }
}

// ---- uploads ---------------------------------------------------------------------------------

function uploadFiles(/** @type {Iterable<File>} */ files) {
  for (const file of files) uploadOne(file);
}

async function uploadOne(/** @type {File} */ file) {
  const s = session;
  if (!s) return;
  const item = el('li', { class: 'upload' });
  const name = el('span', { class: 'name' }, file.name);
  const state = el('span', { class: 'state' }, 'Uploading 0%');
  const bar = /** @type {HTMLProgressElement} */ (el('progress', { max: '100', value: '0', 'aria-label': `Progress of ${file.name}` }));
  item.append(name, state, bar);
  $('uploads').prepend(item);
  const language = /** @type {HTMLInputElement} */ ($('language')).value.trim();
  try {
    const submission = await s.client.submit(file, {
      options: language ? { language } : {},
      signal: s.signal, // sign-out stops the upload
      onUploadProgress: ({ loaded, total }) => {
        const pct = total ? Math.round((100 * loaded) / total) : 0;
        bar.value = pct;
        state.textContent = `Uploading ${pct}%`;
      },
    });
    if (!s.active) return;
    item.dataset.job = submission.jobId;
    state.textContent = 'Uploaded; queued';
    bar.value = 0;
    const final = await watch(submission.jobId, (job) => {
      bar.value = job.progress;
      state.textContent = job.done ? job.status : `${job.status} ${Math.round(job.progress)}%`;
      item.dataset.status = job.status;
    });
    if (final === null && s.active && s.deleted.has(submission.jobId)) {
      state.textContent = 'Deleted';
      item.dataset.status = 'DELETED';
    }
  } catch (err) {
    if (!s.active) return;
    state.textContent = 'Failed';
    item.dataset.status = 'ERROR';
    showError(err);
  }
}

// ---- transcript and player -------------------------------------------------------------------

/** Word start times in order, with their elements, for the highlight. */
let timeline = /** @type {{start: number, end: number, node: HTMLElement}[]} */ ([]);
let current = /** @type {HTMLElement|null} */ (null);
/** Counts openTranscript calls: a slow one that another has replaced leaves the viewer alone. */
let openings = 0;

/** Open a job's transcript; with `at` (seconds, from a search hit), the player and the view start there. */
async function openTranscript(/** @type {string} */ jobId, /** @type {number|null} */ at = null) {
  const s = session;
  if (!s) return;
  // A transcript too large for the job view (transcriptLink) is loaded below, with a notice meanwhile.
  const job = await s.client.get(jobId, { fetchTranscript: false, signal: s.signal });
  if (!s.active) return;
  const viewer = $('viewer');
  viewer.dataset.job = jobId;
  const opened = ++openings;
  const still = () => s.active && viewer.dataset.job === jobId && openings === opened; // not closed or replaced meanwhile
  $('viewer-title').textContent = `Transcript: ${job.filename || jobId}`;
  let transcript = job.transcript;
  if (!transcript && job.transcriptLink) {
    transcriptNotice('This transcript is long: loading it...');
    renderSpeakerForm([]);
    viewer.hidden = false;
    try {
      transcript = await s.client.transcript(jobId, { signal: s.signal });
    } catch (err) {
      if (!still()) return;
      transcriptNotice('This transcript is too large to show here. Download it instead:', true);
      showError(err);
      return;
    }
    if (!still()) return;
  }
  const segments = transcript?.segments ?? [];
  renderTranscript(segments, speakerNames(job.speakers));
  renderSpeakerForm(job.speakers);
  viewer.hidden = false;
  const player = /** @type {HTMLAudioElement} */ ($('player'));
  player.hidden = true;
  $('no-audio').hidden = true;
  const audio = await s.client.audioUrl(jobId).catch(() => null);
  if (!still()) return;
  if (audio) { player.src = audio; player.hidden = false; }
  else { player.removeAttribute('src'); $('no-audio').hidden = false; }
  viewer.scrollIntoView({ block: 'start' });
  $('viewer-title').focus?.();
  if (at !== null) startAt(at, audio !== null);
}

/** A line in place of the transcript (text only); with `offer`, a button that downloads the JSON. */
function transcriptNotice(/** @type {string} */ text, offer = false) {
  timeline = [];
  current = null;
  const note = el('p', { class: 'hint notice' }, text);
  if (offer) {
    const button = el('button', { type: 'button', 'data-format': 'json', 'aria-label': 'Download the transcript as JSON' }, 'Download JSON');
    button.addEventListener('click', download);
    note.append(' ', button);
  }
  $('transcript').replaceChildren(note);
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
  const s = session;
  if (!jobId || !s) return;
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
    const speakers = await s.client.renameSpeakers(jobId, names);
    if (!s.active) return;
    const shown = speakerNames(speakers);
    for (const turn of /** @type {NodeListOf<HTMLElement>} */ ($('transcript').querySelectorAll('.speaker[data-speaker]'))) {
      turn.textContent = `${shown.get(/** @type {string} */ (turn.dataset.speaker)) ?? turn.dataset.speaker}:`;
    }
    renderSpeakerForm(speakers);
    status.textContent = 'Names saved; the downloads use them too.';
  } catch (err) {
    if (!s.active) return;
    status.textContent = '';
    showError(err); // the API's own message, as text
  }
}

// ---- search ----------------------------------------------------------------------------------

async function runSearch(/** @type {Event} */ event) {
  event.preventDefault();
  const s = session;
  if (!s) return;
  const q = /** @type {HTMLInputElement} */ ($('search-q')).value.trim();
  const status = $('search-status');
  const list = $('search-hits');
  if (!q) return;
  showError(null);
  status.textContent = 'Searching...';
  try {
    const { hits } = await s.client.search(q, { limit: 25, signal: s.signal });
    if (!s.active) return;
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
    if (!s.active) return;
    status.textContent = '';
    list.replaceChildren();
    showError(err);
  }
}

async function openHit(/** @type {Event} */ event) {
  const button = /** @type {HTMLElement} */ (event.target).closest('button.hit');
  if (!button) return;
  showError(null);
  const s = session;
  try {
    await openTranscript(/** @type {string} */ (button.getAttribute('data-job')), Number(button.getAttribute('data-start')) || 0);
  } catch (err) {
    if (s?.active) showError(err);
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
  const s = session;
  if (!button || !jobId || !s) return;
  const format = /** @type {string} */ (button.getAttribute('data-format'));
  if (!DOWNLOAD_FORMATS.includes(/** @type {any} */ (format))) return;
  try {
    const text = await s.client.download(jobId, /** @type {any} */ (format), { signal: s.signal });
    if (!s.active) return;
    const type = { json: 'application/json', srt: 'application/x-subrip', vtt: 'text/vtt', txt: 'text/plain' }[format];
    const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
    const stem = (jobs.get(jobId)?.filename || jobId).replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_');
    const link = el('a', { href: url, download: `${stem}.${format}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    if (s.active) showError(err);
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
