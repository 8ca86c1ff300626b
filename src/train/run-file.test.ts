// --resume compares path-valued settings by the folder or file they name, not by how they are
// spelt: run.json keeps their real paths, and older run.json files resolve against today's cwd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureBackend } from '../engine/backend.js';
import { trainConfig, type TrainConfig } from './config.js';
import { checkResumable, RUN_FILE, writeRunFile } from './run-file.js';
import type { PreparedRun } from './run-setup.js';
import { tempDir, writeJsonl } from './testing.js';

const root = tempDir('lorapro-run-file-');
const model = join(root, 'model');
const other = join(root, 'other');
for (const dir of [model, other]) mkdirSync(dir);
const link = join(root, 'link-to-model');
symlinkSync(model, link);
const train = writeJsonl(join(root, 'train.jsonl'), [{ text: 'hi' }]);
let outs = 0;

function config(o: Record<string, unknown>): TrainConfig {
  return trainConfig({ model: relative(process.cwd(), model), train: relative(process.cwd(), train), task: 'causal-lm', method: 'lora', maxSteps: 2, out: join(root, `out-${outs++}`), ...o });
}

/** run.json as this version writes it (with `paths`), or as older versions did (without). */
async function startRun(c: TrainConfig, format: 'current' | 'old'): Promise<void> {
  mkdirSync(c.out, { recursive: true });
  if (format === 'current') {
    await ensureBackend();
    const run = { config: c, data: { train: [], eval: [] }, maxLength: 16 } as unknown as PreparedRun;
    await writeRunFile(run, 2);
    return;
  }
  writeFileSync(join(c.out, RUN_FILE), JSON.stringify({ version: 1, config: c, maxLength: 16, backend: 'cpu', totalSteps: 2, trainExamples: 1, evalExamples: 0 }));
}

const CASES: { name: string; started: Record<string, unknown>; resumed: Record<string, unknown>; refused?: RegExp }[] = [
  { name: 'the absolute path of the same folder', started: {}, resumed: { model } },
  { name: 'a symlink to the same folder', started: {}, resumed: { model: link } },
  { name: 'the same training file given absolute', started: {}, resumed: { train } },
  { name: 'another folder', started: {}, resumed: { model: other }, refused: /different settings \(model: ".*\/model" → ".*\/other"\)/ },
  { name: 'the same built-in task', started: { train: 'builtin:spam', task: 'classification' }, resumed: { train: 'builtin:spam', task: 'classification' } },
  {
    name: 'another built-in task spec, compared as text',
    started: { train: 'builtin:spam', task: 'classification' },
    resumed: { train: 'builtin:spam?max-train=10', task: 'classification' },
    refused: /different settings \(train: "builtin:spam" → "builtin:spam\?max-train=10"\)/,
  },
];

for (const format of ['current', 'old'] as const) {
  for (const c of CASES) {
    test(`--resume (${format} run.json) with ${c.name} ${c.refused ? 'is refused, naming the field' : 'continues'}`, async () => {
      const started = config(c.started);
      await startRun(started, format);
      const resumed = config({ ...c.resumed, out: started.out, resume: true });
      if (c.refused) await assert.rejects(checkResumable(resumed), c.refused);
      else await checkResumable(resumed);
    });
  }
}

test('run.json records the real paths of the model, training and eval files', async () => {
  const c = config({ model: link, eval: relative(process.cwd(), train) });
  await startRun(c, 'current');
  const file = JSON.parse(readFileSync(join(c.out, RUN_FILE), 'utf8'));
  assert.equal(file.version, 1);
  assert.equal(file.config.model, link, 'the config keeps what was asked for');
  assert.deepEqual(file.paths, { model: realpathSync(model), train: realpathSync(train), eval: realpathSync(train) });
});

test('a run started from another cwd resumes by the paths run.json recorded, not by re-resolving its relative ones', async () => {
  const here = process.cwd();
  const started = config({ model: 'model', train: 'train.jsonl' }); // relative to `root`, where it started
  process.chdir(root);
  try {
    await startRun(started, 'current');
  } finally {
    process.chdir(here);
  }
  await checkResumable(config({ model, train, out: started.out, resume: true }));
});
