// The error text for tensors that do not fit a model (a checkpoint folder, an adapter file): a
// header naming the file, then each kind of mismatch with one tensor per line. A checkpoint of
// another architecture mismatches hundreds of tensors, so each kind is cut off after a few.

/** Tensors listed per kind; the rest are counted. */
export const MAX_LISTED = 10;

/**
 * `header`, then for each non-empty kind `  kind N:` and its first MAX_LISTED entries indented,
 * followed by `    … and M more` when there are more.
 *
 * @example
 *   mismatchMessage('checkpoint in m/ does not fit GPT2LMHeadModel:', { missing: ['h.0.ln_1.bias'] })
 *   // 'checkpoint in m/ does not fit GPT2LMHeadModel:\n  missing 1:\n    h.0.ln_1.bias'
 */
export function mismatchMessage(header: string, kinds: Readonly<Record<string, readonly string[]>>): string {
  const lines = [header];
  for (const [kind, entries] of Object.entries(kinds)) {
    if (entries.length === 0) continue;
    lines.push(`  ${kind} ${entries.length}:`);
    for (const entry of entries.slice(0, MAX_LISTED)) lines.push(`    ${entry}`);
    if (entries.length > MAX_LISTED) lines.push(`    … and ${entries.length - MAX_LISTED} more`);
  }
  return lines.join('\n');
}
