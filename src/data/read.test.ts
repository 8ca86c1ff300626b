import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataProblems, DatasetError } from './problems.js';
import { arrayElementSpans, formatFromPath, parseCsvRows, parseRecords } from './read.js';

function parse(text: string, format: 'jsonl' | 'json' | 'csv', file = `data.${format}`) {
  const problems = new DataProblems(file);
  const records = parseRecords(text, format, problems);
  let error: DatasetError | undefined;
  try {
    problems.throwIfAny();
  } catch (e) {
    error = e as DatasetError;
  }
  return { records, error };
}

test('the extension picks the format, case-insensitively; others are refused by name', () => {
  assert.equal(formatFromPath('a/b/train.JSONL'), 'jsonl');
  assert.equal(formatFromPath('C:\\data\\x.json'), 'json');
  assert.equal(formatFromPath('x.csv'), 'csv');
  assert.throws(() => formatFromPath('data/train.tsv'), /data\/train\.tsv: unknown dataset extension "\.tsv"; expected one of \.jsonl, \.json, \.csv/);
  assert.throws(() => formatFromPath('data.d/README'), /unknown dataset extension \(none\)/);
});

test('RFC 4180: quoted commas, newlines, "" escapes, CRLF, and each row keeps its starting line', () => {
  const text = 'text,label\r\n"a, b",1\r\n"say ""hi""",0\r\n"two\r\nlines",1\r\nplain,0\r\n';
  const problems = new DataProblems('x.csv');
  const rows = parseCsvRows(text, problems);
  assert.equal(problems.count, 0);
  assert.deepEqual(rows, [
    { line: 1, cells: ['text', 'label'] },
    { line: 2, cells: ['a, b', '1'] },
    { line: 3, cells: ['say "hi"', '0'] },
    { line: 4, cells: ['two\r\nlines', '1'] },
    { line: 6, cells: ['plain', '0'] }, // the quoted line break moved it down one line
  ]);
});

test('CSV: empty cells, a missing final newline, LF endings and blank lines', () => {
  const { records, error } = parse('text,text_b ,label\nx,,1\n\n"",y,2', 'csv');
  assert.equal(error, undefined);
  assert.deepEqual(records, [
    { line: 2, fields: { text: 'x', text_b: '', label: '1' } }, // header names are trimmed
    { line: 4, fields: { text: '', text_b: 'y', label: '2' } },
  ]);
});

test('CSV problems name the line: wrong column count, unclosed quote, junk after a quote', () => {
  const columns = parse('text,label\na,1\nb,2,3\nc\n', 'csv', 'd.csv');
  assert.match(columns.error!.message, /d\.csv line 3: row has 3 columns, the header has 2/);
  assert.match(columns.error!.message, /d\.csv line 4: row has 1 column, the header has 2/);
  assert.deepEqual(columns.records.map((r) => r.line), [2]);

  const unclosed = parse('text,label\na,1\n"never\nclosed,2\n', 'csv', 'd.csv');
  assert.match(unclosed.error!.message, /^d\.csv line 3: quoted field is never closed/);

  const junk = parse('text,label\n"a"b,1\n', 'csv', 'd.csv');
  assert.match(junk.error!.message, /d\.csv line 2: unexpected character "b" after a closing quote/);
});

test('JSONL: blank lines and CRLF are fine; invalid JSON and non-objects are reported by line', () => {
  const ok = parse('\uFEFF{"text":"a"}\r\n\r\n{"text":"b"}\r\n', 'jsonl');
  assert.equal(ok.error, undefined);
  assert.deepEqual(ok.records, [
    { line: 1, fields: { text: 'a' } },
    { line: 3, fields: { text: 'b' } },
  ]);

  const bad = parse('{"text":"a"}\n{"text": oops}\n[1,2]\n"str"\n', 'jsonl', 't.jsonl');
  assert.equal(bad.records.length, 1);
  assert.match(bad.error!.message, /^t\.jsonl has 3 problems:/);
  assert.match(bad.error!.message, /t\.jsonl line 2: invalid JSON \(/);
  assert.match(bad.error!.message, /t\.jsonl line 3: record must be a JSON object, got an array/);
  assert.match(bad.error!.message, /t\.jsonl line 4: record must be a JSON object, got a string/);
  assert.deepEqual(bad.error!.problems.map((p) => p.line), [2, 3, 4]);
});

test('JSON array: each record gets the line its element starts on; a non-object element is named by index', () => {
  // Element 0 starts on line 2, element 1 on line 3 (after a string holding "[", "}" and an escaped quote),
  // element 2 (a number) on line 6, element 3 on line 7.
  const text = '[\n  {"text": "a [x] } \\" y"},\n  {\n    "text": "b"\n  },\n  42,\n  {"text": "c"}\n]\n';
  const { records, error } = parse(text, 'json', 'a.json');
  assert.deepEqual(records.map((r) => r.line), [2, 3, 7]);
  assert.equal(records[0].fields.text, 'a [x] } " y');
  assert.match(error!.message, /^a\.json line 6: array element 2 \(counting from 0\) must be an object, got a number/);
});

test('JSON: element starts are found past nested arrays and strings', () => {
  const text = '[{"a":[1,{"b":"],"}]}, [3], "s,t" ,4]';
  assert.deepEqual(arrayElementSpans(text)?.map((s) => s.start), [1, 23, 28, 35]);
  assert.deepEqual(arrayElementSpans(' [ ] '), []);
  assert.equal(arrayElementSpans('{"a": 1}'), undefined);
});

test('JSON: a whole-file syntax error names its line; a top-level object is refused with a hint', () => {
  const broken = parse('[\n {"text": "a"},\n {"text": },\n {"text": "c"},\n]', 'json', 'b.json');
  assert.match(broken.error!.message, /b\.json line 3: invalid JSON in array element 1 \(counting from 0\)/);
  assert.match(broken.error!.message, /b\.json line 5: array element 3 \(counting from 0\) is empty \(a trailing or doubled comma\?\)/);
  assert.deepEqual(broken.records.map((r) => r.line), [2, 4]);
  const unclosed = parse('[\n {"text": "a"}\n', 'json', 'u.json');
  assert.match(unclosed.error!.message, /^u\.json: invalid JSON \(/);
  const object = parse('{"text": "a"}', 'json', 'c.json');
  assert.match(object.error!.message, /c\.json line 1: a \.json dataset must be a top-level array of records, got an object \(use \.jsonl/);
});
