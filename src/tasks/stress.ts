// stress: is a two-syllable English word stressed on its first or its second syllable (TAble vs
// reLAX)? From the CMU Pronouncing Dictionary's stress digits; spelling gives partial cues only
// (prefixes such as be-, re-, con-; suffixes such as -er, -le, -y).
import { CMUDICT_PACKAGE, labelWords } from './syllables.js';
import type { LabelledText } from './split.js';
import type { TaskSource } from './task-source.js';

export const stress: TaskSource = {
  name: 'stress',
  description: 'two-syllable English word (letters only, lower case) → primary stress on the first or the second syllable (CMUdict; balanced)',
  packages: [CMUDICT_PACKAGE],
  balance: true,
  read(): LabelledText[] {
    return labelWords(stressLabel);
  },
};

/** "first" for a 1-0 stress pattern, "second" for 0-1, undefined otherwise (other syllable counts, two stresses). */
export function stressLabel(pronunciation: string): string | undefined {
  const digits = pronunciation
    .split(/\s+/)
    .filter((phone) => /^[A-Z]+[012]$/.test(phone))
    .map((phone) => phone.slice(-1))
    .join('');
  return digits === '10' ? 'first' : digits === '01' ? 'second' : undefined;
}
