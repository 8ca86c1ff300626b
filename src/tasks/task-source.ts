// What each built-in task provides: where its data comes from and how to read it into labelled texts.
import type { LabelledText } from './split.js';

export interface TaskSource {
  readonly name: string;
  /** One line for listings and reports. */
  readonly description: string;
  /** The npm packages the data is read from. */
  readonly packages: readonly string[];
  /** Subsample every label to the rarest label's count before splitting. */
  readonly balance: boolean;
  /** Every labelled text the source yields, duplicates and all (the split drops them). */
  read(): LabelledText[];
}
