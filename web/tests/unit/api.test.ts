import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api, describe as say, useTokens } from '../../src/lib/api';

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
});
