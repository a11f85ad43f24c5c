// Assistant replies as sanitized Markdown: marked renders, highlight.js colours code blocks
// (a fixed set of languages, to keep the bundle small), DOMPurify removes anything active, and
// citation markers become links that open the cited excerpt.

import { Marked } from 'marked';
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import yaml from 'highlight.js/lib/languages/yaml';

for (const [name, lang] of Object.entries({ bash, javascript, json, python, rust, sql, typescript, yaml })) {
  hljs.registerLanguage(name, lang);
}
hljs.registerAliases(['sh', 'shell'], { languageName: 'bash' });
hljs.registerAliases(['js'], { languageName: 'javascript' });
hljs.registerAliases(['ts'], { languageName: 'typescript' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const l = (lang ?? '').trim().split(/\s/)[0];
      const html = l && hljs.getLanguage(l) ? hljs.highlight(text, { language: l }).value : escapeHtml(text);
      return `<pre><code class="hljs${l ? ` language-${escapeHtml(l)}` : ''}">${html}</code></pre>`;
    },
  },
});

let hooked = false;
function purifier() {
  if (!hooked) {
    // Links open elsewhere and tell nothing about this page.
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.getAttribute('href') && !node.classList.contains('cite')) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

export interface CitationMark {
  /** Character offset in the reply text where the marker goes. */
  position: number;
  /** 1-based number shown. */
  number: number;
}

const MARK = (n: number) => `\u2063cite${n}\u2063`;
const MARK_RE = /\u2063cite(\d+)\u2063/g;

/** Puts citation markers at their positions (clamped to the text). A `[n]` the model wrote
 * right before the position becomes the marker instead of being shown twice. */
export function withMarkers(text: string, marks: CitationMark[]): string {
  const sorted = [...marks].sort((a, b) => b.position - a.position);
  let t = text;
  for (const m of sorted) {
    const p = Math.max(0, Math.min(t.length, m.position));
    const label = `[${m.number}]`;
    const start = t.slice(Math.max(0, p - label.length), p) === label ? p - label.length : p;
    t = t.slice(0, start) + MARK(m.number) + t.slice(p);
  }
  return t;
}

/** Sanitized HTML for a reply. */
export function renderMarkdown(text: string, marks: CitationMark[] = []): string {
  const purify = purifier();
  // Fail closed: where DOMPurify cannot work (no real DOM), show the text, never raw HTML.
  if (!purify.isSupported) return `<p>${escapeHtml(text)}</p>`;
  const html = marked.parse(withMarkers(text, marks), { async: false }) as string;
  const linked = html.replace(
    MARK_RE,
    (_, n) => `<a href="#cite-${n}" class="cite" data-cite="${n}" aria-label="Source ${n}">[${n}]</a>`,
  );
  return purify.sanitize(linked, {
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'iframe', 'img'],
    FORBID_ATTR: ['style'],
    ADD_ATTR: ['data-cite', 'target'],
  });
}
