// The catalog (models and assistants) as the admin API shows it, for the console's catalog and
// prompts tabs: the two lists, what the replacement of an entry sends back, and the entry being
// edited (in a form built from the entry type's schema, or as JSON).
import { get } from './api';
import type { components } from '../api/schema';
import { schemas } from '../api/forms';
import { entryOf, fieldsOf, valuesOf, type Field, type Layout, type Values } from './schemaform';

type S = components['schemas'];
export type ModelView = S['ModelView'];
export type AssistantView = S['AssistantView'];
export type EntryView = ModelView | AssistantView;
export type Kind = 'models' | 'assistants';

/** The models and assistants as last loaded; one for the tabs that show them. */
export class Entries {
  models = $state<ModelView[]>([]);
  assistants = $state<AssistantView[]>([]);

  async load(): Promise<void> {
    this.models = await get<ModelView[]>('/v1/admin/models');
    this.assistants = await get<AssistantView[]>('/v1/admin/assistants');
  }
}

// The view's own fields (where it comes from, the names of its secrets, who changed it when)
// are not configuration keys: the server refuses them on PUT.
const VIEW_ONLY = new Set(['source', 'secrets', 'updatedAt', 'updatedBy', 'version']);

/** An entry's configuration keys: the entry as shown, without the view's own fields. */
export const entryKeys = (entry: EntryView | Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(entry).filter(([k]) => !VIEW_ONLY.has(k)));

// A replacement is conditional on the version read: another administrator's change made in
// between is refused (412), not silently overwritten.
export const ifMatch = (version: unknown) => (typeof version === 'number' ? { headers: { 'if-match': `"${version}"` } } : {});

// Which keys apply to which provider or kind (the server's checks refuse the others), and the
// providers a kind of model may use.
const PROVIDERS: Record<S['ModelKind'], S['ModelProvider'][]> = {
  chat: ['openai', 'anthropic', 'bedrock', 'http'],
  embedding: ['openai', 'ollama', 'bedrock'],
  rerank: ['cohere', 'tei'],
};
const provider = (...p: string[]) => (v: Values) => p.includes(v.provider as string);
const modelKind = (k: string) => (v: Values) => (v.kind || 'chat') === k;
const bedrock = provider('bedrock');
const http = provider('http');
const embedding = modelKind('embedding');
const kind = (...k: string[]) => (v: Values) => k.includes(v.kind as string);
const rag = kind('rag');
const custom = kind('custom');

const LAYOUTS: { models: Layout<keyof S['ModelConfig']>; assistants: Layout<keyof S['AssistantConfig']> } = {
  models: {
    order: [
      'id', 'kind', 'provider', 'base_url', 'model', 'api_key', 'region', 'aws_access_key_id', 'aws_secret_access_key', 'aws_session_token',
      'request_template', 'response_pointer', 'usage_input_pointer', 'usage_output_pointer', 'headers',
      'dimensions', 'query_prefix', 'document_prefix', 'batch_size', 'timeout', 'max_retries',
    ],
    // The config file's only: the API refuses it (an administrator sends api_key).
    hidden: ['api_key_file'],
    multiline: [],
    when: {
      // bedrock signs with the aws_* keys, http sends headers.
      api_key: (v) => !bedrock(v) && !http(v),
      region: bedrock, aws_access_key_id: bedrock, aws_secret_access_key: bedrock, aws_session_token: bedrock,
      request_template: http, response_pointer: http, usage_input_pointer: http, usage_output_pointer: http, headers: http,
      dimensions: embedding, query_prefix: embedding, document_prefix: embedding, batch_size: embedding,
    },
    options: { provider: (v) => PROVIDERS[(v.kind || 'chat') as S['ModelKind']] ?? [] },
  },
  assistants: {
    order: [
      'id', 'name', 'description', 'kind', 'model', 'system_prompt', 'groups', 'knowledge_bases', 'kb_number_of_results', 'prompt_template', 'display_inline_citations',
      'webhook_url', 'webhook_secret', 'webhook_timeout', 'inference_max_tokens', 'inference_temperature', 'inference_top_p',
    ],
    multiline: ['description', 'system_prompt', 'prompt_template'],
    when: {
      model: kind('model', 'rag'),
      knowledge_bases: rag, kb_number_of_results: rag, prompt_template: rag, display_inline_citations: rag,
      webhook_url: custom, webhook_secret: custom, webhook_timeout: custom,
    },
  },
};

/** The fields of an entry type's form (built once from its schema). */
export const FIELDS: Record<Kind, Field[]> = {
  models: fieldsOf(schemas, 'ModelConfig', LAYOUTS.models as Layout),
  assistants: fieldsOf(schemas, 'AssistantConfig', LAYOUTS.assistants as Layout),
};

// What a new entry starts as (today's JSON editor's blank entries).
const BLANK: Record<Kind, Record<string, unknown>> = { models: { provider: 'openai' }, assistants: { kind: 'model' } };

/** The catalog entry being edited, kept while another tab is open: which one, the version it
 * was read at (a save is conditional on it), and what was typed, in the form (`values`, the
 * write-only fields to remove) or as JSON text (the Advanced view). */
export class EntryEdit {
  kind = $state<Kind>('models');
  id = $state<string | null>(null);
  version = $state<number | null>(null);
  /** The editor is open (a save and Cancel close it). */
  shown = $state(false);
  view = $state<'form' | 'json'>('form');
  values = $state<Values>({});
  clear = $state<string[]>([]);
  /** The write-only fields the entry has a value for, as read. */
  secrets = $state<string[]>([]);
  json = $state('');
  /** Why a field's value was refused, by key (the form's checks, or the server's). */
  errors = $state<Record<string, string>>({});

  get fields(): Field[] {
    return FIELDS[this.kind];
  }

  /** Opens `entry` for editing, or a new entry of `kind` when null, in the form. */
  open(kind: Kind, entry: EntryView | null) {
    this.kind = kind;
    this.id = entry?.id ?? null;
    this.version = entry?.version ?? null;
    this.secrets = entry?.secrets ?? [];
    this.load(entry ? entryKeys(entry) : BLANK[kind]);
    this.view = 'form';
    this.json = '';
    this.shown = true;
  }

  close() {
    this.shown = false;
    this.id = null;
    this.json = '';
    this.errors = {};
  }

  /** Whether a field applies to the entry as filled in (its provider, its kind). */
  applies(key: string): boolean {
    const when = (LAYOUTS[this.kind].when as Record<string, ((v: Values) => boolean) | undefined>)[key];
    return when ? when(this.values) : true;
  }

  /** A select's choices: the schema's, narrowed by the values (a kind's providers), and the
   * value it has. */
  options(f: Field): string[] {
    const narrow = (LAYOUTS[this.kind].options as Record<string, ((v: Values) => string[]) | undefined> | undefined)?.[f.key];
    const list = narrow ? f.options.filter((o) => narrow(this.values).includes(o)) : f.options;
    const v = this.values[f.key];
    return typeof v === 'string' && v && !list.includes(v) ? [...list, v] : list;
  }

  /** Fills the form with an entry's keys. */
  load(entry: Record<string, unknown>) {
    const { values, clear } = valuesOf(this.fields, entry);
    this.values = values;
    this.clear = clear;
    this.errors = {};
  }

  /** The entry the form holds, or null when a field is refused (`errors` says why). */
  formEntry(): Record<string, unknown> | null {
    const { entry, errors } = entryOf(this.fields, this.values, this.clear, (k) => this.applies(k));
    this.errors = errors;
    return Object.keys(errors).length ? null : entry;
  }

  /** The body to send: the form's entry, or the JSON text parsed. Throws why it cannot be. */
  body(): unknown {
    if (this.view === 'json') {
      try {
        return JSON.parse(this.json);
      } catch {
        throw new Error('Not valid JSON.');
      }
    }
    const e = this.formEntry();
    if (!e) throw new Error('Some fields need correcting: see the messages beside them.');
    return e;
  }

  /** Shows the Advanced (JSON) view of what the form holds; false when a field is refused. */
  toJson(): boolean {
    const e = this.formEntry();
    if (!e) return false;
    this.json = JSON.stringify(e, null, 2);
    this.view = 'json';
    return true;
  }

  /** Shows the form filled from the JSON text; throws when it is not a JSON object. */
  toForm() {
    let e: unknown;
    try {
      e = JSON.parse(this.json);
    } catch {
      throw new Error('Not valid JSON.');
    }
    if (!e || typeof e !== 'object' || Array.isArray(e)) throw new Error('The JSON must be an object ({…}).');
    this.load(e as Record<string, unknown>);
    this.view = 'form';
  }
}
