// The catalog (models and assistants) as the admin API shows it, for the console's catalog and
// prompts tabs: the two lists, and what the replacement of an entry sends back.
import { get } from './api';

/** The models and assistants as last loaded; one for the tabs that show them. */
export class Entries {
  models = $state<any[]>([]);
  assistants = $state<any[]>([]);

  async load(): Promise<void> {
    this.models = await get<any[]>('/v1/admin/models');
    this.assistants = await get<any[]>('/v1/admin/assistants');
  }
}

// The view's own fields (where it comes from, the names of its secrets, who changed it when)
// are not configuration keys: the server refuses them on PUT.
const VIEW_ONLY = new Set(['source', 'secrets', 'updatedAt', 'updatedBy', 'version']);

/** An entry's configuration keys: the entry as shown, without the view's own fields. */
export const entryKeys = (entry: Record<string, unknown>) => Object.fromEntries(Object.entries(entry).filter(([k]) => !VIEW_ONLY.has(k)));

// A replacement is conditional on the version read: another administrator's change made in
// between is refused (412), not silently overwritten.
export const ifMatch = (version: unknown) => (typeof version === 'number' ? { headers: { 'if-match': `"${version}"` } } : {});
