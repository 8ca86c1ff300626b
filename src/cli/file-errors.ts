// File-system refusals (a full disk, a read-only folder, a file where a folder belongs) are the
// user's to fix, like bad input: exit 2 with the path named and the way out, never a raw errno.
// `checkOutFolder` catches the ones it can before any work; `fileSystemMessage` words the rest.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../train/errors.js';
import { resumeCommand } from './interrupt.js';

/** Commands that continue where they stopped when given --resume. */
const RESUMABLE = new Set(['train', 'compare', 'pretrain', 'bench']);

type Errno = NodeJS.ErrnoException & { dest?: string };

function errnoOf(e: unknown): Errno | undefined {
  const err = e as Errno | null;
  return err !== null && typeof err === 'object' && typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code) ? err : undefined;
}

/**
 * What to tell the user about a file-system error that changing files, folders or options fixes, or
 * undefined for any other error (a failure of the run itself). `command` words the resume hint.
 *
 * @example
 *   fileSystemMessage(enospc, 'train') // "no space left on the device while writing runs/a/run.json; …"
 */
export function fileSystemMessage(e: unknown, command: string): string | undefined {
  const err = errnoOf(e);
  if (err === undefined) return undefined;
  const path = err.path ?? 'a file';
  const again = RESUMABLE.has(command) ? `continue from the last checkpoint with ${resumeCommand(command)}` : 'run the command again';
  switch (err.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `no space left on the device while writing ${path} (${err.code}); free some space, then ${again}`;
    case 'EROFS':
      return `${path} is on a read-only file system (EROFS); choose a folder on a writable disk`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied for ${path} (${err.code}${err.syscall ? `, ${err.syscall}` : ''}); choose a folder you can write to, or change its permissions`;
    case 'ENOTDIR':
      return `${path}: part of this path is a file, not a folder (ENOTDIR); choose another path`;
    case 'EEXIST':
      return `${err.dest ?? path} already exists (EEXIST); choose another path or move it away`;
    case 'EISDIR':
      return `${path} is a folder where a file was expected (EISDIR)`;
    case 'ENAMETOOLONG':
      return `${path}: the name is too long for the file system (ENAMETOOLONG)`;
    case 'ELOOP':
      return `${path}: too many symbolic links, or a link that points to itself (ELOOP)`;
    default:
      return undefined;
  }
}

/**
 * Checks, before any work, that `path` can be an output folder: not a file, not under a file, and
 * in a folder this process may write to. Each problem is a UsageError naming the flag and the path.
 */
export function checkOutFolder(path: string, flag = '--out'): void {
  const full = resolve(path);
  let dir = full;
  for (;;) {
    let stat;
    try {
      stat = statSync(dir, { throwIfNoEntry: false });
    } catch (e) {
      if (errnoOf(e)?.code !== 'ENOTDIR') throw e;
    }
    if (stat) {
      if (!stat.isDirectory()) {
        if (dir === full) throw new UsageError(`${flag} ${path} is a file (EEXIST); give a folder for the outputs, or move the file away`);
        throw new UsageError(`${flag} ${path}: ${dir} is a file, not a folder (ENOTDIR), so nothing can be created under it; choose another ${flag}`);
      }
      break;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const code = errnoOf(e)?.code;
    if (code === 'EROFS') throw new UsageError(`${flag} ${path}: ${dir} is on a read-only file system (EROFS); choose a ${flag} on a writable disk`);
    if (code === 'EACCES' || code === 'EPERM') throw new UsageError(`${flag} ${path}: no permission to write in ${dir} (${code}); choose a ${flag} you can write to`);
    throw e;
  }
}
