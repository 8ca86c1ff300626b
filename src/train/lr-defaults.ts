// Learning rates a run starts from when the user gives none: the model folder's own recommendation
// (lorapro.json), else a rule by the model's width. Both are the centre of `--lr auto`'s grid too.
//
// lorapro.json (optional, in a model folder):
//   { "recommended": { "learningRate": { "full": 1e-3, "lora": 3e-3, ... }, "source": "how they were chosen" } }
// Methods it leaves out fall back to the width rule (and, without --lr, to a search).
import { join } from 'node:path';
import { readOptionalJsonFile } from '../io/json-file.js';
import { recommendationsFromJson, RECOMMENDATIONS_FILE, type Recommendations } from './lr-defaults-rule.js';
import { UsageError } from './errors.js';

export { RECOMMENDATIONS_FILE, searchGrid, suggestedLearningRate, widthOf, recommendationsFromJson, recommendedRate, type Recommendations } from './lr-defaults-rule.js';

/** The recommendations in `dir/lorapro.json`, or undefined when the folder has none. */
export async function readRecommendations(dir: string): Promise<Recommendations | undefined> {
  const path = join(dir, RECOMMENDATIONS_FILE);
  let json: unknown;
  try {
    json = await readOptionalJsonFile(path);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (json === undefined) return undefined;
  return recommendationsFromJson(json, path);
}
