// Shared by the offline tests. Not a test file: package.json runs test/*.test.js only (Node 20's
// `node --test test/` would run every .js file under test/, this one too).

/**
 * A fetch answering from a queue and recording the requests (`fn.calls`, each {url, init}). An
 * entry is [status, body, headers] (a string body is sent as text/plain, an object as JSON, as
 * problem JSON from 400 on) or an Error to throw (no connection). The last entry repeats.
 * @param {Array<[number, unknown, Record<string, string>?] | Error>} answers
 */
export function fakeFetch(answers) {
  const calls = [];
  const fn = async (url, init = {}) => {
    calls.push({ url: String(url), init });
    const answer = answers.length > 1 ? answers.shift() : answers[0];
    if (answer instanceof Error) throw answer;
    const [status, body, headers = {}] = answer;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/plain' : status >= 400 ? 'application/problem+json' : 'application/json';
    return new Response(status === 204 ? null : text, { status, headers: { 'Content-Type': type, ...headers } });
  };
  fn.calls = calls;
  return fn;
}
