import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, decodeDatasetBytes, loadCausalLmData, loadClassificationData } from './files.js';

const dir = mkdtempSync(join(tmpdir(), 'lorapro-data-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const jsonl = (records: unknown[]): string => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** The DatasetError a call throws (fails the test when it does not throw one). */
function datasetError(fn: () => unknown): DatasetError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DatasetError) return e;
    throw e;
  }
  assert.fail('expected a DatasetError');
}

test('classification: the label set comes from training, sorted numerically when all are integers', () => {
  // Integer labels 10, 2, 1 (one written as a string, as CSV would) → numeric order 1, 2, 10, not "1", "10", "2".
  const train = file('num.jsonl', jsonl([{ text: 'a', label: 10 }, { text: 'b', label: '2' }, { text: 'c', label: 1 }, { text: 'd', label: 2 }]));
  const evalPath = file('num-eval.jsonl', jsonl([{ text: 'e', label: '10' }, { text: 'f', label: 1 }]));
  const data = loadClassificationData(train, evalPath, { seed: 0 });
  assert.deepEqual(data.labels, ['1', '2', '10']);
  assert.deepEqual(data.train.map((e) => [e.text, e.label, e.line]), [['a', 2, 1], ['b', 1, 2], ['c', 0, 3], ['d', 1, 4]]);
  assert.deepEqual(data.eval.map((e) => [e.text, e.label, e.line]), [['e', 2, 1], ['f', 0, 2]]);

  const words = file('words.csv', 'text,label\nx,neg\ny,Pos\nz,pos\nw,neg\n');
  // Code-unit order: "Pos" < "neg" < "pos" (uppercase sorts first).
  assert.deepEqual(loadClassificationData(words, words, { seed: 0 }).labels, ['Pos', 'neg', 'pos']);
});

test('classification: text pairs become textPair', () => {
  const train = file('pairs.json', JSON.stringify([{ text_a: 'p', text_b: 'h', label: 'entailment' }, { text_a: 'q', text_b: 'i', label: 'contradiction' }]));
  const data = loadClassificationData(train, train, { seed: 0 });
  assert.deepEqual(data.eval[0], { text: 'p', textPair: 'h', label: 1, line: 1 });
});

test('an eval label that training lacks is an error naming the eval file, line and label', () => {
  const train = file('t.jsonl', jsonl([{ text: 'a', label: 'neg' }, { text: 'b', label: 'pos' }]));
  const evalPath = file('e.jsonl', jsonl([{ text: 'c', label: 'pos' }, { text: 'd', label: 'neutral' }]));
  const error = datasetError(() => loadClassificationData(train, evalPath, { seed: 0 }));
  assert.equal(error.file, evalPath);
  assert.equal(error.message, `${evalPath} line 2: label "neutral" does not occur in the training file ${train} (training labels: neg, pos)`);
});

test('every malformed record is reported with file, line and field, most fundamental first', () => {
  const path = file(
    'bad.jsonl',
    [
      '{"text": "ok", "label": 1}',
      '{"text": "no label", "labels": 1}',
      '{"text": 5, "label": 1}',
      '{"text": "  ", "label": 0}',
      'not json',
      '{"text": "x", "label": 1.5}',
      '{"text": "y", "labels": 0}',
      '{"text_a": "z", "label": 0}',
    ].join('\n'),
  );
  const error = datasetError(() => loadClassificationData(path, undefined, { seed: 0 }));
  assert.equal(
    error.message,
    [
      `${path} has 7 problems:`,
      `  ${path} line 5: invalid JSON (${error.problems.find((p) => p.line === 5)!.hint})`,
      `  ${path} lines 2, 7: field "label" is missing (the record has: text, labels)`,
      `  ${path} line 3: field "text" must be a string, got a number`,
      `  ${path} line 6: field "label" must be a string or an integer, got 1.5`,
      `  ${path} line 8: field "text_b" is missing (the record has: text_a, label)`,
      `  ${path} line 4: field "text" is empty`,
    ].join('\n'),
  );
  assert.deepEqual(
    error.problems.filter((p) => p.field).map((p) => [p.line, p.field]),
    [[2, 'label'], [3, 'text'], [4, 'text'], [6, 'label'], [7, 'label'], [8, 'text_b']],
  );
});

test('at most ten kinds of problem are listed; the rest are counted', () => {
  // 12 records, each with a different bad label type → 12 distinct messages.
  const records = Array.from({ length: 12 }, (_, i) => ({ text: 't', label: 0.5 + i }));
  const path = file('many.jsonl', jsonl(records));
  const error = datasetError(() => loadClassificationData(path, undefined, { seed: 0 }));
  const lines = error.message.split('\n');
  assert.equal(lines[0], `${path} has 12 problems:`);
  assert.equal(lines.length, 1 + 10 + 1);
  assert.equal(lines[11], '  ... and 2 more problems of 2 other kinds');
  assert.equal(error.problems.length, 12);
});

test('empty files, missing files, one-label training sets and unknown extensions are refused by name', () => {
  const empty = file('empty.jsonl', '\n\n');
  assert.throws(() => loadClassificationData(empty, undefined, { seed: 0 }), new RegExp(`^DatasetError: ${empty}: the dataset has no records$`));
  const headerOnly = file('header.csv', 'text,label\r\n');
  assert.throws(() => loadCausalLmData(headerOnly), /header\.csv: the dataset has no records/);
  assert.throws(() => loadCausalLmData(join(dir, 'missing.jsonl')), /missing\.jsonl: cannot read the dataset file \(ENOENT/);
  const one = file('one.jsonl', jsonl([{ text: 'a', label: 'x' }, { text: 'b', label: 'x' }]));
  assert.throws(() => loadClassificationData(one, undefined, { seed: 0 }), /one\.jsonl: classification needs at least two labels in field "label", found only "x"/);
  assert.throws(() => loadCausalLmData(file('x.parquet', '')), /x\.parquet: unknown dataset extension "\.parquet"/);
  assert.equal(loadCausalLmData(file('x.txt', '{"text":"a"}\n'), { format: 'jsonl' }).length, 1);
});

test('without an eval file the split is seeded, stratified and repeatable', () => {
  // 40 "a", 20 "b"; 10% → 6 held out: 4 a and 2 b.
  const records = Array.from({ length: 60 }, (_, i) => ({ text: `t${i}`, label: i % 3 === 2 ? 'b' : 'a' }));
  const path = file('split.jsonl', jsonl(records));
  const first = loadClassificationData(path, undefined, { seed: 3 });
  assert.deepEqual(loadClassificationData(path, undefined, { seed: 3 }), first);
  assert.equal(first.eval.length, 6);
  assert.deepEqual([0, 1].map((l) => first.eval.filter((e) => e.label === l).length), [4, 2]);
  assert.notDeepEqual(loadClassificationData(path, undefined, { seed: 4 }).eval, first.eval);
  assert.throws(() => loadClassificationData(path, undefined, { seed: 3, validationFraction: -0.1 }), /validationFraction must be a number in \[0, 1\), got -0.1/);
});

test('causal LM: text, prompt/completion and chat records, with their lines', () => {
  const path = file(
    'lm.jsonl',
    jsonl([
      { text: 'plain' },
      { prompt: 'Q', completion: 'A', text: 'ignored' },
      { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }], prompt: 'ignored' },
    ]),
  );
  assert.deepEqual(loadCausalLmData(path), [
    { kind: 'text', text: 'plain', line: 1 },
    { kind: 'prompt', prompt: 'Q', completion: 'A', line: 2 },
    { kind: 'chat', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }], line: 3 },
  ]);
});

test('causal LM problems: unknown role, no assistant turn, missing completion, unrecognised record', () => {
  const path = file(
    'lm-bad.jsonl',
    jsonl([
      { messages: [{ role: 'human', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
      { messages: [{ role: 'user', content: 'hi' }] },
      { prompt: 'Q' },
      { input: 'x', output: 'y' },
      { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 3 }] },
      { messages: 'hi' },
    ]),
  );
  const error = datasetError(() => loadCausalLmData(path));
  const byLine = new Map(error.problems.map((p) => [p.line, p]));
  assert.equal(error.problems.length, 6);
  assert.equal(byLine.get(1)!.field, 'messages[0].role');
  assert.match(error.message, /line 1: field "messages\[0\]\.role" has unknown role "human" \(expected one of system, user, assistant\)/);
  assert.match(error.message, /line 2: field "messages" has no assistant message/);
  assert.match(error.message, /line 3: field "completion" is missing \(the record has: prompt\)/);
  assert.match(error.message, /line 4: record needs a "text" field, "prompt" and "completion" fields, or a "messages" field \(the record has: input, output\)/);
  assert.match(error.message, /line 5: field "messages\[1\]\.content" must be a string, got a number/);
  assert.match(error.message, /line 6: field "messages" must be an array of \{role, content\}, got a string/);
});

test('labels 1 and "1" in one file are one class, and a warning names both lines', () => {
  const warnings: string[] = [];
  const path = file('mixed.jsonl', jsonl([{ text: 'a', label: 1 }, { text: 'b', label: 0 }, { text: 'c', label: '1' }, { text: 'd', label: '1' }]));
  const data = loadClassificationData(path, undefined, { seed: 0, onWarning: (m) => warnings.push(m) });
  assert.deepEqual(data.labels, ['0', '1']);
  assert.deepEqual(warnings, [`${path}: label 1 is written as the number 1 (line 1) and as the string "1" (line 3); both are taken as one class`]);
  const quiet: string[] = [];
  loadClassificationData(file('same.jsonl', jsonl([{ text: 'a', label: 1 }, { text: 'b', label: 0 }])), undefined, { seed: 0, onWarning: (m) => quiet.push(m) });
  assert.deepEqual(quiet, []);
});

test('bytes that are not UTF-8 are refused with the file, the byte offset and the line, never replaced', () => {
  const good = Buffer.from('{"text": "ok", "label": "a"}\n{"text": "caf');
  const path = join(dir, 'latin1.jsonl');
  writeFileSync(path, Buffer.concat([good, Buffer.from([0xe9]), Buffer.from('", "label": "b"}\n')]));
  assert.throws(() => loadClassificationData(path, undefined, { seed: 0 }), new RegExp(`^DatasetError: ${path}: byte ${good.length} \\(line 2\\) is not valid UTF-8 \\(bytes e9 22 2c 20\\); save the file as UTF-8$`));
  const at = (bytes: number[]) => {
    try {
      decodeDatasetBytes(new Uint8Array(bytes), 'x');
      return -1;
    } catch (e) {
      return Number(/byte (\d+)/.exec((e as Error).message)![1]);
    }
  };
  assert.equal(at([0x61, 0xc3, 0xa9, 0x62]), -1, 'é is fine');
  assert.equal(at([0x61, 0xc0, 0x80]), 1, 'an overlong NUL');
  assert.equal(at([0x61, 0x62, 0xed, 0xa0, 0x80]), 2, 'a surrogate');
  assert.equal(at([0xf0, 0x9f, 0x98]), 0, 'a sequence cut short at the end');
  assert.equal(at([0xff, 0xfe, 0x7b, 0x00]), 0, 'UTF-16');
});

test('causal-LM records that carry labels: the labels are ignored, and a warning says so with the lines', () => {
  const warnings: string[] = [];
  const path = file('lm-labelled.jsonl', jsonl([{ text: 'good film', label: 'pos' }, { text: 'plain' }, { text: 'bad film', label: 'neg' }]));
  assert.equal(loadCausalLmData(path, { onWarning: (m) => warnings.push(m) }).length, 3);
  assert.deepEqual(warnings, [`${path}: 2 records have a "label" field (lines 1, 3), which causal-LM training ignores: it learns the text alone; to train on the labels, use the task classification`]);
});
