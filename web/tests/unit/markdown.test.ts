import { describe, expect, it } from 'vitest';
import { renderMarkdown, withMarkers } from '../../src/lib/markdown';

describe('renderMarkdown', () => {
  it('renders markdown and highlights known languages', () => {
    const html = renderMarkdown('# Title\n\n**bold** and `code`\n\n```rust\nfn main() {}\n```');
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('class="hljs language-rust"');
    expect(html).toContain('hljs-keyword');
  });

  it('removes scripts, handlers, javascript: links and inline styles', () => {
    const html = renderMarkdown(
      '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>' +
        '<p style="color:red" onclick="alert(4)">hi</p>\n\n[ok](https://example.com)',
    );
    expect(html).not.toMatch(/<script|onerror|onclick|javascript:|style=|<img/i);
    expect(html).toContain('href="https://example.com"');
    expect(html).toContain('rel="noopener noreferrer"');
  });

  it('puts citation markers where the citations point, as links', () => {
    const text = 'Leave is 25 days. Carry-over is 5 days.';
    const html = renderMarkdown(text, [
      { position: 17, number: 1 },
      { position: text.length, number: 2 },
    ]);
    expect(html).toMatch(/25 days\.<a href="#cite-1" class="cite" data-cite="1"[^>]*>\[1\]<\/a>/);
    expect(html).toMatch(/5 days\.<a href="#cite-2" class="cite" data-cite="2"[^>]*>\[2\]<\/a>/);
  });

  it("replaces the model's own [n] instead of showing it twice", () => {
    const text = 'Staff get 25 days [1]. More [2]';
    const t = withMarkers(text, [{ position: 21, number: 1 }, { position: text.length, number: 2 }]);
    expect(t).toBe('Staff get 25 days \u2063cite1\u2063. More \u2063cite2\u2063');
  });

  it('clamps markers to the text and keeps them in order', () => {
    expect(withMarkers('ab', [{ position: 99, number: 1 }, { position: -3, number: 2 }])).toBe('\u2063cite2\u2063ab\u2063cite1\u2063');
  });
});
