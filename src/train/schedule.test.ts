import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate, validateSchedule, type ScheduleOptions } from './schedule.js';

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) <= 1e-15 + 1e-12 * Math.abs(expected), `${actual} ≠ ${expected}`);

test('linear: HF get_linear_schedule_with_warmup, evaluated by hand', () => {
  const o: ScheduleOptions = { base: 1e-3, schedule: 'linear', warmupSteps: 100, totalSteps: 1000 };
  // Warmup: step/100. Then (1000 − step)/900.
  const table: [number, number][] = [
    [0, 0],
    [1, 1e-5],
    [50, 5e-4],
    [99, 9.9e-4],
    [100, 1e-3],
    [550, 5e-4], // 450/900
    [999, 1e-3 / 900],
    [1000, 0],
    [1500, 0], // max(0, ...)
  ];
  for (const [step, lr] of table) close(learningRate(step, o), lr);
  // minRatio 0.1: 0.1 + 0.9 · 450/900 = 0.55 at step 550; the floor 0.1 from step 1000 on; warmup unchanged.
  const floored = { ...o, minRatio: 0.1 };
  close(learningRate(550, floored), 5.5e-4);
  close(learningRate(1200, floored), 1e-4);
  close(learningRate(50, floored), 5e-4);
});

test('cosine: HF get_cosine_schedule_with_warmup (num_cycles 0.5), evaluated by hand', () => {
  const o: ScheduleOptions = { base: 2, schedule: 'cosine', warmupSteps: 10, totalSteps: 110 };
  // progress = (step − 10)/100; factor ½(1 + cos(π·progress)).
  close(learningRate(5, o), 1); // warmup 5/10
  close(learningRate(10, o), 2); // progress 0
  close(learningRate(35, o), 2 * 0.5 * (1 + Math.SQRT1_2)); // progress ¼: cos(π/4) = √½
  close(learningRate(60, o), 1); // progress ½: cos(π/2) = 0
  close(learningRate(110, o), 0); // progress 1: cos(π) = −1
  close(learningRate(300, o), 0); // held at the floor past totalSteps
  // HF get_cosine_with_min_lr_schedule_with_warmup, min_lr_rate 0.2: 0.2 + 0.8·factor.
  const floored = { ...o, minRatio: 0.2 };
  close(learningRate(60, floored), 2 * (0.2 + 0.8 * 0.5));
  close(learningRate(110, floored), 0.4);
});

test('constant with warmup, and no warmup at all', () => {
  const o: ScheduleOptions = { base: 0.1, schedule: 'constant', warmupSteps: 4 };
  close(learningRate(0, o), 0);
  close(learningRate(2, o), 0.05);
  close(learningRate(4, o), 0.1);
  close(learningRate(10_000, o), 0.1);
  // warmupSteps 0: step 0 is already past warmup (0 < 0 is false), as in HF.
  close(learningRate(0, { base: 0.1, schedule: 'linear', warmupSteps: 0, totalSteps: 10 }), 0.1);
  close(learningRate(5, { base: 0.1, schedule: 'linear', warmupSteps: 0, totalSteps: 10 }), 0.05);
  close(learningRate(0, { base: 0.1, schedule: 'cosine', warmupSteps: 0, totalSteps: 10 }), 0.1);
});

test('invalid options name the option and the value', () => {
  const ok: ScheduleOptions = { base: 1e-3, schedule: 'linear', warmupSteps: 10, totalSteps: 100 };
  assert.throws(() => validateSchedule({ ...ok, schedule: 'step' as 'linear' }), /schedule must be one of constant, linear, cosine, got "step"/);
  assert.throws(() => validateSchedule({ ...ok, base: -1 }), /schedule base \(learning rate\) must be a positive number, got -1/);
  assert.throws(() => validateSchedule({ ...ok, warmupSteps: 1.5 }), /schedule warmupSteps must be a non-negative integer, got 1.5/);
  assert.throws(() => validateSchedule({ ...ok, totalSteps: undefined }), /schedule totalSteps must be a positive integer for a linear schedule, got undefined/);
  assert.throws(() => validateSchedule({ ...ok, warmupSteps: 200 }), /schedule warmupSteps \(200\) must not exceed totalSteps \(100\)/);
  assert.throws(() => validateSchedule({ ...ok, minRatio: 1.5 }), /schedule minRatio must be a number in \[0, 1\], got 1.5/);
  assert.throws(() => learningRate(-1, ok), /learningRate: step must be a non-negative integer, got -1/);
  assert.ok(Object.isFrozen(validateSchedule(ok)));
});
