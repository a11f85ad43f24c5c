// A meeting's summary as the page shows it: the API's view, whether it is being written (the
// page polls then), and the whole summary as one Markdown text (what "Copy" copies).

import type { components } from '../api/schema';

export type SummaryView = components['schemas']['SummaryView'];
export type SummarySection = components['schemas']['SummarySection'];

/** Asked for and not done yet. */
export const inProgress = (s: SummaryView | null): boolean => s?.status === 'pending' || s?.status === 'running';

/** The summary as one Markdown document: a heading, then each section under its title. */
export function summaryMarkdown(title: string, v: SummaryView): string {
  const parts = v.sections.map((s) => `## ${s.title}\n\n${s.markdown.trim()}`);
  const note = v.extractive ? '\n\n_Extractive summary: sentences picked from the transcript._' : '';
  return `# ${title}${note}\n\n${parts.join('\n\n')}\n`;
}

/** How long after a meeting ends its summary may still be about to be asked for (the page
 * polls through a "none" that is only the moment before). */
export const JUST_ENDED_MS = 30_000;

/** Whether to read the summary again soon. */
export function shouldPoll(v: SummaryView | null, endedAt: string | null | undefined, now: number): boolean {
  if (inProgress(v)) return true;
  return v?.status === 'none' && !!endedAt && now - Date.parse(endedAt) < JUST_ENDED_MS;
}
