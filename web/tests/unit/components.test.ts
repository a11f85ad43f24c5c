// Component-render tests: each component mounted in jsdom with Svelte's own `mount`, driven
// through the DOM (clicks, input, form submission) and checked on what it renders and calls.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import { get } from 'svelte/store';
import { encode } from 'uqr';
import { cleanup, reactive, render } from './render.svelte';
import { all, button, choose, click, one, settle, submit, texts, type } from './dom';
import { ApiError } from '../../src/lib/api';
import { me, type Enrollment, type Me } from '../../src/lib/auth';
import { pendingReply, userMsg, type Msg } from '../../src/lib/chat';
import Message from '../../src/components/Message.svelte';
import FeedbackChart from '../../src/components/FeedbackChart.svelte';
import RecoveryCodes from '../../src/components/RecoveryCodes.svelte';
import QrCode from '../../src/components/QrCode.svelte';
import TotpSetup from '../../src/components/TotpSetup.svelte';
import EnrolTotp from '../../src/components/EnrolTotp.svelte';
import type { components } from '../../src/api/schema';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.useRealTimers();
  me.set(null);
});

function reply(over: Partial<Msg> = {}): Msg {
  return { ...pendingReply(), streaming: false, id: 'msg-1', text: 'Leave is 25 days.', ...over };
}

const noFeedback = async () => {};

describe('Message', () => {
  it('shows a user message as text, never as HTML', () => {
    const root = render(Message, { msg: userMsg('<b>bold?</b> **not markdown**'), reasons: [], onfeedback: noFeedback });
    const article = one(root, 'article');
    expect(article.getAttribute('aria-label')).toBe('You');
    expect(one(article, '.user-text').textContent).toBe('<b>bold?</b> **not markdown**');
    expect(article.querySelector('b, strong')).toBeNull();
    expect(article.querySelector('button')).toBeNull();
  });

  it('renders the reply as markdown with nothing active left in the DOM', () => {
    const w = window as unknown as { pwned?: number };
    delete w.pwned;
    const text =
      '# Leave\n\nStaff get **25 days** and `carry-over`.\n\n' +
      '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2">' +
      '<a href="javascript:window.pwned = 3">click</a><iframe src="https://evil.example"></iframe>' +
      '<p onclick="window.pwned = 4" style="color:red">styled</p>\n\n[handbook](https://intra.example/hb)';
    const root = render(Message, { msg: reply({ text }), reasons: [], onfeedback: noFeedback });
    const md = one(root, '.md');
    expect(one(root, 'article').getAttribute('aria-label')).toBe('Assistant');
    expect(one(md, 'h1').textContent).toBe('Leave');
    expect(one(md, 'strong').textContent).toBe('25 days');
    expect(one(md, 'code').textContent).toBe('carry-over');
    expect(md.querySelector('script, img, iframe, [onerror], [onclick], [style]')).toBeNull();
    expect(all(md, 'a').map((a) => a.getAttribute('href'))).toEqual([null, 'https://intra.example/hb']);
    const link = one(md, 'a[href^="https:"]');
    expect(link.getAttribute('target')).toBe('_blank');
    expect(link.getAttribute('rel')).toBe('noopener noreferrer');
    expect(w.pwned).toBeUndefined();
  });

  it('turns citation markers into controls that show and hide the cited excerpt', () => {
    const text = 'Leave is 25 days. Carry-over is 5 days.';
    const msg = reply({
      text,
      marks: [
        { position: 17, number: 1 },
        { position: text.length, number: 2 },
      ],
      excerpts: { 1: 'Staff get twenty-five days of leave.' },
      sources: [
        { title: 'Handbook', excerpt: 'Handbook excerpt' },
        { title: 'Carry-over policy', excerpt: 'Up to five days carry over.' },
      ],
    });
    const root = render(Message, { msg, reasons: [], onfeedback: noFeedback });
    const cites = all(root, '.md a.cite');
    expect(cites.map((a) => [a.textContent, a.getAttribute('aria-label')])).toEqual([
      ['[1]', 'Source 1'],
      ['[2]', 'Source 2'],
    ]);
    expect(root.querySelector('[data-testid="citation-excerpt"]')).toBeNull();

    // The click is handled in the page (no navigation to #cite-1).
    const event = new MouseEvent('click', { bubbles: true, cancelable: true });
    expect(cites[0].dispatchEvent(event)).toBe(false);
    flushSync();
    let card = one(root, '[data-testid="source-card"]');
    expect(card.id).toBe('cite-1');
    expect(card.getAttribute('aria-label')).toBe('Source 1: Handbook');
    expect(one(card, 'h3').textContent?.trim()).toBe('[1] Handbook');
    // The citation's own text wins over the document's excerpt.
    expect(one(card, '[data-testid="citation-excerpt"] p').textContent).toBe('Staff get twenty-five days of leave.');

    click(cites[1]);
    card = one(root, '[data-testid="source-card"]');
    expect(one(card, 'h3').textContent?.trim()).toBe('[2] Carry-over policy');
    expect(one(card, '[data-testid="citation-excerpt"] p').textContent).toBe('Up to five days carry over.');

    click(cites[1]);
    expect(root.querySelector('[data-testid="citation-excerpt"]')).toBeNull();
  });

  it('lists the sources, linking only http(s) addresses', () => {
    const msg = reply({
      sources: [
        { title: 'Handbook', uri: 'https://intra.example/hb', excerpt: 'Leave rules' },
        { title: 'Sneaky', uri: 'javascript:alert(1)' },
        { uri: 's3://bucket/policy.pdf' },
      ],
    });
    const root = render(Message, { msg, reasons: [], onfeedback: noFeedback });
    expect(one(root, '.sources summary').textContent).toBe('Sources (3)');
    const items = all(root, '.sources li');
    expect(items).toHaveLength(3);
    const a = one<HTMLAnchorElement>(items[0], 'a');
    expect([a.textContent, a.getAttribute('href'), a.target, a.rel]).toEqual([
      'Handbook',
      'https://intra.example/hb',
      '_blank',
      'noopener noreferrer',
    ]);
    expect(one(items[0], 'p').textContent).toBe('Leave rules');
    expect(items[1].querySelector('a')).toBeNull();
    expect(items[1].textContent?.trim()).toBe('Sneaky');
    expect(items[2].querySelector('a')).toBeNull();
    expect(items[2].textContent?.trim()).toBe('s3://bucket/policy.pdf');
  });

  it('has no sources block when there are none', () => {
    const root = render(Message, { msg: reply(), reasons: [], onfeedback: noFeedback });
    expect(root.querySelector('.sources')).toBeNull();
  });

  it('follows a streaming reply: thinking, text without actions, then actions and the model', () => {
    const props = reactive({ msg: pendingReply(), reasons: ['Wrong'], onfeedback: noFeedback });
    const root = render(Message, props);
    expect(one(root, '.md').textContent).toContain('Thinking…');
    expect(root.querySelector('button')).toBeNull();

    props.msg = { ...props.msg, text: 'Leave is' };
    flushSync();
    expect(one(root, '.md').textContent).not.toContain('Thinking…');
    expect(one(root, '.md p').textContent).toBe('Leave is');
    expect(root.querySelector('button')).toBeNull();

    props.msg = { ...props.msg, text: 'Leave is 25 days.', streaming: false, id: 'm-9', modelId: 'gpt-x', responseTimeMs: 1234 };
    flushSync();
    expect(all(root, '.actions button').map((b) => b.getAttribute('aria-label'))).toEqual(['Copy reply', 'Good answer', 'Bad answer']);
    expect(one(root, '.actions span').textContent).toBe('gpt-x · 1.2 s');
    expect(root.textContent).not.toContain('Stopped.');
  });

  it('says when a reply was stopped, and shows an error without actions', () => {
    const props = reactive({ msg: reply({ stopped: true }), reasons: [], onfeedback: noFeedback });
    const root = render(Message, props);
    expect(texts(root, 'p.muted')).toContain('Stopped.');

    props.msg = { ...props.msg, stopped: false, error: 'The model is unavailable.' };
    flushSync();
    expect(one(root, '[role="alert"]').textContent).toBe('The model is unavailable.');
    expect(root.querySelector('button')).toBeNull();
  });

  it('offers no rating for a reply that is not stored yet', () => {
    const root = render(Message, { msg: reply({ id: null }), reasons: [], onfeedback: noFeedback });
    expect(all(root, 'button').map((b) => b.getAttribute('aria-label'))).toEqual(['Copy reply']);
  });

  it('copies the reply text', async () => {
    vi.useFakeTimers();
    const writeText = vi.fn(async (_: string) => {});
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    const root = render(Message, { msg: reply({ text: 'Leave is **25 days**.' }), reasons: [], onfeedback: noFeedback });
    click(button(root, 'Copy reply'));
    expect(writeText).toHaveBeenCalledWith('Leave is **25 days**.');
    await vi.advanceTimersByTimeAsync(0);
    flushSync();
    expect(button(root, 'Copy reply').textContent).toBe('Copied');
    await vi.advanceTimersByTimeAsync(1500);
    flushSync();
    expect(button(root, 'Copy reply').textContent).toBe('Copy');
  });

  it('sends a thumbs up with no reason', async () => {
    const onfeedback = vi.fn(async () => {});
    const msg = reply();
    const root = render(Message, { msg, reasons: ['Wrong'], onfeedback });
    click(button(root, 'Good answer'));
    await settle(() => expect(onfeedback).toHaveBeenCalledTimes(1));
    expect(onfeedback).toHaveBeenCalledWith(msg, 'thumbs_up', undefined, undefined);
  });

  it('asks for a reason before sending a thumbs down, then closes the form', async () => {
    const onfeedback = vi.fn(async () => {});
    const msg = reply();
    const root = render(Message, { msg, reasons: ['Wrong', 'Not helpful'], onfeedback });
    const bad = button(root, 'Bad answer');
    expect(bad.getAttribute('aria-expanded')).toBe('false');
    expect(root.querySelector('form')).toBeNull();

    click(bad);
    expect(bad.getAttribute('aria-expanded')).toBe('true');
    const form = one<HTMLFormElement>(root, 'form');
    const select = one<HTMLSelectElement>(form, 'select');
    expect(one(form, `label[for="${select.id}"]`).textContent).toBe('What was wrong?');
    expect(all(select, 'option:not([disabled])').map((o) => o.textContent)).toEqual(['Wrong', 'Not helpful']);

    submit(form); // no reason chosen: the browser refuses
    await Promise.resolve();
    expect(onfeedback).not.toHaveBeenCalled();

    choose(select, 'Not helpful');
    type(one<HTMLTextAreaElement>(form, 'textarea'), 'It cited the wrong year.');
    submit(form);
    await settle(() => expect(root.querySelector('form')).toBeNull());
    expect(onfeedback).toHaveBeenCalledExactlyOnceWith(msg, 'thumbs_down', 'Not helpful', 'It cited the wrong year.');
    expect(bad.getAttribute('aria-expanded')).toBe('false');
  });

  it('keeps the form open and shows why when sending feedback fails', async () => {
    const onfeedback = vi.fn(async () => {
      throw new ApiError(403, 'forbidden', 'Feedback is turned off.');
    });
    const root = render(Message, { msg: reply(), reasons: ['Wrong'], onfeedback });
    click(button(root, 'Bad answer'));
    const form = one<HTMLFormElement>(root, 'form');
    choose(one<HTMLSelectElement>(form, 'select'), 'Wrong');
    submit(form);
    await settle(() => expect(one(form, '[role="alert"]').textContent).toBe('Feedback is turned off.'));
    expect(root.querySelector('form')).toBe(form);
  });

  it('marks the rating given and thanks the user', () => {
    const root = render(Message, { msg: reply({ rating: 'thumbs_down' }), reasons: [], onfeedback: noFeedback });
    expect(button(root, 'Good answer').getAttribute('aria-pressed')).toBe('false');
    expect(button(root, 'Bad answer').getAttribute('aria-pressed')).toBe('true');
    expect(one(root, '[role="status"]').textContent).toBe('Thanks for the feedback.');
  });
});

type Feedback = components['schemas']['FeedbackView'];

function fb(createdAt: string, rating: 'thumbs_up' | 'thumbs_down'): Feedback {
  return {
    id: crypto.randomUUID(),
    created_at: createdAt,
    message_id: crypto.randomUUID(),
    session_id: crypto.randomUUID(),
    user_id: crypto.randomUUID(),
    rating,
  };
}

describe('FeedbackChart', () => {
  it('says so when there is no feedback', () => {
    const root = render(FeedbackChart, { items: [] });
    expect(root.querySelector('svg, table')).toBeNull();
    expect(root.textContent?.trim()).toBe('No feedback in this period.');
  });

  it('draws one stacked bar per day, in date order, scaled to the busiest day', () => {
    const items = [
      fb('2025-03-04T08:00:00Z', 'thumbs_up'),
      fb('2025-03-02T09:00:00Z', 'thumbs_up'),
      fb('2025-03-02T23:59:59Z', 'thumbs_down'),
      fb('2025-03-01T12:00:00Z', 'thumbs_down'),
      fb('2025-03-02T10:00:00Z', 'thumbs_up'),
    ];
    const root = render(FeedbackChart, { items });
    const svg = one(root, 'svg');
    expect(svg.getAttribute('role')).toBe('img');
    expect(svg.getAttribute('aria-label')).toBe('Feedback per day');
    expect(svg.getAttribute('viewBox')).toBe('0 0 72 140'); // 3 days of 24 units
    expect(texts(svg, 'text')).toEqual(['01', '02', '04']);
    expect(texts(svg, 'rect title')).toEqual([
      '2025-03-01: 1 down',
      '2025-03-01: 0 up',
      '2025-03-02: 1 down',
      '2025-03-02: 2 up',
      '2025-03-04: 0 down',
      '2025-03-04: 1 up',
    ]);
    const bar = (selector: string) => all(svg, selector).map((r) => [r.getAttribute('x'), r.getAttribute('y'), r.getAttribute('height')].map(Number));
    // [x, y, height]: the busiest day (3) is full height (120); down sits on top of up.
    expect(bar('rect.up')).toEqual([
      [4, 120, 0],
      [28, 40, 80],
      [52, 80, 40],
    ]);
    expect(bar('rect.down')).toEqual([
      [4, 80, 40],
      [28, 0, 40],
      [52, 80, 0],
    ]);
  });

  it('has the same numbers in a table for screen readers', () => {
    const items = [fb('2025-03-02T09:00:00Z', 'thumbs_up'), fb('2025-03-01T12:00:00Z', 'thumbs_down'), fb('2025-03-02T10:00:00Z', 'thumbs_down')];
    const root = render(FeedbackChart, { items });
    const table = one(root, 'table');
    expect(one(table, 'caption').textContent).toBe('Feedback per day');
    expect(texts(table, 'thead th')).toEqual(['Day', 'Up', 'Down']);
    expect(all(table, 'tbody tr').map((tr) => texts(tr, 'td'))).toEqual([
      ['2025-03-01', '0', '1'],
      ['2025-03-02', '1', '1'],
    ]);
  });
});

describe('RecoveryCodes', () => {
  it('lists every code and calls done when the user has saved them', () => {
    const codes = ['a1b2-c3d4', 'e5f6-g7h8', 'i9j0-k1l2', 'm3n4-o5p6'];
    const done = vi.fn();
    const root = render(RecoveryCodes, { codes, done });
    expect(one(root, 'h2').textContent).toBe('Recovery codes');
    expect(texts(root, '[data-testid="recovery-codes"] li code')).toEqual(codes);
    expect(done).not.toHaveBeenCalled();
    click(button(root, 'I have saved them'));
    expect(done).toHaveBeenCalledTimes(1);
  });
});

const URI = 'otpauth://totp/Rampart:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Rampart';

describe('QrCode', () => {
  function modules(svg: Element): Set<string> {
    // Every dark module is a 1×1 rect; the first rect is the white background with the quiet zone.
    return new Set(all(svg, 'rect[width="1"]').map((r) => `${r.getAttribute('x')},${r.getAttribute('y')}`));
  }

  it('draws the QR code of the text as an image with an accessible name and a 4-module quiet zone', () => {
    const root = render(QrCode, { text: URI, label: 'QR code for the authenticator' });
    const svg = one(root, 'svg');
    expect(svg.getAttribute('role')).toBe('img');
    expect(svg.getAttribute('aria-label')).toBe('QR code for the authenticator');
    const qr = encode(URI, { ecc: 'M', border: 0 });
    const size = qr.size;
    expect((size - 17) % 4).toBe(0); // a real QR version: 21, 25, 29, … modules
    expect(svg.getAttribute('viewBox')).toBe(`-4 -4 ${size + 8} ${size + 8}`);
    const bg = one(svg, 'rect');
    expect(['x', 'y', 'width', 'height', 'fill'].map((a) => bg.getAttribute(a))).toEqual(['-4', '-4', String(size + 8), String(size + 8), '#fff']);

    const dark = modules(svg);
    // The three finder patterns: a dark 7×7 ring, a light ring, a dark 3×3 centre.
    for (const [ox, oy] of [
      [0, 0],
      [size - 7, 0],
      [0, size - 7],
    ]) {
      for (let y = 0; y < 7; y++) {
        for (let x = 0; x < 7; x++) {
          const ring = x === 0 || y === 0 || x === 6 || y === 6;
          const centre = x >= 2 && x <= 4 && y >= 2 && y <= 4;
          expect(dark.has(`${ox + x},${oy + y}`), `finder at ${ox},${oy}: ${x},${y}`).toBe(ring || centre);
        }
      }
    }
    // And every module of the encoding, no more.
    const expected = qr.data.flatMap((row, y) => row.flatMap((on, x) => (on ? [`${x},${y}`] : [])));
    expect(dark).toEqual(new Set(expected));
  });

  it('draws a different code for different text', () => {
    const a = modules(one(render(QrCode, { text: URI, label: 'a' }), 'svg'));
    const b = modules(one(render(QrCode, { text: URI.replace('JBSWY3DPEHPK3PXP', 'KRSXG5CTMVRXEZLU'), label: 'b' }), 'svg'));
    expect(a).not.toEqual(b);
  });
});

const enrollment: Enrollment = { otpauthUri: URI, secret: 'JBSWY3DPEHPK3PXP' };

describe('TotpSetup', () => {
  function setup(over: { error?: string; busy?: boolean } = {}) {
    const onsubmit = vi.fn((_: string) => {});
    const root = render(TotpSetup, {
      enrollment,
      title: 'Set up two-step verification',
      lead: 'Your organisation requires it.',
      error: '',
      onsubmit,
      ...over,
    });
    return { root, onsubmit, form: one<HTMLFormElement>(root, 'form'), input: one<HTMLInputElement>(root, 'input') };
  }

  it('shows the QR code and the key for typing by hand, and focuses the code field', () => {
    const { root, input } = setup();
    expect(one(root, 'h2').textContent).toBe('Set up two-step verification');
    expect(root.textContent).toContain('Your organisation requires it. Scan this code');
    expect(one(root, 'svg[role="img"]').getAttribute('aria-label')).toBe('QR code to add Rampart to an authenticator app');
    expect(one(root, '[data-testid="totp-secret"]').textContent).toBe('JBSWY3DPEHPK3PXP');
    expect(one(root, `label[for="${input.id}"]`).textContent).toBe('Code from the app');
    expect([input.required, input.inputMode, input.autocomplete]).toEqual([true, 'numeric', 'one-time-code']);
    expect(document.activeElement).toBe(input);
  });

  it('submits the code without surrounding spaces, and nothing unless it is six digits', () => {
    const { form, input, onsubmit } = setup();
    submit(form);
    for (const bad of ['   ', '12345', '1234567', 'abcdef']) {
      type(input, bad);
      submit(form);
    }
    expect(onsubmit).not.toHaveBeenCalled();
    type(input, ' 123456 ');
    submit(form);
    expect(onsubmit).toHaveBeenCalledExactlyOnceWith('123456');
  });

  it('shows the error it is given and disables the button while busy', () => {
    const { root } = setup({ error: 'That code is not right.', busy: true });
    expect(one(root, '[role="alert"]').textContent).toBe('That code is not right.');
    expect(button(root, 'Turn on').disabled).toBe(true);
    const idle = setup();
    expect(idle.root.querySelector('[role="alert"]')).toBeNull();
    expect(button(idle.root, 'Turn on').disabled).toBe(false);
  });
});

describe('EnrolTotp', () => {
  const alice: Me = {
    authMethod: 'session',
    displayName: 'Alice',
    email: 'alice@example.com',
    groups: [],
    mfaEnabled: false,
    scopes: [],
    sub: '00000000-0000-0000-0000-000000000001',
  };

  interface Call {
    method: string;
    url: string;
    body: unknown;
  }

  function server(answer: (c: Call) => Response): Call[] {
    const calls: Call[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      const c = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined };
      calls.push(c);
      return answer(c);
    });
    return calls;
  }

  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  beforeEach(() => me.set(alice));

  it('enrols, verifies the code, shows the recovery codes and marks MFA on', async () => {
    let wrong = true;
    const calls = server((c) => {
      if (c.url === '/v1/me/mfa/totp') return json(200, enrollment);
      if (wrong) return (wrong = false), json(400, { code: 'invalid_code', message: 'That code is not right.' });
      return json(200, { recoveryCodes: ['code-1', 'code-2', 'code-3'] });
    });
    const done = vi.fn();
    const root = render(EnrolTotp, { done });
    await settle(() => expect(one(root, '[data-testid="totp-secret"]').textContent).toBe('JBSWY3DPEHPK3PXP'));
    expect(one(root, 'h2').textContent).toBe('Turn on two-step verification');
    expect(calls).toEqual([{ method: 'POST', url: '/v1/me/mfa/totp', body: {} }]);

    const form = one<HTMLFormElement>(root, 'form');
    type(one<HTMLInputElement>(form, 'input'), '000000');
    submit(form);
    await settle(() => expect(one(root, '[role="alert"]').textContent).toBe('That code is not right.'));
    expect(get(me)?.mfaEnabled).toBe(false);
    expect(root.querySelector('[data-testid="recovery-codes"]')).toBeNull();

    type(one<HTMLInputElement>(form, 'input'), '123456');
    submit(form);
    await settle(() => expect(texts(root, '[data-testid="recovery-codes"] code')).toEqual(['code-1', 'code-2', 'code-3']));
    expect(calls.slice(1)).toEqual([
      { method: 'POST', url: '/v1/me/mfa/totp/verify', body: { code: '000000' } },
      { method: 'POST', url: '/v1/me/mfa/totp/verify', body: { code: '123456' } },
    ]);
    expect(root.querySelector('form, [role="alert"]')).toBeNull();
    expect(get(me)).toEqual({ ...alice, mfaEnabled: true });

    expect(done).not.toHaveBeenCalled();
    click(button(root, 'I have saved them'));
    expect(done).toHaveBeenCalledTimes(1);
  });

  it('shows why when enrolment cannot start', async () => {
    const calls = server(() => json(409, { code: 'conflict', message: 'Two-step verification is already on.' }));
    const root = render(EnrolTotp, { done: vi.fn() });
    await settle(() => expect(one(root, '[role="alert"]').textContent).toBe('Two-step verification is already on.'));
    expect(root.querySelector('form')).toBeNull();
    expect(calls).toHaveLength(1);
  });
});
