// Forms built from JSON Schemas (the server's OpenAPI document, src/api/forms.ts): one field per
// key with the input its type calls for (a select for an enum, numbers, a checkbox, a password
// input for a write-only value, a list, JSON), its help text from the schema's description, and
// the conversions between an entry (JSON) and what the fields hold.

/** The part of JSON Schema the server's document uses for the entries edited in forms. */
export interface Schema {
  type?: string | string[];
  $ref?: string;
  oneOf?: Schema[];
  enum?: string[];
  description?: string;
  default?: unknown;
  examples?: unknown[];
  writeOnly?: boolean;
  minimum?: number;
  format?: string;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
}

/** The inputs: `secret` is a write-only text, `secrets` write-only names and values. */
export type Input = 'text' | 'textarea' | 'integer' | 'number' | 'select' | 'checkbox' | 'list' | 'json' | 'secret' | 'secrets';

export interface Field {
  key: string;
  label: string;
  input: Input;
  required: boolean;
  /** The description (the key's, then its type's), on one line; `code` in backticks. */
  help: string;
  /** A select's choices. */
  options: string[];
  default?: unknown;
  min?: number;
}

/** A name and a value of a `secrets` field. */
export interface Row {
  name: string;
  value: string;
}

/** What a field holds: text (as typed, for every input but these two), a checkbox's state
 * (null: left as the default), rows of names and values (`secrets`). */
export type Value = string | boolean | null | Row[];
export type Values = Record<string, Value>;

/** How one entry type's form is laid out: the keys in order (others follow), keys left out,
 * keys with several lines of text, keys shown only when a predicate on the values holds, and a
 * select's choices as they depend on the values. `K` is the entry type's keys, so that a key
 * the schema no longer has fails the type check. */
export interface Layout<K extends string = string> {
  order: K[];
  hidden?: K[];
  multiline?: K[];
  when?: Partial<Record<K, (v: Values) => boolean>>;
  options?: Partial<Record<K, (v: Values) => string[]>>;
}

const WORDS: Record<string, string> = { id: 'ID', url: 'URL', api: 'API', aws: 'AWS', kb: 'KB', http: 'HTTP' };

/** `base_url` → "Base URL". */
export function labelOf(key: string): string {
  return key
    .split('_')
    .map((w, i) => WORDS[w] ?? (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w))
    .join(' ');
}

const oneLine = (s: string | undefined) => (s ?? '').replace(/\s*\n\s*/g, ' ').trim();
const named = (ref: string) => ref.split('/').pop() ?? '';
const typeOf = (s: Schema) => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);

const BY_TYPE: Record<string, Input> = { boolean: 'checkbox', integer: 'integer', number: 'number', array: 'list', object: 'json' };

/** The input for a key of schema `p` whose type (after a `$ref`) is `target`. */
function inputOf(p: Schema, target: Schema, multiline: boolean): Input {
  const t = typeOf(target) ?? 'string';
  if (p.writeOnly) return t === 'object' ? 'secrets' : 'secret';
  if (target.enum) return 'select';
  return BY_TYPE[t] ?? (multiline ? 'textarea' : 'text');
}

/** A key's field: the schema may be a type, a `$ref`, or `oneOf` a `$ref` (and null). */
function field(key: string, p: Schema, required: boolean, schemas: Record<string, Schema>, multiline: boolean): Field {
  const branch = p.oneOf?.find((b) => b.type !== 'null') ?? p;
  const target = branch.$ref ? (schemas[named(branch.$ref)] ?? {}) : branch;
  const own = oneLine(p.description ?? branch.description);
  // A named type's own description says how to write it (a duration), not what an enum's key is.
  const help = [own, target !== branch && !target.enum ? oneLine(target.description) : ''].filter(Boolean).join(' ');
  const t = typeOf(target);
  const input = inputOf(p, target, multiline);
  const def = p.default ?? branch.default ?? target.default;
  return { key, label: labelOf(key), input, required, help, options: target.enum ?? [], default: def, min: target.minimum };
}

/** The fields of the schema `name`, in the layout's order. */
export function fieldsOf(schemas: Record<string, Schema>, name: string, layout: Layout): Field[] {
  const s = schemas[name] ?? {};
  const props = s.properties ?? {};
  const keys = [...layout.order.filter((k) => k in props), ...Object.keys(props).filter((k) => !layout.order.includes(k))];
  return keys
    .filter((k) => !layout.hidden?.includes(k))
    .map((k) => field(k, props[k], s.required?.includes(k) ?? false, schemas, layout.multiline?.includes(k) ?? false));
}

/** What a field shows of an entry's value. */
function toValue(f: Field, v: unknown): Value {
  switch (f.input) {
    case 'checkbox':
      return typeof v === 'boolean' ? v : null;
    case 'secrets':
      return v && typeof v === 'object' ? Object.entries(v).map(([name, value]) => ({ name, value: String(value) })) : [];
    case 'list':
      return Array.isArray(v) ? v.join(', ') : '';
    case 'json':
      return v === undefined || v === null ? '' : JSON.stringify(v, null, 2);
    case 'select':
      return typeof v === 'string' ? v : !f.required && typeof f.default === 'string' ? f.default : '';
    default:
      return v === undefined || v === null ? '' : String(v);
  }
}

/** The fields' values for an entry (its keys as JSON), and the write-only fields it sends
 * empty (to remove them). */
export function valuesOf(fields: Field[], entry: Record<string, unknown>): { values: Values; clear: string[] } {
  const values = Object.fromEntries(fields.map((f) => [f.key, toValue(f, entry[f.key])]));
  const empty = (v: unknown) => v === '' || v === null || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
  const clear = fields.filter((f) => (f.input === 'secret' || f.input === 'secrets') && f.key in entry && empty(entry[f.key])).map((f) => f.key);
  return { values, clear };
}

/** A value's JSON, or why it is refused. */
function fromValue(f: Field, v: Value, clear: boolean): { value?: unknown; error?: string } {
  if (f.input === 'secret') return clear ? { value: '' } : v ? { value: v } : {};
  if (f.input === 'secrets') {
    if (clear) return { value: {} };
    const rows = (v as Row[]).filter((r) => r.name.trim());
    return rows.length ? { value: Object.fromEntries(rows.map((r) => [r.name.trim(), r.value])) } : {};
  }
  if (f.input === 'checkbox') return v === null ? {} : { value: v };
  const text = f.input === 'textarea' ? (v as string) : (v as string).trim();
  if (text === '') return {};
  switch (f.input) {
    case 'integer':
    case 'number': {
      const n = Number(text);
      if (!Number.isFinite(n) || (f.input === 'integer' && !Number.isInteger(n))) return { error: f.input === 'integer' ? 'Enter a whole number.' : 'Enter a number.' };
      return { value: n };
    }
    case 'list':
      return { value: text.split(/[,\n]/).map((x) => x.trim()).filter(Boolean) };
    case 'json':
      try {
        const o = JSON.parse(text);
        return o && typeof o === 'object' && !Array.isArray(o) ? { value: o } : { error: 'Enter a JSON object ({…}).' };
      } catch {
        return { error: 'Not valid JSON.' };
      }
    default:
      return { value: text };
  }
}

/** The entry the fields hold (the keys `shown`; empty ones left out, write-only ones in
 * `clear` sent empty), or the fields' errors. */
export function entryOf(
  fields: Field[],
  values: Values,
  clear: string[],
  shown: (key: string) => boolean,
): { entry: Record<string, unknown>; errors: Record<string, string> } {
  const entry: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields.filter((f) => shown(f.key))) {
    const r = fromValue(f, values[f.key] ?? toValue(f, undefined), clear.includes(f.key));
    if (r.error) errors[f.key] = r.error;
    else if ('value' in r) entry[f.key] = r.value;
  }
  return { entry, errors };
}

/** The key a refusal names, if it is one of `keys`: the server says `key: why` for a rule
 * of the config file, and "unknown/missing field `key`" for a body it cannot read. */
export function keyOf(message: string, keys: string[]): string | null {
  const m = /^([a-z_]+)(?:[.[][^:]*)?: /.exec(message) ?? /(?:unknown|missing|duplicate) field `([a-z_]+)`/.exec(message);
  return m && keys.includes(m[1]) ? m[1] : null;
}

/** Text with `code` in backticks, in pieces to render. */
export function pieces(text: string): { code: boolean; text: string }[] {
  return text.split('`').map((t, i) => ({ code: i % 2 === 1, text: t })).filter((p) => p.text);
}
