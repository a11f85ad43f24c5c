// The HTTP client: JSON in and out, the access token from memory, one silent refresh and retry
// on 401, errors as `ApiError` with the server's stable code.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public retryAfter?: number,
  ) {
    super(message);
  }
}

export interface TokenSource {
  /** The current access token, if signed in. */
  token(): string | null;
  /** Gets a new access token (the refresh cookie); false when the sign-in is over. */
  refresh(): Promise<boolean>;
}

let source: TokenSource | null = null;

export function useTokens(s: TokenSource | null): void {
  source = s;
}

/** The sign-in's access token and refresh, for transports other than `fetch` (uploads). */
export const tokens = {
  get: (): string | null => source?.token() ?? null,
  refresh: (): Promise<boolean> => source?.refresh() ?? Promise.resolve(false),
};

export interface RequestOptions {
  /** Do not attach the access token (sign-in endpoints). */
  anonymous?: boolean;
  /** Extra headers. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

async function parseError(r: Response): Promise<ApiError> {
  let code = 'error';
  let message = r.statusText || 'Request failed';
  try {
    const body = await r.json();
    if (typeof body?.code === 'string') code = body.code;
    if (typeof body?.message === 'string') message = body.message;
  } catch {
    /* not JSON */
  }
  const ra = Number(r.headers.get('retry-after'));
  return new ApiError(r.status, code, message, Number.isFinite(ra) && ra > 0 ? ra : undefined);
}

async function send(method: string, path: string, body: unknown, o: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const t = o.anonymous ? null : source?.token();
  if (t) headers.authorization = `Bearer ${t}`;
  return fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal: o.signal });
}

/** Calls the API; resolves to the parsed JSON body (or undefined for 204). */
export async function api<T = unknown>(method: string, path: string, body?: unknown, o: RequestOptions = {}): Promise<T> {
  let r = await send(method, path, body, o);
  if (r.status === 401 && !o.anonymous && source && (await source.refresh())) {
    r = await send(method, path, body, o);
  }
  if (!r.ok) throw await parseError(r);
  if (r.status === 204) return undefined as T;
  const text = await r.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A file from the API (a GET with the access token, one silent refresh on 401): its bytes and
 * the name its `Content-Disposition` gives, if any. */
export async function download(path: string, o: RequestOptions = {}): Promise<{ blob: Blob; filename: string | null }> {
  const opts = { ...o, headers: { accept: '*/*', ...o.headers } };
  let r = await send('GET', path, undefined, opts);
  if (r.status === 401 && !o.anonymous && source && (await source.refresh())) {
    r = await send('GET', path, undefined, opts);
  }
  if (!r.ok) throw await parseError(r);
  const cd = r.headers.get('content-disposition') ?? '';
  const name = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd)?.[1];
  return { blob: await r.blob(), filename: name ? decodeURIComponent(name) : null };
}

/** Hands a blob to the browser as a download named `name`. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const get = <T>(path: string, o?: RequestOptions) => api<T>('GET', path, undefined, o);
export const post = <T>(path: string, body?: unknown, o?: RequestOptions) => api<T>('POST', path, body ?? {}, o);
export const put = <T>(path: string, body?: unknown, o?: RequestOptions) => api<T>('PUT', path, body ?? {}, o);
export const patch = <T>(path: string, body?: unknown, o?: RequestOptions) => api<T>('PATCH', path, body ?? {}, o);
export const del = <T>(path: string, o?: RequestOptions) => api<T>('DELETE', path, undefined, o);

/** A readable sentence for an error, for the page. */
export function describe(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 429 && e.retryAfter) return `${e.message} Try again in ${e.retryAfter} s.`;
    return e.message;
  }
  if (e instanceof Error && e.name === 'AbortError') return 'Cancelled.';
  return 'The server cannot be reached.';
}
