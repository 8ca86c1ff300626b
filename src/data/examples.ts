// Records → typed training examples: classification ({text, label} or {text_a, text_b, label}) and
// causal LM ({text}, {prompt, completion} or {messages}). Field names are the datasets' wire names;
// past this module the code uses its own (textPair, ...). Pure: no file system.
import { DataProblems, Rank, describeType, type ProblemRank } from './problems.js';
import type { RawRecord } from './read.js';

export interface ClassificationExample {
  readonly text: string;
  readonly textPair?: string;
  readonly label: number; // index into the label set (the training file's, or the trained model's)
  readonly line: number;
}

/** A classification record before its label is mapped to an index. */
export interface LabelledText {
  readonly text: string;
  readonly textPair?: string;
  readonly label: string; // integers in the file become their decimal string
  readonly line: number;
}

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export type CausalLmExample =
  | { readonly kind: 'text'; readonly text: string; readonly line: number }
  | { readonly kind: 'prompt'; readonly prompt: string; readonly completion: string; readonly line: number }
  | { readonly kind: 'chat'; readonly messages: readonly ChatMessage[]; readonly line: number };

/** Reads the classification fields of each record; bad records go to `problems` and are left out. */
export function toLabelledTexts(records: readonly RawRecord[], problems: DataProblems): LabelledText[] {
  const out: LabelledText[] = [];
  for (const { line, fields } of records) {
    const check = new FieldCheck(problems, line, fields);
    const pair = 'text_a' in fields;
    const text = check.text(pair ? 'text_a' : 'text');
    const textPair = pair ? check.text('text_b') : undefined;
    const label = check.label('label');
    if (text === undefined || label === undefined || (pair && textPair === undefined)) continue;
    out.push(pair ? { text, textPair, label, line } : { text, label, line });
  }
  return out;
}

/** Reads the causal-LM fields of each record: "messages" wins over "prompt"/"completion", which win over "text". */
export function toCausalLmExamples(records: readonly RawRecord[], problems: DataProblems): CausalLmExample[] {
  const out: CausalLmExample[] = [];
  for (const { line, fields } of records) {
    const check = new FieldCheck(problems, line, fields);
    if ('messages' in fields) {
      const messages = check.messages('messages');
      if (messages) out.push({ kind: 'chat', messages, line });
    } else if ('prompt' in fields || 'completion' in fields) {
      const prompt = check.text('prompt');
      const completion = check.text('completion');
      if (prompt !== undefined && completion !== undefined) out.push({ kind: 'prompt', prompt, completion, line });
    } else if ('text' in fields) {
      const text = check.text('text');
      if (text !== undefined) out.push({ kind: 'text', text, line });
    } else {
      problems.add({
        line,
        message: 'record needs a "text" field, "prompt" and "completion" fields, or a "messages" field',
        hint: fieldList(fields),
        rank: Rank.field,
      });
    }
  }
  return out;
}

/** Field checks for one record; each returns undefined after reporting a problem. */
class FieldCheck {
  constructor(
    private readonly problems: DataProblems,
    private readonly line: number,
    private readonly fields: Readonly<Record<string, unknown>>,
  ) {}

  private report(field: string, message: string, rank: ProblemRank, hint?: string): undefined {
    this.problems.add({ line: this.line, field, message: `field "${field}" ${message}`, hint, rank });
    return undefined;
  }

  private present(field: string): boolean {
    if (field in this.fields) return true;
    this.report(field, 'is missing', Rank.field, fieldList(this.fields));
    return false;
  }

  /** A non-empty string. */
  text(field: string): string | undefined {
    if (!this.present(field)) return undefined;
    const value = this.fields[field];
    if (typeof value !== 'string') return this.report(field, `must be a string, got ${describeType(value)}`, Rank.field);
    if (value.trim() === '') return this.report(field, 'is empty', Rank.value);
    return value;
  }

  /** A non-empty string or an integer, as a string. */
  label(field: string): string | undefined {
    if (!this.present(field)) return undefined;
    const value = this.fields[field];
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    if (typeof value === 'string' && value.trim() !== '') return value;
    const got = typeof value === 'number' ? String(value) : typeof value === 'string' ? 'an empty string' : describeType(value);
    return this.report(field, `must be a string or an integer, got ${got}`, Rank.field);
  }

  /** A non-empty array of {role, content} with a known role and at least one assistant turn. */
  messages(field: string): ChatMessage[] | undefined {
    const value = this.fields[field];
    if (!Array.isArray(value)) return this.report(field, `must be an array of {role, content}, got ${describeType(value)}`, Rank.field);
    const messages: ChatMessage[] = [];
    value.forEach((m: unknown, k: number) => {
      const name = `${field}[${k}]`;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) return this.report(name, `must be an object {role, content}, got ${describeType(m)}`, Rank.field);
      const { role, content } = m as Record<string, unknown>;
      if (typeof role !== 'string') return this.report(`${name}.role`, `must be a string, got ${describeType(role)}`, Rank.field);
      if (!(CHAT_ROLES as readonly string[]).includes(role)) return this.report(`${name}.role`, `has unknown role "${role}"`, Rank.value, `expected one of ${CHAT_ROLES.join(', ')}`);
      if (typeof content !== 'string') return this.report(`${name}.content`, `must be a string, got ${describeType(content)}`, Rank.field);
      if (role === 'assistant' && content.trim() === '') return this.report(`${name}.content`, 'is empty', Rank.value);
      messages.push({ role: role as ChatRole, content });
    });
    if (messages.length !== value.length) return undefined;
    if (!messages.some((m) => m.role === 'assistant')) return this.report(field, 'has no assistant message, so nothing would be trained on', Rank.value);
    return messages;
  }
}

function fieldList(fields: Readonly<Record<string, unknown>>): string {
  const names = Object.keys(fields);
  return names.length === 0 ? 'the record has no fields' : `the record has: ${names.join(', ')}`;
}

/**
 * Labels written both as a number and as a string in one file (`1` and `"1"`), each named with the
 * lines it takes both forms on. Past `toLabelledTexts` labels are strings, so the two become one
 * class (usually what a file exported with mixed types means); the caller says so rather than
 * merging them silently.
 */
export function mixedLabelTypes(records: readonly RawRecord[]): string[] {
  const first = new Map<string, { number?: number; string?: number }>();
  for (const { line, fields } of records) {
    const v = fields.label;
    if (!(typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v)))) continue;
    const seen = first.get(String(v)) ?? {};
    seen[typeof v === 'number' ? 'number' : 'string'] ??= line;
    first.set(String(v), seen);
  }
  return [...first]
    .filter(([, s]) => s.number !== undefined && s.string !== undefined)
    .map(([label, s]) => `label ${label} is written as the number ${label} (line ${s.number}) and as the string ${JSON.stringify(label)} (line ${s.string}); both are taken as one class`);
}

/** The lines of causal-LM records that carry a "label" field, which language modelling does not train on. */
export function labelledLines(records: readonly RawRecord[]): number[] {
  return records.filter((r) => 'label' in r.fields).map((r) => r.line);
}

/**
 * The label set of a training file: sorted numerically when every label is an integer, else
 * lexicographically (by UTF-16 code unit, so the order does not depend on the locale).
 */
export function labelSet(examples: readonly LabelledText[]): string[] {
  const labels = [...new Set(examples.map((e) => e.label))];
  if (labels.every((l) => /^[+-]?\d+$/.test(l))) return labels.sort((a, b) => Number(a) - Number(b));
  return labels.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Where a label set came from, named when a label lies outside it. */
export interface LabelOrigin {
  /** Ends "does not occur in …": "the training file data/train.jsonl". */
  readonly description: string;
  /** Names the list in the hint "(… : neg, pos)": "training labels", "run.json in runs/a". */
  readonly listedAs: string;
}

/** The label set of a training file. */
export function trainingFileLabels(path: string): LabelOrigin {
  return { description: `the training file ${path}`, listedAs: 'training labels' };
}

/**
 * Maps labels to indices in `labels`. A label outside the set is a problem naming the line, the
 * label and where the set came from, never a silent drop.
 */
export function indexLabels(
  examples: readonly LabelledText[],
  labels: readonly string[],
  problems: DataProblems,
  origin: LabelOrigin,
): ClassificationExample[] {
  const index = new Map(labels.map((l, i) => [l, i]));
  const out: ClassificationExample[] = [];
  for (const e of examples) {
    const label = index.get(e.label);
    if (label === undefined) {
      const shown = labels.length <= 20 ? labels.join(', ') : `${labels.slice(0, 20).join(', ')}, ...`;
      problems.add({ line: e.line, field: 'label', message: `label "${e.label}" does not occur in ${origin.description}`, hint: `${origin.listedAs}: ${shown}`, rank: Rank.labels });
      continue;
    }
    out.push(e.textPair === undefined ? { text: e.text, label, line: e.line } : { text: e.text, textPair: e.textPair, label, line: e.line });
  }
  return out;
}
