// Dataset text → records with the line each starts on. JSONL, JSON (a top-level array) and CSV
// (RFC 4180). Pure: takes the file's text, so the browser can use it too; `data.ts` reads files.
import { DataProblems, DatasetError, Rank, describeType } from './problems.js';

export type DataFormat = 'jsonl' | 'json' | 'csv';

/** One record of a dataset file; `fields` holds the parsed object (CSV: header → cell text). */
export interface RawRecord {
  readonly line: number; // 1-based line on which the record starts
  readonly fields: Readonly<Record<string, unknown>>;
}

const FORMAT_BY_EXTENSION: Readonly<Record<string, DataFormat>> = { '.jsonl': 'jsonl', '.json': 'json', '.csv': 'csv' };

/** The format a path's extension names; any other extension is an error that names it. */
export function formatFromPath(path: string): DataFormat {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot).toLowerCase() : '';
  const format = FORMAT_BY_EXTENSION[ext];
  if (format === undefined) {
    const known = Object.keys(FORMAT_BY_EXTENSION).join(', ');
    throw new DatasetError(path, [], `${path}: unknown dataset extension ${ext ? `"${ext}"` : '(none)'}; expected one of ${known}`);
  }
  return format;
}

/**
 * A dataset file's bytes as text. Bytes that are not UTF-8 are an error naming the file, the byte
 * offset and its line, rather than being replaced with U+FFFD and trained on.
 *
 * @example
 *   const text = decodeDatasetBytes(readFileSync('train.jsonl'), 'train.jsonl');
 */
export function decodeDatasetBytes(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line += 1;
    const shown = Array.from(bytes.subarray(at, at + 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DatasetError(file, [], `${file}: byte ${at} (line ${line}) is not valid UTF-8 (bytes ${shown}); save the file as UTF-8`);
  }
}

/** Offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode 15, table 3-7). */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    if (c < 0x80) {
      i += 1;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0) return i;
    const c1 = b[i + 1];
    const low = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80; // no overlong forms
    const high = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf; // no surrogates, nothing past U+10FFFF
    if (c1 === undefined || c1 < low || c1 > high) return i;
    for (let k = 2; k <= n; k++) if (b[i + k] === undefined || (b[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return b.length;
}

/**
 * Parses a dataset file's text into records, adding every unreadable record to `problems`.
 *
 * @example
 *   const problems = new DataProblems('train.jsonl');
 *   const records = parseRecords('{"text":"hi","label":1}\n', 'jsonl', problems); // [{line: 1, fields: {...}}]
 */
export function parseRecords(text: string, format: DataFormat, problems: DataProblems): RawRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a UTF-8 byte-order mark is not data
  if (format === 'jsonl') return parseJsonl(text, problems);
  if (format === 'json') return parseJsonArray(text, problems);
  return parseCsv(text, problems);
}

function parseJsonl(text: string, problems: DataProblems): RawRecord[] {
  const records: RawRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const source = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (source.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (e) {
      problems.add({ line: i + 1, message: 'invalid JSON', hint: (e as Error).message, rank: Rank.structure });
      continue;
    }
    if (!isPlainObject(value)) {
      problems.add({ line: i + 1, message: `record must be a JSON object, got ${describeType(value)}`, rank: Rank.structure });
      continue;
    }
    records.push({ line: i + 1, fields: value });
  }
  return records;
}

function parseJsonArray(text: string, problems: DataProblems): RawRecord[] {
  const spans = arrayElementSpans(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // Parse the elements one by one so each broken one is reported on its own line, as in JSONL.
    if (spans === undefined) problems.add({ message: 'invalid JSON', hint: (e as Error).message, rank: Rank.structure });
    else return parseElements(text, spans, problems, (e as Error).message);
    return [];
  }
  if (!Array.isArray(value) || spans === undefined) {
    const hint = isPlainObject(value) ? 'use .jsonl for one record per line' : undefined;
    problems.add({ line: 1, message: `a .json dataset must be a top-level array of records, got ${describeType(value)}`, hint, rank: Rank.structure });
    return [];
  }
  const records: RawRecord[] = [];
  value.forEach((element: unknown, k: number) => {
    const line = lineAt(text, spans[k].start);
    if (isPlainObject(element)) records.push({ line, fields: element });
    else problems.add({ line, message: `array element ${k} (counting from 0) must be an object, got ${describeType(element)}`, rank: Rank.structure });
  });
  return records;
}

/** The records of an array that JSON.parse refused, element by element; every broken one is a problem. */
function parseElements(text: string, spans: readonly Span[], problems: DataProblems, wholeFileError: string): RawRecord[] {
  const before = problems.count;
  const records: RawRecord[] = [];
  spans.forEach(({ start, end }, k) => {
    const line = lineAt(text, start);
    const source = text.slice(start, end);
    if (source.trim() === '') {
      problems.add({ line, message: `array element ${k} (counting from 0) is empty`, hint: 'a trailing or doubled comma?', rank: Rank.structure });
      return;
    }
    let element: unknown;
    try {
      element = JSON.parse(source);
    } catch (e) {
      problems.add({ line, message: `invalid JSON in array element ${k} (counting from 0)`, hint: (e as Error).message, rank: Rank.structure });
      return;
    }
    if (isPlainObject(element)) records.push({ line, fields: element });
    else problems.add({ line, message: `array element ${k} (counting from 0) must be an object, got ${describeType(element)}`, rank: Rank.structure });
  });
  // Every element parses alone, so the array around them is broken (e.g. no closing bracket).
  if (problems.count === before) problems.add({ message: 'invalid JSON', hint: wholeFileError, rank: Rank.structure });
  return records;
}

interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * Where each element of a top-level JSON array starts and ends (end excludes the following comma
 * or bracket); undefined when the text does not start with "[". Tolerant of broken JSON: it tracks
 * only strings and nesting depth, so a broken element still gets its own span.
 */
export function arrayElementSpans(text: string): Span[] | undefined {
  let i = 0;
  while (i < text.length && isSpace(text[i])) i++;
  if (text[i] !== '[') return undefined;
  const spans: Span[] = [];
  let depth = 0;
  let start = -1;
  let sawComma = false;
  const close = (end: number): void => {
    spans.push({ start: start < 0 ? end : start, end });
    start = -1;
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (depth === 1 && start < 0 && !isSpace(c) && c !== ',' && c !== ']') start = i;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        if (start >= 0 || sawComma) close(i);
        return spans;
      }
    } else if (c === ',' && depth === 1) {
      sawComma = true;
      close(i);
    }
  }
  if (start >= 0) close(text.length); // no closing bracket
  return spans;
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\n' || c === '\r' || c === '\t';
}

/** 1-based line number of a character offset. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface CsvRow {
  readonly line: number;
  readonly cells: string[];
}

/** CSV with a required header row; each row becomes a record keyed by the (trimmed) header names. */
function parseCsv(text: string, problems: DataProblems): RawRecord[] {
  const rows = parseCsvRows(text, problems);
  if (rows.length === 0) return [];
  const [header, ...body] = rows;
  const names = header.cells.map((name) => name.trim());
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) problems.add({ line: header.line, message: `header names column "${name}" twice`, rank: Rank.structure });
    seen.add(name);
  }
  const records: RawRecord[] = [];
  for (const row of body) {
    if (row.cells.length !== names.length) {
      problems.add({
        line: row.line,
        message: `row has ${row.cells.length} column${row.cells.length === 1 ? '' : 's'}, the header has ${names.length}`,
        hint: 'a field containing commas or line breaks must be in double quotes',
        rank: Rank.structure,
      });
      continue;
    }
    const fields: Record<string, string> = {};
    names.forEach((name, j) => (fields[name] = row.cells[j]));
    records.push({ line: row.line, fields });
  }
  return records;
}

const QUOTE_HINT = 'a quote inside a quoted field is written ""';

function isCsvDelimiter(c: string): boolean {
  return c === ',' || c === '\n' || c === '\r';
}

/** The quoted field whose opening quote is at `start`: its value and the index after the closing quote; undefined if never closed. */
function readQuoted(text: string, start: number): { value: string; end: number; newlines: number } | undefined {
  let value = '';
  let newlines = 0;
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c !== '"') {
      if (c === '\n') newlines++;
      value += c;
    } else if (text[i + 1] === '"') {
      value += '"';
      i++;
    } else return { value, end: i + 1, newlines };
  }
  return undefined;
}

/**
 * RFC 4180 rows: fields separated by commas, rows by CRLF (LF and lone CR are accepted too), a field
 * in double quotes may contain commas, line breaks and "" for a quote. Blank lines are skipped.
 * A quote inside an unquoted field is kept literally (as Python's csv module does).
 */
export function parseCsvRows(text: string, problems: DataProblems): CsvRow[] {
  const rows: CsvRow[] = [];
  let line = 1; // current physical line
  let rowLine = 1; // line the current row started on
  let cells: string[] = [];
  let cell = '';
  let i = 0;
  const endRow = (): void => {
    cells.push(cell);
    if (!(cells.length === 1 && cells[0] === '')) rows.push({ line: rowLine, cells });
    cells = [];
    cell = '';
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"' && cell === '') {
      const quoted = readQuoted(text, i);
      if (quoted === undefined) {
        problems.add({ line, message: 'quoted field is never closed', hint: QUOTE_HINT, rank: Rank.structure });
        return rows;
      }
      cell = quoted.value;
      line += quoted.newlines;
      i = quoted.end;
      if (i < text.length && !isCsvDelimiter(text[i])) {
        problems.add({ line, message: `unexpected character "${text[i]}" after a closing quote`, hint: QUOTE_HINT, rank: Rank.structure });
        while (i < text.length && !isCsvDelimiter(text[i])) cell += text[i++];
      }
      continue;
    }
    if (c === ',') {
      cells.push(cell);
      cell = '';
      i++;
    } else if (c === '\n' || c === '\r') {
      endRow();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      rowLine = line;
    } else {
      cell += c;
      i++;
    }
  }
  if (cells.length > 0 || cell !== '') endRow();
  return rows;
}
