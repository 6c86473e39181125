/**
 * Workflow IDs for a batch, from `--ids a,b,c` or from stdin: one per line or whitespace separated.
 * Blank lines are ignored, and so is a `#` comment: a token starting with `#` and the rest of its line
 * (`run_a  # stuck since the deploy` keeps run_a). A `#` inside an ID is part of the ID.
 * Duplicates are dropped (first occurrence wins): acting twice on one workflow is never the intent.
 * `--ids` passes `/[\s,]+/` as separators; stdin is whitespace-separated only (an ID may hold a comma).
 */
export function parseIds(text: string, separators: RegExp = /\s+/): string[] {
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    for (const token of line.split(separators)) {
      if (token === '') continue;
      if (token.startsWith('#')) break;
      if (seen.has(token)) continue;
      seen.add(token);
      ids.push(token);
    }
  }
  return ids;
}

/** Reads all of stdin as text (the IDs piped into a batch command). */
export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
