// Uploads with progress. `fetch` cannot report upload progress, so this one request uses
// XMLHttpRequest, with the same bearer token, silent refresh and error shape as the API client.
// An `AbortSignal` cancels it (the request is aborted; the promise rejects with an AbortError).

import { ApiError, tokens } from './api';

/** Bytes of the request body sent so far: the fraction, and the counts. */
export type OnProgress = (fraction: number, loaded: number, total: number) => void;

/** A multipart form: text fields (sent first), then files, each under its part name. */
export interface Parts {
  fields?: Record<string, string>;
  files: { name: string; file: File }[];
}

function formOf(p: Parts): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(p.fields ?? {})) form.append(k, v);
  for (const { name, file } of p.files) form.append(name, file, file.name);
  return form;
}

const aborted = () => new DOMException('The upload was cancelled.', 'AbortError');

function send(url: string, parts: Parts, token: string | null, onProgress: OnProgress, signal?: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted());
    const x = new XMLHttpRequest();
    const stop = () => x.abort();
    const done = () => signal?.removeEventListener('abort', stop);
    signal?.addEventListener('abort', stop, { once: true });
    x.open('POST', url);
    if (token) x.setRequestHeader('authorization', `Bearer ${token}`);
    x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.total ? e.loaded / e.total : 0, e.loaded, e.total);
    x.onabort = () => {
      done();
      reject(aborted());
    };
    x.onerror = () => {
      done();
      reject(new ApiError(0, 'network', 'The upload failed.'));
    };
    x.onload = () => {
      done();
      let body: any = null;
      try {
        body = JSON.parse(x.responseText);
      } catch {
        /* not JSON */
      }
      const ra = Number(x.getResponseHeader('retry-after'));
      if (x.status >= 200 && x.status < 300) resolve(body);
      else reject(new ApiError(x.status, body?.code ?? 'error', body?.message ?? 'The upload failed.', Number.isFinite(ra) && ra > 0 ? ra : undefined));
    };
    x.send(formOf(parts));
  });
}

/** Posts `parts` as multipart/form-data; on 401, one silent refresh and one retry. */
export async function uploadForm(url: string, parts: Parts, onProgress: OnProgress, signal?: AbortSignal): Promise<unknown> {
  try {
    return await send(url, parts, tokens.get(), onProgress, signal);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && (await tokens.refresh())) {
      return send(url, parts, tokens.get(), onProgress, signal);
    }
    throw e;
  }
}

/** Uploads `files` as multipart `file` parts; on 401, one silent refresh and one retry. */
export function uploadFiles(url: string, files: File[], onProgress: OnProgress): Promise<unknown> {
  return uploadForm(url, { files: files.map((file) => ({ name: 'file', file })) }, onProgress);
}
