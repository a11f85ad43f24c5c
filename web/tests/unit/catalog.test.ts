// The models and assistants tab: the forms built from the entry types' schemas (the fields of
// a provider or kind, typed bodies, write-only values, a refused value shown beside its field,
// the 412 conflict), and the Advanced (JSON) view of the same entry.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from './render.svelte';
import { all, button, choose, click, one, settle, submit, type } from './dom';
import Admin from '../../src/pages/Admin.svelte';
import { FIELDS } from '../../src/lib/catalog.svelte';
import { keyOf } from '../../src/lib/schemaform';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

interface Call {
  method: string;
  url: string;
  body: any;
  ifMatch?: string;
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A fake API: `routes` maps "METHOD /path" to an answer; the lists answer [] unless given. */
function server(routes: Record<string, (c: Call) => Response>): Call[] {
  const calls: Call[] = [];
  const all: Record<string, (c: Call) => Response> = { 'GET /v1/admin/models': () => json(200, []), 'GET /v1/admin/assistants': () => json(200, []), ...routes };
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    const headers = (init.headers ?? {}) as Record<string, string>;
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined, ifMatch: headers['if-match'] };
    calls.push(c);
    const answer = all[`${c.method} ${url}`];
    return answer ? answer(c) : json(404, { code: 'not_found', message: `no route ${c.method} ${url}` });
  });
  return calls;
}

const alert = (root: HTMLElement) => root.querySelector('[role="alert"]')?.textContent ?? null;
const status = (root: HTMLElement) => root.querySelector('[role="status"]')?.textContent ?? null;
const form = (root: HTMLElement) => one<HTMLFormElement>(root, 'form.card');
/** The keys of the fields shown, in order. */
const keys = (root: HTMLElement) => all(form(root), '.field').map((d) => (d.querySelector('[id^="entry-"]')?.id ?? '').replace(/^entry-/, '').replace(/-name-0$/, ''));
const input = <E extends HTMLElement = HTMLInputElement>(root: HTMLElement, key: string) => one<E>(root, `#entry-${key}`);

async function opened(label: 'Add a model' | 'Add an assistant' | { edit: number }, routes: Record<string, (c: Call) => Response> = {}) {
  const calls = server(routes);
  const root = render(Admin, { tab: 'catalog' });
  await settle(() => expect(calls.filter((c) => c.method === 'GET')).toHaveLength(2));
  if (typeof label === 'string') click(button(root, label));
  else click(button(all(root, 'tbody tr')[label.edit], 'Edit'));
  return { root, calls };
}

const model = { id: 'rt', kind: 'chat', provider: 'openai', base_url: 'http://127.0.0.1:9/v1', model: 'm', timeout: '1m', max_retries: 2, source: 'admin', secrets: ['api_key'], version: 5, updatedAt: 1, updatedBy: 'a@example.com' };

describe('the model form', () => {
  it("shows the fields of the chosen provider and kind, labelled, with the schema's help, the required ones marked", async () => {
    const { root } = await opened('Add a model');
    expect(one(root, '#entry-title').textContent).toBe('New model');
    expect(input<HTMLSelectElement>(root, 'provider').value).toBe('openai');
    expect(keys(root)).toEqual(['id', 'kind', 'provider', 'base_url', 'model', 'api_key', 'timeout', 'max_retries', 'tools']);
    // Every input has a label; help text comes from the schema; required fields are marked.
    for (const el of all(form(root), 'input, select, textarea')) {
      expect(form(root).querySelector(`label[for="${el.id}"]`), el.id).not.toBeNull();
    }
    expect(one(root, '#entry-base_url-help').textContent).toContain('openai: required');
    expect(input(root, 'base_url').getAttribute('aria-describedby')).toBe('entry-base_url-help');
    expect([input(root, 'id').required, input<HTMLSelectElement>(root, 'provider').required, input(root, 'base_url').required]).toEqual([true, true, false]);
    expect(one(root, 'label[for="entry-id"]').textContent).toBe('ID*');
    expect(input(root, 'api_key').type).toBe('password');
    expect(one(root, '#entry-api_key-state').textContent).toContain('not set');
    expect([input(root, 'max_retries').type, input(root, 'max_retries').placeholder, input(root, 'timeout').placeholder]).toEqual(['number', 'Default: 2', 'Default: 1m']);

    choose(input<HTMLSelectElement>(root, 'provider'), 'bedrock');
    expect(keys(root)).toEqual(['id', 'kind', 'provider', 'base_url', 'model', 'region', 'aws_access_key_id', 'aws_secret_access_key', 'aws_session_token', 'timeout', 'max_retries', 'tools']);
    choose(input<HTMLSelectElement>(root, 'provider'), 'http');
    expect(keys(root)).toEqual(['id', 'kind', 'provider', 'base_url', 'model', 'request_template', 'response_pointer', 'usage_input_pointer', 'usage_output_pointer', 'headers', 'timeout', 'max_retries', 'tools']);
    // A kind narrows the providers (and shows its own keys).
    choose(input<HTMLSelectElement>(root, 'kind'), 'embedding');
    choose(input<HTMLSelectElement>(root, 'provider'), 'ollama');
    expect(all(input(root, 'provider'), 'option:not([disabled])').map((o) => o.textContent)).toEqual(['openai', 'bedrock', 'ollama']);
    expect(keys(root)).toContain('dimensions');
  });

  it('sends a typed body: numbers as numbers, lists and JSON parsed, empty fields and empty secrets left out', async () => {
    const { root, calls } = await opened('Add a model', { 'POST /v1/admin/models': (c) => json(201, { ...c.body, source: 'admin', secrets: [] }) });
    choose(input<HTMLSelectElement>(root, 'provider'), 'http');
    type(input(root, 'id'), ' tgi ');
    type(input(root, 'base_url'), 'http://127.0.0.1:9/invocations');
    type(input<HTMLTextAreaElement>(root, 'request_template'), '{"inputs": "{{prompt}}"}');
    type(input(root, 'response_pointer'), '/0/generated_text');
    type(input(root, 'max_retries'), '0');
    click(button(root, 'Add a header'));
    type(one(root, '#entry-headers-name-0'), 'Authorization');
    type(one(root, '#entry-headers-value-0'), 'Bearer x');
    submit(form(root));
    await settle(() => expect(status(root)).toBe('Saved; it applies at once.'));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      id: 'tgi',
      kind: 'chat',
      provider: 'http',
      base_url: 'http://127.0.0.1:9/invocations',
      request_template: { inputs: '{{prompt}}' },
      response_pointer: '/0/generated_text',
      headers: { Authorization: 'Bearer x' },
      max_retries: 0,
    });
    expect(root.querySelector('form.card')).toBeNull(); // closed once saved
  });

  it('edits an entry: a write-only value left empty is kept (left out), removed only when asked', async () => {
    const { root, calls } = await opened({ edit: 0 }, {
      'GET /v1/admin/models': () => json(200, [model]),
      'PUT /v1/admin/models/rt': (c) => json(200, { ...c.body, source: 'admin', secrets: [], version: 6 }),
    });
    expect(one(root, '#entry-title').textContent).toBe('Edit rt');
    expect(input(root, 'id').readOnly).toBe(true);
    expect(one(root, '#entry-api_key-state').textContent).toContain('set');
    type(input(root, 'model'), 'm2');
    submit(form(root));
    await settle(() => expect(calls.filter((c) => c.method === 'PUT')).toHaveLength(1));
    const put = calls.find((c) => c.method === 'PUT')!;
    expect(put.ifMatch).toBe('"5"');
    expect(put.body).toEqual({ id: 'rt', kind: 'chat', provider: 'openai', base_url: 'http://127.0.0.1:9/v1', model: 'm2', timeout: '1m', max_retries: 2 });

    click(button(all(root, 'tbody tr')[0], 'Edit'));
    click(one(root, '#entry-api_key-clear'));
    expect(input(root, 'api_key').disabled).toBe(true);
    submit(form(root));
    await settle(() => expect(calls.filter((c) => c.method === 'PUT')).toHaveLength(2));
    expect(calls.filter((c) => c.method === 'PUT')[1].body.api_key).toBe('');
  });

  it("shows the server's refusal beside the field it names, announced, and moves the focus there", async () => {
    const message = 'base_url: must be an http(s) URL without a query';
    const { root, calls } = await opened('Add a model', { 'POST /v1/admin/models': () => json(400, { code: 'invalid_request', message }) });
    type(input(root, 'id'), 'x');
    type(input(root, 'base_url'), 'ftp://h/');
    submit(form(root));
    await settle(() => expect(alert(root)).toBe(message));
    expect(one(root, '#entry-base_url-error').textContent).toBe('must be an http(s) URL without a query');
    expect(input(root, 'base_url').getAttribute('aria-invalid')).toBe('true');
    expect(input(root, 'base_url').getAttribute('aria-describedby')).toBe('entry-base_url-error entry-base_url-help');
    await settle(() => expect(document.activeElement).toBe(input(root, 'base_url')));
    expect(input(root, 'id').value).toBe('x'); // what was typed stays
    // Correcting the value clears its error.
    type(input(root, 'base_url'), 'http://h/');
    expect(root.querySelector('#entry-base_url-error')).toBeNull();
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(1);
  });

  it("checks numbers and JSON before sending, beside their fields", async () => {
    const { root, calls } = await opened('Add a model');
    choose(input<HTMLSelectElement>(root, 'provider'), 'http');
    type(input(root, 'id'), 'x');
    type(input<HTMLTextAreaElement>(root, 'request_template'), '{not json');
    submit(form(root));
    expect(one(root, '#entry-request_template-error').textContent).toBe('Not valid JSON.');
    expect(alert(root)).toContain('Some fields need correcting');
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0);
  });
});

describe('the assistant form', () => {
  it("shows a kind's own fields, with lists and a checkbox, and creates it", async () => {
    const { root, calls } = await opened('Add an assistant', {
      'GET /v1/admin/models': () => json(200, [model, { ...model, id: 'embed', kind: 'embedding' }]),
      'POST /v1/admin/assistants': (c) => json(201, { ...c.body, source: 'admin', secrets: [] }),
    });
    expect(keys(root)).toEqual(['id', 'name', 'description', 'kind', 'model', 'system_prompt', 'groups', 'inference_max_tokens', 'inference_temperature', 'inference_top_p']);
    // The chat models are offered for `model`.
    expect(all(root, `#${input(root, 'model').getAttribute('list')} option`).map((o) => o.getAttribute('value'))).toEqual(['rt']);
    choose(input<HTMLSelectElement>(root, 'kind'), 'custom');
    expect(keys(root)).toEqual(['id', 'name', 'description', 'kind', 'system_prompt', 'groups', 'webhook_url', 'webhook_secret', 'webhook_timeout', 'inference_max_tokens', 'inference_temperature', 'inference_top_p']);
    choose(input<HTMLSelectElement>(root, 'kind'), 'rag');
    expect(keys(root)).toEqual(['id', 'name', 'description', 'kind', 'model', 'system_prompt', 'groups', 'knowledge_bases', 'kb_number_of_results', 'prompt_template', 'display_inline_citations', 'inference_max_tokens', 'inference_temperature', 'inference_top_p']);
    expect(input(root, 'display_inline_citations').checked).toBe(true); // the schema's default
    expect(one(root, 'label[for="entry-display_inline_citations"]').textContent?.trim()).toBe('Display inline citations');
    type(input(root, 'id'), 'hr');
    type(input(root, 'knowledge_bases'), 'handbook, policies');
    type(input(root, 'inference_temperature'), '0.2');
    submit(form(root));
    await settle(() => expect(status(root)).toBe('Saved; it applies at once.'));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ id: 'hr', kind: 'rag', knowledge_bases: ['handbook', 'policies'], inference_temperature: 0.2 });
  });

  it('refused because another administrator changed it: says so, keeps what was typed, and replaces on the retry', async () => {
    let hr = { id: 'hr', kind: 'rag', model: 'local', knowledge_bases: ['handbook'], groups: [], source: 'admin', secrets: [], version: 1 };
    const { root, calls } = await opened({ edit: 0 }, {
      'GET /v1/admin/assistants': () => json(200, [hr]),
      'PUT /v1/admin/assistants/hr': (c) => {
        if (c.ifMatch !== `"${hr.version}"`) return json(412, { code: 'precondition_failed', message: 'changed' });
        hr = { ...hr, ...c.body, version: hr.version + 1 };
        return json(200, hr);
      },
    });
    hr = { ...hr, version: 2 }; // changed elsewhere
    type(input(root, 'kb_number_of_results'), '3');
    submit(form(root));
    await settle(() => expect(alert(root)).toContain('Another administrator changed this entry since you opened it.'));
    expect(input(root, 'kb_number_of_results').value).toBe('3');
    submit(form(root));
    await settle(() => expect(status(root)).toBe('Saved; it applies at once.'));
    expect(calls.filter((c) => c.method === 'PUT').map((c) => c.ifMatch)).toEqual(['"1"', '"2"']);
    expect(hr).toMatchObject({ kb_number_of_results: 3, version: 3 });
  });

  it('has an Advanced (JSON) view of the same entry, both ways', async () => {
    const { root, calls } = await opened('Add an assistant', { 'POST /v1/admin/assistants': (c) => json(201, { ...c.body, source: 'admin', secrets: [] }) });
    type(input(root, 'id'), 'a');
    type(input<HTMLTextAreaElement>(root, 'system_prompt'), 'Be brief.');
    click(button(root, 'Advanced (JSON)'));
    expect(button(root, 'Advanced (JSON)').getAttribute('aria-pressed')).toBe('true');
    const text = one<HTMLTextAreaElement>(root, '#entry-json');
    expect(JSON.parse(text.value)).toEqual({ id: 'a', kind: 'model', system_prompt: 'Be brief.' });
    type(text, '{"id": "a", "kind": "extractive", "groups": ["staff"]}');
    click(button(root, 'Form'));
    expect(input<HTMLSelectElement>(root, 'kind').value).toBe('extractive');
    expect(input(root, 'groups').value).toBe('staff');
    submit(form(root));
    await settle(() => expect(status(root)).toBe('Saved; it applies at once.'));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ id: 'a', kind: 'extractive', groups: ['staff'] });
  });
});

describe('the fields', () => {
  it("come from the schemas: every key but the config file's own, write-only ones as secrets", () => {
    const input = (k: string, key: string) => FIELDS[k as 'models'].find((f) => f.key === key)?.input;
    expect(FIELDS.models.map((f) => f.key)).not.toContain('api_key_file');
    expect(['api_key', 'aws_secret_access_key', 'headers'].map((k) => input('models', k))).toEqual(['secret', 'secret', 'secrets']);
    expect(['kind', 'max_retries', 'request_template', 'timeout'].map((k) => input('models', k))).toEqual(['select', 'integer', 'json', 'text']);
    expect(['webhook_secret', 'groups', 'display_inline_citations', 'inference_top_p', 'system_prompt'].map((k) => input('assistants', k))).toEqual([
      'secret',
      'list',
      'checkbox',
      'number',
      'textarea',
    ]);
  });

  it("name the key a refusal is about", () => {
    const k = ['id', 'base_url', 'provider'];
    expect(keyOf('base_url: must be an http(s) URL', k)).toBe('base_url');
    expect(keyOf('missing field `provider`', k)).toBe('provider');
    expect(keyOf('unknown field `surprise`, expected one of `id`', k)).toBeNull();
    expect(keyOf('The id is already used.', k)).toBeNull();
  });
});
