// The meeting summary's helpers: when the page polls, and the Markdown "Copy" gives.
import { describe, expect, it } from 'vitest';
import { inProgress, shouldPoll, summaryMarkdown, JUST_ENDED_MS, type SummaryView } from '../../src/lib/summary';

const view = (status: SummaryView['status'], extractive = false): SummaryView => ({
  status,
  extractive,
  sections: [
    { key: 'SUMMARY', title: 'Summary', markdown: 'We ship on Friday.\n' },
    { key: 'ACTIONS', title: 'Action items', markdown: '- [ ] ship — owner: Ana — due: Friday' },
  ],
});

describe('summary', () => {
  it('polls while it is written, and through the moment after a meeting ends', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    expect(inProgress(view('pending')) && inProgress(view('running'))).toBe(true);
    expect(shouldPoll(view('ready'), null, now)).toBe(false);
    expect(shouldPoll(view('running'), null, now)).toBe(true);
    const justEnded = new Date(now - 1000).toISOString();
    const longAgo = new Date(now - JUST_ENDED_MS - 1).toISOString();
    expect(shouldPoll(view('none'), justEnded, now)).toBe(true);
    expect(shouldPoll(view('none'), longAgo, now)).toBe(false);
    expect(shouldPoll(null, justEnded, now)).toBe(false);
  });

  it('copies as one Markdown document, saying when it is extractive', () => {
    expect(summaryMarkdown('Weekly', view('ready'))).toBe(
      '# Weekly\n\n## Summary\n\nWe ship on Friday.\n\n## Action items\n\n- [ ] ship — owner: Ana — due: Friday\n',
    );
    expect(summaryMarkdown('Weekly', view('ready', true))).toContain('_Extractive summary: sentences picked from the transcript._');
  });
});
