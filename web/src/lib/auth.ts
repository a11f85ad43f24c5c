// Sign-in state. The access token lives in memory only; the refresh token is an HttpOnly,
// SameSite=Strict cookie scoped to /v1/auth that scripts cannot read (the server sets it when a
// request carries `X-Rampart-Session: cookie`, and then leaves the token out of the body).
// A reload restores the sign-in with one refresh; the access token is renewed before it expires.

import { writable } from 'svelte/store';
import { ApiError, get, post, useTokens, type TokenSource } from './api';

const COOKIE_MODE = { 'x-rampart-session': 'cookie' };

import type { components } from '../api/schema';

type Schemas = components['schemas'];
export type Me = Schemas['MeResponse'];

export interface TokenAnswer {
  accessToken: string;
  expiresIn: number;
  recoveryCodes?: string[];
}

export interface Challenge {
  challenge: 'TOTP' | 'MFA_SETUP' | 'NEW_PASSWORD_REQUIRED' | string;
  session: string;
}

export type LoginAnswer = { kind: 'signed-in' } | { kind: 'challenge'; challenge: Challenge };

export const me = writable<Me | null>(null);
/** `unknown` until the first refresh has answered. */
export const status = writable<'unknown' | 'signed-in' | 'signed-out'>('unknown');

export function isAdmin(m: Me | null): boolean {
  return !!m && m.groups.includes('admin') && (m.scopes as string[]).includes('admin');
}

class Session implements TokenSource {
  private access: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inflight: Promise<boolean> | null = null;
  /** Clock for tests. */
  now: () => number = () => Date.now();

  token(): string | null {
    return this.access;
  }

  async accept(t: TokenAnswer): Promise<void> {
    this.access = t.accessToken;
    this.schedule(t.expiresIn);
    me.set(await get<Me>('/v1/me'));
    status.set('signed-in');
  }

  private schedule(expiresIn: number) {
    if (this.timer) clearTimeout(this.timer);
    // Renew at 80% of the lifetime (at least 10 s from now).
    const ms = Math.max(10, Math.floor(expiresIn * 0.8)) * 1000;
    this.timer = setTimeout(() => void this.refresh(), ms);
  }

  /** One refresh at a time; concurrent callers share it. */
  refresh(): Promise<boolean> {
    if (!this.inflight) {
      this.inflight = (async () => {
        try {
          const t = await post<TokenAnswer>('/v1/auth/refresh', {}, { anonymous: true, headers: COOKIE_MODE });
          await this.accept(t);
          return true;
        } catch (e) {
          if (!(e instanceof ApiError) || e.status === 401 || e.status === 400) this.clear();
          return false;
        } finally {
          this.inflight = null;
        }
      })();
    }
    return this.inflight;
  }

  clear() {
    this.access = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    me.set(null);
    status.set('signed-out');
  }
}

export const session = new Session();
useTokens(session);

/** At start-up: is there a sign-in to restore? */
export async function restore(): Promise<void> {
  // The server sets a readable `rampart_signed_in` cookie next to the HttpOnly refresh cookie:
  // without it there is nothing to restore (and no refresh that must fail).
  if (!document.cookie.split('; ').some((c) => c.startsWith('rampart_signed_in=1'))) return session.clear();
  if (!(await session.refresh())) session.clear();
}

export async function login(username: string, password: string): Promise<LoginAnswer> {
  const r = await post<TokenAnswer | Challenge>('/v1/auth/login', { username, password }, { anonymous: true, headers: COOKIE_MODE });
  if ('challenge' in r) return { kind: 'challenge', challenge: r };
  await session.accept(r);
  return { kind: 'signed-in' };
}

/** Answers a NEW_PASSWORD_REQUIRED challenge: then signed in, or the next challenge (MFA). */
export async function newPassword(sessionId: string, password: string): Promise<LoginAnswer> {
  const r = await post<TokenAnswer | Challenge>('/v1/auth/new-password', { session: sessionId, newPassword: password }, { anonymous: true, headers: COOKIE_MODE });
  if ('challenge' in r) return { kind: 'challenge', challenge: r };
  await session.accept(r);
  return { kind: 'signed-in' };
}

/** Answers a TOTP / MFA_SETUP challenge; after enrolment the recovery codes come back once. */
export async function answer(sessionId: string, code: string): Promise<string[] | undefined> {
  const r = await post<TokenAnswer>('/v1/auth/challenge', { session: sessionId, code }, { anonymous: true, headers: COOKIE_MODE });
  await session.accept(r);
  return r.recoveryCodes;
}

export type Enrollment = Schemas['TotpEnrollment'];

export function mfaSetup(sessionId: string): Promise<Enrollment> {
  return post<Enrollment>('/v1/auth/mfa/setup', { session: sessionId }, { anonymous: true });
}

export async function logout(): Promise<void> {
  try {
    await post('/v1/auth/logout', {}, { anonymous: true, headers: COOKIE_MODE });
  } finally {
    session.clear();
  }
}

/** Ends every sign-in of this user, this one included. */
export async function logoutEverywhere(): Promise<void> {
  try {
    await post('/v1/me/sessions/revoke-all', {});
  } finally {
    session.clear();
  }
}

export type AuthStatus = Schemas['AuthStatus'];

export const authStatus = () => get<AuthStatus>('/v1/auth/status', { anonymous: true });
