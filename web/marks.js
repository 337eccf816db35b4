// Search highlights as DOM nodes. The API sends the segment's text HTML-escaped with the matched
// words in <mark>...</mark>; parsing that as HTML would trust server text, so only the <mark> tags
// are recognised and everything else becomes text nodes (entities decoded by hand).

const ENTITIES = /** @type {Record<string, string>} */ ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" });

/** The text of HTML-escaped text: the five named entities and numeric ones; others stay as written. */
export function unescapeHtml(/** @type {string} */ text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] !== '#') return ENTITIES[name.toLowerCase()] ?? whole;
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** Text nodes and <mark> elements for a highlight string; never innerHTML. */
export function highlightNodes(/** @type {string} */ highlight, doc = document) {
  const parts = String(highlight).split(/<mark>([\s\S]*?)<\/mark>/); // odd indexes are the marked words
  /** @type {Node[]} */
  const nodes = [];
  parts.forEach((part, i) => {
    const text = unescapeHtml(part.replace(/<\/?mark>/g, '')); // a stray tag is dropped, not rendered
    if (i % 2 === 0) { if (text) nodes.push(doc.createTextNode(text)); return; }
    const mark = doc.createElement('mark');
    mark.textContent = text;
    nodes.push(mark);
  });
  return nodes;
}
