import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { get as read } from 'svelte/store';
import { login, me, restore, session, status } from '../../src/lib/auth';

const ME = { sub: 'u1', email: 'a@example.com', displayName: 'A', groups: ['admin'], mfaEnabled: false, authMethod: 'session', scopes: ['chat', 'admin'] };

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

let calls: { url: string; headers: Headers; body: string }[] = [];

beforeEach(() => {
  calls = [];
  session.clear();
  document.cookie = 'rampart_signed_in=; max-age=0';
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function serve(routes: Record<string, () => Response | Promise<Response>>) {
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    calls.push({ url, headers: new Headers(init.headers), body: String(init.body ?? '') });
    const r = routes[url];
    return r ? r() : json(404, { code: 'not_found', message: 'Not found.' });
  });
}

describe('auth', () => {
  it('does not ask for a refresh when no sign-in is there to restore', async () => {
    serve({});
    await restore();
    expect(calls).toEqual([]);
    expect(read(status)).toBe('signed-out');
  });

  it('restores a sign-in with one refresh in cookie mode and keeps the token in memory only', async () => {
    document.cookie = 'rampart_signed_in=1';
    serve({
      '/v1/auth/refresh': () => json(200, { accessToken: 'at-1', refreshToken: '', expiresIn: 3600 }),
      '/v1/me': () => json(200, ME),
    });
    await restore();
    expect(calls[0].url).toBe('/v1/auth/refresh');
    expect(calls[0].headers.get('x-rampart-session')).toBe('cookie');
    expect(calls[0].headers.get('authorization')).toBeNull();
    expect(calls[1].headers.get('authorization')).toBe('Bearer at-1');
    expect(read(me)?.email).toBe('a@example.com');
    expect(read(status)).toBe('signed-in');
    expect(JSON.stringify(localStorage) + JSON.stringify(sessionStorage)).not.toContain('at-1');
  });

  it('shares one refresh between concurrent callers', async () => {
    let n = 0;
    serve({
      '/v1/auth/refresh': async () => (n++, await new Promise((ok) => setTimeout(ok, 10)), json(200, { accessToken: `at-${n}`, expiresIn: 3600 })),
      '/v1/me': () => json(200, ME),
    });
    const r = await Promise.all([session.refresh(), session.refresh(), session.refresh()]);
    expect(r).toEqual([true, true, true]);
    expect(n).toBe(1);
  });

  it('signs out when the refresh is refused', async () => {
    serve({ '/v1/auth/refresh': () => json(401, { code: 'unauthorized', message: 'Sign in.' }) });
    expect(await session.refresh()).toBe(false);
    expect(session.token()).toBeNull();
    expect(read(status)).toBe('signed-out');
  });

  it('answers a challenge instead of signing in when MFA applies, and renews before expiry', async () => {
    vi.useFakeTimers();
    serve({
      '/v1/auth/login': () => json(200, { challenge: 'TOTP', session: 's-1' }),
    });
    const r = await login('a@example.com', 'pw');
    expect(r).toEqual({ kind: 'challenge', challenge: { challenge: 'TOTP', session: 's-1' } });
    expect(calls[0].headers.get('x-rampart-session')).toBe('cookie');
    expect(session.token()).toBeNull();

    serve({
      '/v1/auth/login': () => json(200, { accessToken: 'at-a', expiresIn: 100 }),
      '/v1/me': () => json(200, ME),
      '/v1/auth/refresh': () => json(200, { accessToken: 'at-b', expiresIn: 100 }),
    });
    await login('a@example.com', 'pw');
    expect(session.token()).toBe('at-a');
    // Renewed at 80% of the lifetime.
    await vi.advanceTimersByTimeAsync(79_000);
    expect(session.token()).toBe('at-a');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(session.token()).toBe('at-b');
  });
});
