// Uploads with progress. `fetch` cannot report upload progress, so this one request uses
// XMLHttpRequest, with the same bearer token, silent refresh and error shape as the API client.

import { ApiError, tokens } from './api';

function send(url: string, files: File[], token: string | null, onProgress: (fraction: number) => void): Promise<unknown> {
  const form = new FormData();
  for (const f of files) form.append('file', f, f.name);
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', url);
    if (token) x.setRequestHeader('authorization', `Bearer ${token}`);
    x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    x.onerror = () => reject(new ApiError(0, 'network', 'The upload failed.'));
    x.onload = () => {
      let body: any = null;
      try {
        body = JSON.parse(x.responseText);
      } catch {
        /* not JSON */
      }
      if (x.status >= 200 && x.status < 300) resolve(body);
      else reject(new ApiError(x.status, body?.code ?? 'error', body?.message ?? 'The upload failed.'));
    };
    x.send(form);
  });
}

/** Uploads `files` as multipart `file` parts; on 401, one silent refresh and one retry. */
export async function uploadFiles(url: string, files: File[], onProgress: (fraction: number) => void): Promise<unknown> {
  try {
    return await send(url, files, tokens.get(), onProgress);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && (await tokens.refresh())) {
      return send(url, files, tokens.get(), onProgress);
    }
    throw e;
  }
}
