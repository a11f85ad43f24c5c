import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api, describe as say, download, useTokens } from '../../src/lib/api';

afterEach(() => {
  vi.unstubAllGlobals();
  useTokens(null);
});

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

describe('api', () => {
  it('sends the access token and parses errors with their stable code', async () => {
    const calls: Request[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push(new Request(`http://h${url}`, init));
      return respond(429, { code: 'rate_limited', message: 'Too many requests.' }, { 'retry-after': '7' });
    });
    useTokens({ token: () => 'at-1', refresh: async () => false });
    const e = await api('GET', '/v1/me').catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 429, code: 'rate_limited', retryAfter: 7 });
    expect(say(e)).toBe('Too many requests. Try again in 7 s.');
    expect(calls[0].headers.get('authorization')).toBe('Bearer at-1');
  });

  it('refreshes once on 401 and retries with the new token', async () => {
    let token = 'old';
    const seen: (string | null)[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      const auth = new Headers(init.headers).get('authorization');
      seen.push(auth);
      return auth === 'Bearer new' ? respond(200, { ok: true }) : respond(401, { code: 'unauthorized', message: 'Sign in.' });
    });
    useTokens({ token: () => token, refresh: async () => ((token = 'new'), true) });
    await expect(api('GET', '/v1/me')).resolves.toEqual({ ok: true });
    expect(seen).toEqual(['Bearer old', 'Bearer new']);
  });

  it('does not loop when the refresh fails', async () => {
    let n = 0;
    vi.stubGlobal('fetch', async () => (n++, respond(401, { code: 'unauthorized', message: 'Sign in.' })));
    useTokens({ token: () => 't', refresh: async () => false });
    await expect(api('GET', '/v1/me')).rejects.toMatchObject({ status: 401 });
    expect(n).toBe(1);
  });

  it('downloads a file with the token (one refresh on 401), and reads its name', async () => {
    let token = 'old';
    const seen: (string | null)[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      const h = new Headers(init.headers);
      seen.push(h.get('authorization'));
      if (h.get('authorization') !== 'Bearer new') return respond(401, { code: 'unauthorized', message: 'Sign in.' });
      expect(h.get('accept')).toBe('*/*');
      return new Response('WEBVTT\n', { headers: { 'content-type': 'text/vtt', 'content-disposition': 'attachment; filename="transcript.vtt"' } });
    });
    useTokens({ token: () => token, refresh: async () => ((token = 'new'), true) });
    const f = await download('/v1/meetings/x/transcript?format=vtt');
    expect(f.filename).toBe('transcript.vtt');
    expect(await f.blob.text()).toBe('WEBVTT\n');
    expect(seen).toEqual(['Bearer old', 'Bearer new']);
    vi.stubGlobal('fetch', async () => respond(404, { code: 'not_found', message: 'Not found.' }));
    await expect(download('/v1/meetings/y/transcript')).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });
});
