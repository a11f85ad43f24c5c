import { describe, expect, it } from 'vitest';
import { applyEvent, fromHistory, newSessionId, pendingReply, sourceLocation } from '../../src/lib/chat';
import { hashQuery } from '../../src/lib/kbpicker.svelte';

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

describe('citations of knowledge-base passages', () => {
  const kb = '0190f0aa-0000-7000-8000-000000000001';
  const doc = '0190f0aa-0000-7000-8000-000000000002';
  const chunk = '0190f0aa-0000-7000-8000-000000000003';

  it('keep the passage and the source of each number, live and stored', () => {
    let m = pendingReply();
    m = applyEvent(m, ev({ type: 'citationEvent', position: 3, citationNumber: 2, citationText: 'x', documentIndex: 1, chunkId: chunk }));
    expect(m.refs?.[2]).toEqual({ documentIndex: 1, chunkId: chunk });
    const h = fromHistory({
      id: 'm',
      role: 'assistant',
      content: 'a [2]',
      parts: [
        { type: 'text', citationSpans: [{ span: { start: 0, end: 5 }, refIndex: 1, citationNumber: 2, chunkId: chunk }] },
        { type: 'source', documents: [{ title: 'A', excerpt: 'first' }, { title: 'B', excerpt: 'second' }] },
      ],
    });
    expect(h.marks).toEqual([{ position: 5, number: 2 }]);
    expect(h.refs?.[2]).toEqual({ documentIndex: 1, chunkId: chunk });
    expect(h.excerpts[2]).toBe('second');
  });

  it('locate their document from its ids, or from the uri of older answers', () => {
    expect(sourceLocation({ knowledgeBaseId: kb, documentId: doc })).toEqual({ kb, doc });
    expect(sourceLocation({ uri: `http://h/v1/knowledge-bases/${kb}/documents/${doc}` })).toEqual({ kb, doc });
    expect(sourceLocation({ uri: 'https://intra.example/hb' })).toBeNull();
    expect(sourceLocation(undefined)).toBeNull();
  });
});

describe('hashQuery', () => {
  it('finds the #word being typed at the caret, at the start of a word only', () => {
    expect(hashQuery('#', 1)).toEqual({ start: 0, query: '' });
    expect(hashQuery('ask #hand', 9)).toEqual({ start: 4, query: 'hand' });
    expect(hashQuery('ask #hand more', 9)).toEqual({ start: 4, query: 'hand' });
    expect(hashQuery('issue#12', 8)).toBeNull();
    expect(hashQuery('#done then', 10)).toBeNull();
  });
});
