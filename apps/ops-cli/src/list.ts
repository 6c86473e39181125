import type { ListWorkflowsQuery, WorkflowSummary } from '#contracts';
import type { OpsService } from '#control-plane';
import type { Io } from './io.js';

export const LIST_FORMATS = ['ids', 'json', 'table'] as const;
export type ListFormat = (typeof LIST_FORMATS)[number];

export interface ListResult {
  readonly items: WorkflowSummary[];
  /** True when more matched than `max`. */
  readonly truncated: boolean;
}

/** Pages through OpsService.list with its keyset cursor until the end or `max` items. */
export async function listAll(ops: OpsService, query: Omit<ListWorkflowsQuery, 'cursor'>, max: number): Promise<ListResult> {
  const items: WorkflowSummary[] = [];
  let cursor: string | null = null;
  do {
    const page = await ops.list({ ...query, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return { items: items.slice(0, max), truncated: items.length > max || cursor !== null };
}

const COLUMNS = [
  ['workflowID', (w: WorkflowSummary) => w.workflowID],
  ['status', (w: WorkflowSummary) => w.status],
  ['name', (w: WorkflowSummary) => w.name],
  ['queue', (w: WorkflowSummary) => w.queue ?? '-'],
  ['createdAt', (w: WorkflowSummary) => w.createdAt],
  ['appVersion', (w: WorkflowSummary) => w.appVersion ?? '-'],
] as const;

/** Aligned columns: workflowID, status, name, queue, createdAt, appVersion. */
export function formatTable(items: readonly WorkflowSummary[]): string[] {
  const rows = [COLUMNS.map(([title]) => title as string), ...items.map((item) => COLUMNS.map(([, cell]) => cell(item)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

export function printList(io: Io, result: ListResult, format: ListFormat, max: number): void {
  switch (format) {
    case 'ids':
      for (const item of result.items) io.out(item.workflowID);
      break;
    case 'json':
      io.out(JSON.stringify(result.items, null, 2));
      break;
    case 'table':
      if (result.items.length === 0) io.out('(no workflows match)');
      else for (const line of formatTable(result.items)) io.out(line);
      break;
  }
  if (result.truncated) io.err(`showing the first ${max} workflows; more match (raise --max)`);
  else if (format === 'table' && result.items.length > 0) io.err(`${result.items.length} workflow${result.items.length === 1 ? '' : 's'}`);
}
