import { describe, expect, it } from 'vitest';
import { applyEvent, fromHistory, newSessionId, pendingReply } from '../../src/lib/chat';

const ev = (content: object) => ({ id: 'e', content });

describe('applyEvent', () => {
  it('builds a streamed reply with citations, sources and the stored id', () => {
    let m = pendingReply();
    m = applyEvent(m, ev({ type: 'textDelta', sequenceNumber: 0, text: 'Leave is ' }));
    m = applyEvent(m, ev({ type: 'textDelta', sequenceNumber: 1, text: '25 days.' }));
    m = applyEvent(m, ev({ type: 'citationEvent', position: 17, citationNumber: 1, citationText: 'Staff get 25 days', documentIndex: 0 }));
    m = applyEvent(m, ev({ type: 'source', documents: [{ title: 'Handbook', uri: 'https://x/doc', excerpt: 'Staff get 25 days' }] }));
    expect(m.streaming).toBe(true);
    m = applyEvent(m, ev({ type: 'end', messageId: 'm1', modelId: 'local', responseTimeMs: 120, stopped: false }));
    expect(m).toMatchObject({
      id: 'm1',
      text: 'Leave is 25 days.',
      marks: [{ position: 17, number: 1 }],
      excerpts: { 1: 'Staff get 25 days' },
      streaming: false,
      modelId: 'local',
    });
    expect(m.sources[0].title).toBe('Handbook');
  });

  it('ends on GAIA error events and on a stop', () => {
    const e = applyEvent(pendingReply(), { action: 'error', data: { content: 'No assistant is available to you.' } });
    expect(e).toMatchObject({ streaming: false, error: 'No assistant is available to you.' });
    const s = applyEvent(pendingReply(), ev({ type: 'end', stopped: true }));
    expect(s).toMatchObject({ streaming: false, stopped: true });
  });

  it('ignores unknown events', () => {
    const m = pendingReply();
    expect(applyEvent(m, ev({ type: 'somethingNew' }))).toEqual(m);
  });
});

describe('fromHistory', () => {
  it('turns stored parts back into markers, sources and excerpts', () => {
    const m = fromHistory({
      id: 'm2',
      role: 'assistant',
      content: 'S3 is object storage.',
      parts: [
        { type: 'text', text: 'S3 is object storage.', citationSpans: [{ span: { start: 0, end: 5 }, refIndex: 0 }] },
        { type: 'source', documents: [{ title: 'S3 FAQ', uri: 's3://docs/faq', excerpt: 'Amazon S3 is...' }] },
      ],
      metadata: { modelId: 'local-llm', responseTimeMs: 1523 },
    });
    expect(m.marks).toEqual([{ position: 5, number: 1 }]);
    expect(m.excerpts[1]).toBe('Amazon S3 is...');
    expect(m.modelId).toBe('local-llm');
  });
});

describe('newSessionId', () => {
  it('is a UUID v7 ordered by time', () => {
    const a = newSessionId(1_700_000_000_000);
    const b = newSessionId(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
  });
});
