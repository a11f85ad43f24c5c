// Chat state that does not depend on the page: the message model, applying realtime events to
// a reply in progress, and reading GAIA's stored parts back.

import type { CitationMark } from './markdown';

export interface SourceDoc {
  title?: string;
  uri?: string;
  excerpt?: string;
  page?: number;
  /** Knowledge-base documents say where they are (the passage opens in context). */
  knowledgeBaseId?: string;
  documentId?: string;
  /** The first passage of this document the answer drew on. */
  chunkId?: string;
}

/** A tool the assistant used while answering (LMA's "thinking steps"), or an acting tool it
 * asked the user to confirm (`needsConfirmation`). */
export interface Step {
  step: number;
  callId: string;
  tool: string;
  status: 'ok' | 'error' | 'needsConfirmation';
  summary: string;
}

/** What a citation number points at: a source, and the passage cited when known. */
export interface CiteRef {
  documentIndex: number;
  chunkId?: string;
}

export interface Msg {
  /** Server id once stored (assistant replies get it with `end`). */
  id: string | null;
  role: 'user' | 'assistant';
  text: string;
  marks: CitationMark[];
  /** Citation number → excerpt, from `citationEvent`s. */
  excerpts: Record<number, string>;
  /** Citation number → its source and passage. */
  refs?: Record<number, CiteRef>;
  sources: SourceDoc[];
  streaming: boolean;
  stopped: boolean;
  error: string | null;
  modelId?: string;
  responseTimeMs?: number;
  rating?: 'thumbs_up' | 'thumbs_down';
  /** Branches: this message and its other versions (edits, regenerated answers), oldest first. */
  siblings?: string[];
  /** The tools used for this answer, in order. */
  steps?: Step[];
  /** Stored while it streamed and never finished (the server stopped, or the model failed). */
  interrupted?: boolean;
}

export function userMsg(text: string): Msg {
  return { id: null, role: 'user', text, marks: [], excerpts: {}, sources: [], streaming: false, stopped: false, error: null };
}

export function pendingReply(): Msg {
  return { id: null, role: 'assistant', text: '', marks: [], excerpts: {}, sources: [], streaming: true, stopped: false, error: null };
}

/** An event published to `/out/{user}/{session}`: `{id, content: {type, …}}`, or GAIA's error. */
export function applyEvent(m: Msg, ev: any): Msg {
  if (ev?.action === 'error') {
    return { ...m, streaming: false, error: String(ev?.data?.content ?? 'The reply failed.') };
  }
  const c = ev?.content ?? {};
  switch (c.type) {
    case 'textDelta':
      return { ...m, text: m.text + String(c.text ?? '') };
    case 'citationEvent': {
      const number = Number(c.citationNumber) || Number(c.documentIndex) + 1;
      return {
        ...m,
        marks: [...m.marks, { position: Number(c.position) || 0, number }],
        excerpts: { ...m.excerpts, [number]: String(c.citationText ?? '') },
        refs: { ...m.refs, [number]: citeRef(c.documentIndex, c.chunkId) },
      };
    }
    case 'source':
      return { ...m, sources: Array.isArray(c.documents) ? c.documents : [] };
    case 'step':
    case 'confirmation':
      return { ...m, steps: [...(m.steps ?? []), stepOf(c)] };
    case 'end':
      return {
        ...m,
        id: c.messageId ?? m.id,
        streaming: false,
        stopped: !!c.stopped,
        modelId: c.modelId,
        responseTimeMs: c.responseTimeMs,
      };
    default:
      return m;
  }
}

/** Applies an `/out` event to the reply being streamed in `messages` (in place). Returns the
 * reply when this event ended it, else `null`; and what a screen reader should hear then. */
export function applyToStreaming(messages: Msg[], ev: unknown): { done: Msg; said: string } | null {
  const i = messages.findLastIndex((m) => m.role === 'assistant' && m.streaming);
  if (i < 0) return null;
  messages[i] = applyEvent(messages[i], ev);
  const m = messages[i];
  if (m.streaming) return null;
  return { done: m, said: m.error ? `The answer failed: ${m.error}` : `Answer${m.stopped ? ' (stopped)' : ''}: ${m.text}` };
}

export interface HistoryMessage {
  id: string;
  role: string;
  content: string;
  parts?: any[];
  metadata?: { modelId: string; responseTimeMs: number };
  parentId?: string;
  siblings?: string[];
}

/** A stored message as shown: citation spans become markers, source parts the source list. */
export function fromHistory(h: HistoryMessage): Msg {
  const m: Msg = {
    id: h.id,
    role: h.role === 'user' ? 'user' : 'assistant',
    text: h.content,
    marks: [],
    excerpts: {},
    sources: [],
    streaming: false,
    stopped: false,
    error: null,
    modelId: h.metadata?.modelId,
    responseTimeMs: h.metadata?.responseTimeMs,
    siblings: h.siblings,
  };
  const refs: Record<number, CiteRef> = {};
  for (const p of h.parts ?? []) {
    if (p?.type === 'text' && Array.isArray(p.citationSpans)) {
      m.marks = p.citationSpans.map((s: any) => {
        // Rampart stores the number shown; older answers only the source's index.
        const number = Number(s?.citationNumber) || Number(s?.refIndex) + 1;
        refs[number] = citeRef(s?.refIndex, s?.chunkId);
        return { position: Number(s?.span?.end) || 0, number };
      });
    } else if (p?.type === 'source' && Array.isArray(p.documents)) {
      m.sources = p.documents;
    } else if (p?.type === 'steps' && Array.isArray(p.steps)) {
      m.steps = p.steps.map(stepOf);
    } else if (p?.type === 'interrupted') {
      m.interrupted = true;
    }
  }
  m.refs = refs;
  for (const mk of m.marks) {
    const d = m.sources[refs[mk.number]?.documentIndex ?? mk.number - 1];
    if (d?.excerpt) m.excerpts[mk.number] = d.excerpt;
  }
  return m;
}

function stepOf(c: any): Step {
  const status = c?.status === 'error' || c?.status === 'needsConfirmation' ? c.status : 'ok';
  return { step: Number(c?.step) || 0, callId: String(c?.callId ?? ''), tool: String(c?.tool ?? ''), status, summary: String(c?.summary ?? '') };
}

/** Where a source is, when it is a moment of a meeting (`…/meetings/{id}?t=ms`, past-meeting
 * answers): the app's own path to it. */
export function meetingLocation(s: SourceDoc | undefined): string | null {
  if (!s?.uri) return null;
  try {
    const u = new URL(s.uri, location.origin);
    if (u.origin !== location.origin || !/^\/meetings\/[^/]+$/.test(u.pathname)) return null;
    const t = u.searchParams.get('t');
    return t && /^\d+$/.test(t) ? `${u.pathname}?t=${t}` : u.pathname;
  } catch {
    return null;
  }
}

function citeRef(documentIndex: unknown, chunkId: unknown): CiteRef {
  return { documentIndex: Number(documentIndex) || 0, chunkId: typeof chunkId === 'string' ? chunkId : undefined };
}

/** Where a source is, when it is a knowledge-base document: from its ids, or (answers stored
 * before they were sent) from its `uri`, `…/v1/knowledge-bases/{kb}/documents/{doc}`. */
export function sourceLocation(s: SourceDoc | undefined): { kb: string; doc: string } | null {
  if (!s) return null;
  if (s.knowledgeBaseId && s.documentId) return { kb: s.knowledgeBaseId, doc: s.documentId };
  const m = /\/v1\/knowledge-bases\/([0-9a-f-]{36})\/documents\/([0-9a-f-]{36})$/.exec(s.uri ?? '');
  return m ? { kb: m[1], doc: m[2] } : null;
}

/** A new session id: a UUID v7 (time-ordered, as the server's own ids). */
export function newSessionId(now: number = Date.now()): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  let t = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = t & 0xff;
    t = Math.floor(t / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
