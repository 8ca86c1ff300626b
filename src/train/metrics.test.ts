import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, argmaxRows, classificationMetrics, confusionMatrix, macroF1, matthewsCorrelation, meanLoss, perplexity } from './metrics.js';

const close = (actual: number, expected: number, tol = 1e-12) => assert.ok(Math.abs(actual - expected) <= tol, `${actual} ≠ ${expected}`);

test('binary case by hand', () => {
  const yTrue = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
  const yPred = [0, 0, 0, 1, 1, 1, 1, 1, 0, 0];
  // Truth 0 (4): predicted 0,0,0,1 → row [3, 1]. Truth 1 (6): predicted 1,1,1,1,0,0 → row [2, 4].
  assert.deepEqual(confusionMatrix(yTrue, yPred), [
    [3, 1],
    [2, 4],
  ]);
  close(accuracy(yTrue, yPred), 7 / 10);
  // F1_0 = 2·3 / (2·3 + FP 2 + FN 1) = 6/9; F1_1 = 2·4 / (8 + FP 1 + FN 2) = 8/11; mean = 23/33.
  close(macroF1(yTrue, yPred), (6 / 9 + 8 / 11) / 2);
  close(macroF1(yTrue, yPred), 23 / 33);
  // Binary MCC with class 1 positive, TP 4, TN 3, FP 1, FN 2:
  // (4·3 − 1·2) / sqrt((4+1)(4+2)(3+1)(3+2)) = 10 / sqrt(600) = 1/√6.
  close(matthewsCorrelation(yTrue, yPred), 1 / Math.sqrt(6));
});

test('three classes by hand, one never predicted', () => {
  const yTrue = [0, 0, 1, 1, 2, 2];
  const yPred = [0, 1, 1, 1, 0, 0];
  // Rows (truth): 0 → [1, 1, 0]; 1 → [0, 2, 0]; 2 → [2, 0, 0].
  assert.deepEqual(confusionMatrix(yTrue, yPred), [
    [1, 1, 0],
    [0, 2, 0],
    [2, 0, 0],
  ]);
  close(accuracy(yTrue, yPred), 0.5);
  // F1_0 = 2/(2+2+1) = 0.4; F1_1 = 4/(4+1+0) = 0.8; F1_2 = 0 (never predicted). Mean = 1.2/3 = 0.4.
  close(macroF1(yTrue, yPred), 0.4);
  // t = [2, 2, 2], p = [3, 3, 0], c = 3, s = 6: (3·6 − (6 + 6 + 0)) / sqrt((36 − 18)(36 − 12)) = 6/√432 = 1/(2√3).
  close(matthewsCorrelation(yTrue, yPred), 1 / (2 * Math.sqrt(3)));
  assert.deepEqual(classificationMetrics(yTrue, yPred), {
    accuracy: accuracy(yTrue, yPred),
    macroF1: macroF1(yTrue, yPred),
    mcc: matthewsCorrelation(yTrue, yPred),
  });
});

test('macro-F1 averages over labels ∪ predictions; MCC is 0 when undefined', () => {
  // Class 1 appears only as a prediction: F1_0 = 2/(2+0+1) = 2/3, F1_1 = 0 → 1/3 (sklearn: 0.333...).
  close(macroF1([0, 0], [0, 1]), 1 / 3);
  // Class 5 is neither a label nor a prediction, so it does not dilute the mean.
  close(macroF1([0, 1], [0, 1]), 1);
  // Constant predictions: s² − Σp² = 4 − 4 = 0 → 0.
  assert.equal(matthewsCorrelation([0, 1], [0, 0]), 0);
  assert.equal(matthewsCorrelation([1, 1], [1, 1]), 0);
  close(matthewsCorrelation([0, 1, 2], [0, 1, 2]), 1);
  close(matthewsCorrelation([0, 1], [1, 0]), -1);
});

test('bad inputs are named', () => {
  assert.throws(() => accuracy([0, 1], [0]), /accuracy: 2 labels but 1 predictions/);
  assert.throws(() => macroF1([], []), /macroF1: no examples/);
  assert.throws(() => matthewsCorrelation([0.5], [0]), /label 0 must be an integer class index, got 0.5/);
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /example 1 has label 3 and prediction 1, outside \[0, 3\)/);
});

test('argmax, weighted mean loss and perplexity', () => {
  assert.deepEqual(argmaxRows([0.1, 0.9, 0.3, 2, -1, 2], 3), [1, 0]); // ties go to the first
  assert.throws(() => argmaxRows([1, 2, 3], 2), /3 logits is not a multiple of numClasses 2/);
  // Batches with mean losses 2 and 4 over 1 and 3 tokens: (2·1 + 4·3) / 4 = 3.5.
  assert.equal(meanLoss([2, 4], [1, 3]), 3.5);
  assert.equal(meanLoss([2, 4]), 3);
  assert.equal(meanLoss([2, NaN], [1, 0]), 2); // an empty batch carries no weight
  close(perplexity(Math.log(2)), 2);
  assert.equal(perplexity(0), 1);
  assert.throws(() => perplexity(NaN), /mean token loss must be finite, got NaN/);
});
