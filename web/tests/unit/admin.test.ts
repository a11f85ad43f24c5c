// The administration console: the shell (tabs, the notice and error region), tabs rendering
// from the API's answers, and the shared action (a notice on success, the error on failure,
// the conflict message when another administrator changed the entry first).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import { cleanup, reactive, render } from './render.svelte';
import { all, button, choose, click, one, settle, submit, texts, type } from './dom';
import { ApiError } from '../../src/lib/api';
import { AdminPage, CONFLICT } from '../../src/lib/admin.svelte';
import { confirmAction, confirmer } from '../../src/lib/confirm.svelte';
import Admin from '../../src/pages/Admin.svelte';
import Interruptions from '../../src/pages/admin/Interruptions.svelte';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

interface Call {
  method: string;
  url: string;
  body: unknown;
  ifMatch?: string;
}

const json = (status: number, body: unknown) =>
  status === 204 ? new Response(null, { status }) : new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A fake API: `routes` maps "METHOD /path" (the query string left off) to an answer. */
function server(routes: Record<string, (c: Call) => Response>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    const headers = (init.headers ?? {}) as Record<string, string>;
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined, ifMatch: headers['if-match'] };
    calls.push(c);
    const answer = routes[`${c.method} ${url.split('?')[0]}`];
    return answer ? answer(c) : json(404, { code: 'not_found', message: `no route ${c.method} ${url}` });
  });
  return calls;
}

const status = (root: HTMLElement) => root.querySelector('[role="status"]')?.textContent ?? null;
const alert = (root: HTMLElement) => root.querySelector('[role="alert"]')?.textContent ?? null;
const gets = (calls: Call[], path: string) => calls.filter((c) => c.method === 'GET' && c.url.split('?')[0] === path).length;

const user = (email: string, over: Record<string, unknown> = {}) => ({
  id: `id-${email}`,
  email,
  displayName: email.split('@')[0],
  groups: [] as string[],
  status: 'active',
  mfaEnabled: false,
  createdAt: '2025-03-01T00:00:00Z',
  updatedAt: '2025-03-01T00:00:00Z',
  ...over,
});

describe('Admin', () => {
  it('lists the tabs, marks the open one, and sends an unknown tab to users', async () => {
    server({ 'GET /v1/admin/users': () => json(200, { items: [] }) });
    history.replaceState(null, '', '/admin/nope');
    const root = render(Admin, { tab: 'nope' });
    const nav = one(root, 'nav[aria-label="Administration"]');
    expect(texts(nav, 'a')).toEqual(['Users', 'Groups', 'Models & assistants', 'Prompts', 'Meeting templates', 'Interruptions', 'Feedback', 'Audit log', 'Status']);
    expect(all(nav, 'a').map((a) => a.getAttribute('href'))).toEqual(
      ['users', 'groups', 'catalog', 'prompts', 'meeting-templates', 'interruptions', 'feedback', 'audit', 'status'].map((t) => `/admin/${t}`),
    );
    expect(nav.querySelector('[aria-current]')).toBeNull();
    expect(location.pathname).toBe('/admin/users');

    const props = reactive({ tab: 'groups' });
    const shown = render(Admin, props);
    expect(texts(shown, 'a[aria-current="page"]')).toEqual(['Groups']);
  });

  it('shows the users from the API and says the temporary password of a new user', async () => {
    const users = [user('ann@example.com', { groups: ['admin', 'staff'], mfaEnabled: true }), user('bob@example.com', { status: 'disabled' })];
    const calls = server({
      'GET /v1/admin/users': () => json(200, { items: users }),
      'POST /v1/admin/users': () => json(201, { temporaryPassword: 'tmp-123' }),
    });
    const root = render(Admin, { tab: 'users' });
    await settle(() => expect(all(root, 'tbody tr')).toHaveLength(2));
    expect(one(root, 'h1').textContent).toBe('Users');
    expect(all(root, 'tbody tr').map((tr) => texts(tr, 'td').slice(0, 5))).toEqual([
      ['ann@example.com', 'ann', 'admin, staff', 'active', 'on'],
      ['bob@example.com', 'bob', '', 'disabled', 'off'],
    ]);
    expect(texts(all(root, 'tbody tr')[0], 'button')).toEqual(['Groups', 'Disable', 'Reset MFA', 'Delete']);
    expect(texts(all(root, 'tbody tr')[1], 'button')).toEqual(['Groups', 'Enable', 'Delete']);
    expect(calls[0].url).toBe('/v1/admin/users?limit=50');

    type(one<HTMLInputElement>(root, '#new-email'), 'pat@example.com');
    type(one<HTMLInputElement>(root, '#new-groups'), ' staff, ,admin ');
    submit(one<HTMLFormElement>(root, 'form.card'));
    await settle(() => expect(status(root)).toBe('User created. Temporary password (shown once): tmp-123'));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ email: 'pat@example.com', groups: ['staff', 'admin'] });
    expect(gets(calls, '/v1/admin/users')).toBe(2); // reloaded after the change
    expect(one<HTMLInputElement>(root, '#new-email').value).toBe('');
    expect(alert(root)).toBeNull();
  });

  it('shows the status from the API', async () => {
    server({
      'GET /v1/admin/status': () =>
        json(200, {
          version: '1.2.3',
          database: 'sqlite',
          databaseLatencyMs: 0.4,
          users: 3,
          queues: [{ queue: 'ingestion', status: 'pending', count: 2 }],
          websocketConnections: 1,
          requestsInFlight: 0,
          bus: false,
          tls: false,
          wafMode: 'block',
          storage: { databaseBytes: 2048, documents: 1, documentBytes: 512, dataDirBytes: 1536, diskAvailableBytes: 1024 ** 3, diskTotalBytes: 4 * 1024 ** 3 },
          retrieval: {
            defaultEmbeddingModel: 'all-MiniLM-L6-v2',
            defaultMode: 'hybrid',
            localEmbedder: 'active',
            localEmbedderLoaded: true,
            localModelDir: 'data/models/all-MiniLM-L6-v2',
          },
        }),
    });
    const root = render(Admin, { tab: 'status' });
    await settle(() => expect(root.querySelector('dl')).not.toBeNull());
    const dl = one(root, 'dl');
    const rows = Object.fromEntries(all(dl, 'dt').map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    expect(rows).toEqual({
      Version: '1.2.3',
      Database: 'sqlite, 0.4 ms',
      Users: '3',
      Queues: 'ingestion pending: 2',
      'Realtime connections': '1',
      'Requests in flight': '0',
      Bus: 'single replica',
      TLS: 'off (loopback or behind a proxy)',
      WAF: 'block',
      'Database size': '2.0 KB',
      Documents: '1 (512 B uploaded)',
      'Data directory': '1.5 KB',
      Disk: '1.0 GB free of 4.0 GB',
      Retrieval: 'hybrid (all-MiniLM-L6-v2)',
      'Local embedding model': 'in use, loaded',
    });
  });

  describe('a change', () => {
    const groups = [
      { name: 'admin', description: 'Administrators', members: 1, createdAt: '2025-03-01T00:00:00Z' },
      { name: 'staff', description: 'Everyone', members: 4, createdAt: '2025-03-01T00:00:00Z' },
    ];

    it('says it is done and reloads the tab', async () => {
      const calls = server({
        'GET /v1/admin/groups': () => json(200, { items: groups }),
        'DELETE /v1/admin/groups/staff': () => json(204, null),
      });
      const root = render(Admin, { tab: 'groups' });
      await settle(() => expect(all(root, 'tbody tr')).toHaveLength(2));
      expect(all(root, 'tbody tr')[0].querySelector('button')).toBeNull(); // admin cannot be deleted
      click(button(all(root, 'tbody tr')[1], 'Delete'));
      // Asked first: nothing is deleted until the question is answered.
      await settle(() => expect(confirmer.asking?.message).toContain('The group staff is deleted'));
      expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
      confirmer.asking?.answer(true);
      await settle(() => expect(status(root)).toBe('Deleted.'));
      expect(root.querySelector('[role="status"]')?.className).toBe('notice');
      expect(gets(calls, '/v1/admin/groups')).toBe(2);
      expect(alert(root)).toBeNull();
    });

    it('shows why it failed, and no notice', async () => {
      const calls = server({
        'GET /v1/admin/groups': () => json(200, { items: groups }),
        'POST /v1/admin/groups': () => json(409, { code: 'conflict', message: 'That group exists.' }),
      });
      const root = render(Admin, { tab: 'groups' });
      await settle(() => expect(all(root, 'tbody tr')).toHaveLength(2));
      type(one<HTMLInputElement>(root, '#group-name'), 'staff');
      type(one<HTMLInputElement>(root, '#group-desc'), 'Again');
      submit(one<HTMLFormElement>(root, 'form.card'));
      await settle(() => expect(alert(root)).toBe('That group exists.'));
      expect(root.querySelector('[role="alert"]')?.className).toBe('error');
      expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'staff', description: 'Again' });
      expect(status(root)).toBeNull();
      expect(gets(calls, '/v1/admin/groups')).toBe(1); // not reloaded
      expect(one<HTMLInputElement>(root, '#group-name').value).toBe('staff'); // what was typed stays
    });

    it('refused because another administrator changed the entry: reloads, says so, keeps the typed text, and saves on the retry', async () => {
      let hr = { id: 'hr', kind: 'rag', model: 'local', source: 'database', secrets: [], version: 1, system_prompt: 'Old.', knowledge_bases: ['handbook'] };
      const calls = server({
        'GET /v1/admin/models': () => json(200, []),
        'GET /v1/admin/assistants': () => json(200, [hr]),
        'PUT /v1/admin/assistants/hr': (c) => {
          if (c.ifMatch !== `"${hr.version}"`) return json(412, { code: 'precondition_failed', message: 'The entry changed.' });
          hr = { ...hr, ...(c.body as object), version: hr.version + 1 };
          return json(200, hr);
        },
      });
      const root = render(Admin, { tab: 'prompts' });
      await settle(() => expect(all(root, '#prompt-assistant option')).toHaveLength(2));
      choose(one<HTMLSelectElement>(root, '#prompt-assistant'), 'hr');
      expect(one<HTMLTextAreaElement>(root, '#system-prompt').value).toBe('Old.');
      hr = { ...hr, system_prompt: 'Theirs.', version: 2 }; // changed elsewhere
      type(one<HTMLTextAreaElement>(root, '#system-prompt'), 'Mine.');
      submit(one<HTMLFormElement>(root, 'form.card'));
      await settle(() => expect(alert(root)).toContain('Another administrator changed this entry since you opened it.'));
      expect(status(root)).toBeNull();
      expect(one<HTMLTextAreaElement>(root, '#system-prompt').value).toBe('Mine.');
      expect(gets(calls, '/v1/admin/assistants')).toBe(2); // reloaded
      expect(calls.filter((c) => c.method === 'PUT').map((c) => c.ifMatch)).toEqual(['"1"']);

      submit(one<HTMLFormElement>(root, 'form.card'));
      await settle(() => expect(status(root)).toBe('Prompts saved; they apply to the next message.'));
      expect(alert(root)).toBeNull();
      const puts = calls.filter((c) => c.method === 'PUT');
      expect(puts.map((c) => c.ifMatch)).toEqual(['"1"', '"2"']);
      // The whole entry goes back without the view's own fields.
      expect(puts[1].body).toEqual({ id: 'hr', kind: 'rag', model: 'local', system_prompt: 'Mine.', knowledge_bases: ['handbook'] });
    });
  });

  it('keeps what was typed on a tab while another tab is open', async () => {
    const hr = { id: 'hr', kind: 'model', model: 'local', source: 'database', secrets: [], version: 1, system_prompt: 'Old.' };
    server({
      'GET /v1/admin/models': () => json(200, [{ id: 'local', provider: 'openai', source: 'config', secrets: ['api_key'] }]),
      'GET /v1/admin/assistants': () => json(200, [hr]),
    });
    const props = reactive({ tab: 'prompts' });
    const root = render(Admin, props);
    await settle(() => expect(all(root, '#prompt-assistant option')).toHaveLength(2));
    choose(one<HTMLSelectElement>(root, '#prompt-assistant'), 'hr');
    type(one<HTMLTextAreaElement>(root, '#system-prompt'), 'Half-written.');

    props.tab = 'catalog';
    flushSync();
    expect(one(root, 'h1').textContent).toBe('Models and assistants');
    await settle(() => expect(all(root, 'tbody tr').map((tr) => texts(tr, 'td').slice(0, 4))).toEqual([
      ['local', 'openai', 'config', 'api_key'],
      ['hr', 'model', 'database', ''],
    ]));
    click(button(all(root, 'tbody tr')[1], 'Edit'));
    click(button(root, 'Advanced (JSON)')); // the form is the main view; the JSON one is a click away
    const editor = one<HTMLTextAreaElement>(root, '#entry-json');
    expect(one(root, 'label[for="entry-json"]').textContent).toBe("Edit hr (the configuration file's keys, as JSON)");
    expect(JSON.parse(editor.value)).toEqual({ id: 'hr', kind: 'model', model: 'local', system_prompt: 'Old.' });
    type(editor, '{ "id": "hr" }');

    props.tab = 'prompts';
    flushSync();
    await settle(() => expect(one<HTMLSelectElement>(root, '#prompt-assistant').value).toBe('hr'));
    expect(one<HTMLTextAreaElement>(root, '#system-prompt').value).toBe('Half-written.');

    props.tab = 'catalog';
    flushSync();
    expect(one<HTMLTextAreaElement>(root, '#entry-json').value).toBe('{ "id": "hr" }');
  });
});

describe('AdminPage', () => {
  /** A page with a tab open whose load is `load` (counted). */
  async function opened(load: () => Promise<void> = async () => {}) {
    const page = new AdminPage();
    const loads = vi.fn(load);
    await page.load(loads);
    return { page, loads };
  }

  it('loads a tab clearing what the page said, and shows why a load failed', async () => {
    const { page, loads } = await opened();
    expect(loads).toHaveBeenCalledTimes(1);
    page.notice = 'Saved.';
    page.error = 'Earlier.';
    await page.load(async () => {
      throw new ApiError(403, 'forbidden', 'Administrators only.');
    });
    expect([page.notice, page.error]).toEqual(['', 'Administrators only.']);
    await page.load(async () => {});
    expect([page.notice, page.error]).toEqual(['', '']);
  });

  it('runs a change, reloads the open tab, then says it is done', async () => {
    const { page, loads } = await opened();
    page.error = 'Earlier.';
    const said: string[] = [];
    loads.mockImplementation(async () => void said.push(page.notice));
    await page.act(async () => ({ id: 1 }), 'Deleted.');
    expect(loads).toHaveBeenCalledTimes(2);
    expect(said).toEqual(['']); // the notice comes after the reload
    expect([page.notice, page.error]).toEqual(['Deleted.', '']);
    await page.act(async () => 'Created: pw-1', 'Created.');
    expect(page.notice).toBe('Created: pw-1'); // what the change said, when a string
  });

  it('shows why a change failed, without a notice or a reload', async () => {
    const { page, loads } = await opened();
    page.notice = 'Earlier.';
    const changed = vi.fn();
    await page.act(async () => Promise.reject(new ApiError(409, 'conflict', 'That group exists.')), 'Done.', { changed });
    expect([page.notice, page.error]).toEqual(['', 'That group exists.']);
    await page.act(async () => Promise.reject(new TypeError('fetch failed')), 'Done.', { changed });
    expect(page.error).toBe('The server cannot be reached.');
    expect(loads).toHaveBeenCalledTimes(1);
    expect(changed).not.toHaveBeenCalled();
  });

  it('on 412 reloads the tab, then lets the tab catch up, then says another administrator changed the entry', async () => {
    const order: string[] = [];
    const { page, loads } = await opened();
    loads.mockImplementation(async () => void order.push('reload'));
    await page.act(
      async () => Promise.reject(new ApiError(412, 'precondition_failed', 'The entry changed.')),
      'Saved.',
      { changed: () => void order.push(`changed with error "${page.error}"`) },
    );
    expect(order).toEqual(['reload', 'changed with error ""']);
    expect([page.notice, page.error]).toEqual(['', CONFLICT]);
    expect(CONFLICT).toBe(
      'Another administrator changed this entry since you opened it. Save again to replace their change with what is shown here, or open the entry again to see theirs.',
    );
  });

  it('asks first when told to, and runs nothing on Cancel', async () => {
    const { page, loads } = await opened();
    const fn = vi.fn(async () => {});
    const running = page.act(fn, 'Deleted.', { confirm: 'It goes.', action: 'Delete', at: 'list' });
    expect(confirmer.asking?.action).toBe('Delete');
    confirmer.asking?.answer(false);
    await running;
    expect(fn).not.toHaveBeenCalled();
    expect(loads).toHaveBeenCalledTimes(1);
    expect([page.notice, page.at]).toEqual(['', null]);
    const yes = page.act(fn, 'Deleted.', { confirm: 'It goes.', at: 'list' });
    confirmer.asking?.answer(true);
    await yes;
    expect(fn).toHaveBeenCalledTimes(1);
    expect([page.notice, page.at]).toEqual(['Deleted.', 'list']);
  });

  it('a second question answers the first with no', async () => {
    const first = confirmAction('One.');
    const second = confirmAction('Two.', 'Revoke');
    expect(await first).toBe(false);
    expect(confirmer.asking?.message).toBe('Two.');
    confirmer.asking?.answer(true);
    expect(await second).toBe(true);
    expect(confirmer.asking).toBeNull();
  });

  it('keeps one state of each kind for as long as it lives', () => {
    class A {
      n = 0;
    }
    class B {}
    const page = new AdminPage();
    const a = page.keep(A);
    a.n = 2;
    expect(page.keep(A)).toBe(a);
    expect(page.keep(A).n).toBe(2);
    expect(page.keep(B)).toBeInstanceOf(B);
    expect(new AdminPage().keep(A)).not.toBe(a);
  });
});

describe('a tab on its own', () => {
  it('renders the interruptions from the API and starts one through the page', async () => {
    let active = false;
    const calls = server({
      'GET /v1/bot-management/interruptions': () =>
        json(200, [
          { service_type: 'global', active, message: active ? 'Down for upgrade.' : null, expires_at: active ? '2025-03-01T14:00:00Z' : null },
          { service_type: 'rag', active: false },
        ]),
      'POST /v1/bot-management/interruptions': () => ((active = true), json(200, {})),
    });
    const page = new AdminPage();
    const root = render(Interruptions, { page });
    expect(one(root, 'h1').textContent).toBe('Service interruptions');
    await settle(() => expect(all(root, 'tbody tr')).toHaveLength(2));
    expect(all(root, 'tbody tr').map((tr) => texts(tr, 'td'))).toEqual([
      ['global', 'no', '', '—', ''],
      ['rag', 'no', '', '—', ''],
    ]);
    expect(texts(one(root, '#i-type'), 'option')).toEqual(['global', 'rag', 'model', 'custom', 'agent']);

    type(one<HTMLInputElement>(root, '#i-msg'), 'Down for upgrade.');
    type(one<HTMLInputElement>(root, '#i-reason'), 'Version 2');
    submit(one<HTMLFormElement>(root, 'form.card'));
    await settle(() => expect(page.notice).toBe('Interruption active.'));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ service_type: 'global', message: 'Down for upgrade.', reason: 'Version 2', duration: '2h' });
    // The notice is said beside the form it came from; the reloaded rows are the tab's.
    expect(page.at).toBe('new-interruption');
    expect(one(root, 'form.card [role="status"]').textContent).toBe('Interruption active.');
    expect(texts(all(root, 'tbody tr')[0], 'td')).toEqual(['global', 'yes', 'Down for upgrade.', new Date('2025-03-01T14:00:00Z').toLocaleString(), 'End']);
    expect(page.error).toBe('');
  });
});
