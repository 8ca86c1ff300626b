// How many optimiser steps a run takes, and how often it evaluates and saves.
import type { TrainConfig } from './config.js';

export interface StepPlan {
  readonly totalSteps: number;
  readonly batchesPerEpoch: number;
  readonly evalEvery: number;
  readonly saveEvery: number;
}

/** Steps of the run: --max-steps, or enough for --epochs passes over the micro-batches. */
export function planSteps(config: TrainConfig, trainExamples: number): StepPlan {
  const batchesPerEpoch = Math.ceil(trainExamples / config.batchSize);
  const totalSteps = config.maxSteps ?? Math.ceil((config.epochs! * batchesPerEpoch) / config.gradAccum);
  const evalEvery = config.evalEvery ?? Math.max(1, Math.ceil(totalSteps / 10));
  return { totalSteps, batchesPerEpoch, evalEvery, saveEvery: config.saveEvery ?? evalEvery };
}
