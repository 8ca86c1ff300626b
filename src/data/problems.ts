// Collects what is wrong with a dataset file so that one run reports every problem worth fixing,
// each naming the file, the line and the field, instead of stopping at the first bad record.

/**
 * How fundamental a problem is; lower ranks are shown first because fixing them often fixes the
 * rest (a record that is not valid JSON cannot be checked for a missing "label").
 */
export const Rank = {
  structure: 0, // unreadable: invalid JSON, unterminated CSV quote, wrong column count, not an object
  field: 1, // a field is missing or has the wrong type
  value: 2, // a field has a bad value: empty text, unknown role
  labels: 3, // the label set: eval labels that training lacks
} as const;
export type ProblemRank = (typeof Rank)[keyof typeof Rank];

export interface DataProblem {
  readonly line?: number; // 1-based line where the record starts; undefined for whole-file problems
  readonly field?: string; // e.g. "label" or "messages[2].role"
  readonly message: string; // says what is wrong without the line, so repeats can be grouped
  readonly hint?: string; // record-specific help, e.g. the fields the record does have
  readonly rank: ProblemRank;
}

/** Thrown for a dataset with problems; `problems` keeps them for programs, `message` for people. */
export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly DataProblem[],
    message: string,
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** Problems are grouped by message; this many groups are printed, the rest are counted. */
export const MAX_REPORTED_PROBLEMS = 10;
const LINES_PER_GROUP = 5;

export class DataProblems {
  private readonly list: DataProblem[] = [];

  constructor(readonly file: string) {}

  add(problem: DataProblem): void {
    this.list.push(problem);
  }

  get count(): number {
    return this.list.length;
  }

  /** Throws a DatasetError describing every problem so far; does nothing when there are none. */
  throwIfAny(): void {
    if (this.list.length > 0) throw new DatasetError(this.file, [...this.list], formatProblems(this.file, this.list));
  }
}

/**
 * One line per kind of problem, most fundamental first, then by first line:
 *   data/train.jsonl has 41 problems:
 *     data/train.jsonl line 4: invalid JSON (Unexpected token ...)
 *     data/train.jsonl lines 7, 8, 9, 10, 11 and 35 more: field "label" is missing (the record has: text, labels)
 */
export function formatProblems(file: string, problems: readonly DataProblem[]): string {
  const groups = new Map<string, DataProblem[]>();
  for (const p of problems) {
    const key = `${p.rank}\u0000${p.message}`;
    const group = groups.get(key);
    if (group) group.push(p);
    else groups.set(key, [p]);
  }
  const ordered = [...groups.values()].sort((a, b) => a[0].rank - b[0].rank || firstLine(a) - firstLine(b));
  const lines = ordered.slice(0, MAX_REPORTED_PROBLEMS).map((group) => formatGroup(file, group));
  if (ordered.length > MAX_REPORTED_PROBLEMS) {
    const rest = ordered.slice(MAX_REPORTED_PROBLEMS).reduce((n, g) => n + g.length, 0);
    lines.push(`... and ${rest} more problem${rest === 1 ? '' : 's'} of ${ordered.length - MAX_REPORTED_PROBLEMS} other kinds`);
  }
  if (problems.length === 1) return lines[0];
  return `${file} has ${problems.length} problems:\n  ${lines.join('\n  ')}`;
}

function firstLine(group: readonly DataProblem[]): number {
  return group[0].line ?? 0;
}

function formatGroup(file: string, group: readonly DataProblem[]): string {
  const { message, hint } = group[0];
  const numbered = group.filter((p) => p.line !== undefined).map((p) => p.line as number);
  let where = file;
  if (numbered.length === 1) where = `${file} line ${numbered[0]}`;
  else if (numbered.length > 1) {
    const shown = numbered.slice(0, LINES_PER_GROUP).join(', ');
    const more = numbered.length - LINES_PER_GROUP;
    where = `${file} lines ${shown}${more > 0 ? ` and ${more} more` : ''}`;
  }
  return `${where}: ${message}${hint ? ` (${hint})` : ''}`;
}

/** "a number", "null", "an array": for "must be a string, got ..." messages. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
