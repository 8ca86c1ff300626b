// One run per --out at a time. A run holds OUT/.lorapro.lock (its pid, host and start time) from
// before it checks the folder until it ends: created with O_EXCL, so of two runs started together
// exactly one gets it, and the other is refused naming the holder. A lock left by a killed process
// (same host, pid no longer alive) is taken over with a warning.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../train/errors.js';

export const LOCK_FILE = '.lorapro.lock';

/** What the lock file holds. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly started: string; // ISO time
  readonly command?: string;
}

export interface OutLock {
  readonly path: string;
  /** Removes the lock (and the folder, when the lock created it and nothing else was written). */
  release(): void;
}

/**
 * Takes the lock on `dir` (created if missing) for this process, or throws a UsageError naming the
 * process that holds it. `log` gets the warning when a stale lock is taken over.
 *
 * @example
 *   const lock = lockOut('runs/a', console.error);
 *   try { ... } finally { lock.release(); }
 */
export function lockOut(dir: string, log: (line: string) => void): OutLock {
  const created = makeFolder(dir);
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command: process.argv.slice(1).join(' ') };
  try {
    acquire(path, me, dir, log);
  } catch (e) {
    removeCreated(dir, created);
    throw e;
  }
  const onExit = () => release();
  process.on('exit', onExit); // a second Ctrl-C exits at once; the lock goes with it
  let held = true;
  function release() {
    if (!held) return;
    held = false;
    process.off('exit', onExit);
    const now = readHolder(path);
    if (now?.pid === me.pid && now.started === me.started) unlinkQuietly(path);
    removeCreated(dir, created);
  }
  return { path, release };
}

function acquire(path: string, me: LockHolder, dir: string, log: (line: string) => void): void {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, `${JSON.stringify(me)}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`cannot create the lock ${path} in --out ${dir}: ${(e as Error).message}; choose a folder you can write to`);
    }
    const holder = readHolder(path) ?? readHolder(path, 100); // a lock being written this instant is read again
    if (holder && isAlive(holder)) {
      throw new UsageError(
        `${dir} is in use by another run: process ${holder.pid} on ${holder.host}, started ${holder.started}${holder.command ? ` (${holder.command})` : ''}. Wait for it to end or choose another --out; if that process is gone, remove ${path}`,
      );
    }
    if (takeOver(path, holder)) {
      log(holder ? `warning: ${path} was left by process ${holder.pid} (started ${holder.started}), which is no longer running; this run takes ${dir} over` : `warning: ${path} was unreadable; this run takes ${dir} over`);
    }
  }
  throw new UsageError(`could not take the lock ${path}: other runs keep taking it; run one at a time on --out ${dir}`);
}

/**
 * Moves the stale lock aside; if what was moved is not the lock judged stale (another run took it
 * over meanwhile), puts it back. Returns whether a stale lock was removed.
 */
function takeOver(path: string, stale: LockHolder | undefined): boolean {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return false; // gone already: the next attempt creates it
  }
  const moved = readHolder(aside);
  const same = stale === undefined ? moved === undefined : moved?.pid === stale.pid && moved.started === stale.started;
  if (!same) {
    try {
      linkSync(aside, path);
    } catch {
      // a third run holds the path now; the next attempt reports it
    }
  }
  unlinkQuietly(aside);
  return same;
}

/** The lock's holder, or undefined when the file is missing or not a lock (e.g. half written). */
function readHolder(path: string, waitMs = 0): LockHolder | undefined {
  if (waitMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, waitMs);
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return Number.isInteger(h?.pid) && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the holder may still run: a pid on another host cannot be checked, so it counts as alive. */
function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, another user's
  }
}

/** Creates `dir` with its parents; returns the topmost folder it created, if any. */
function makeFolder(dir: string): string | undefined {
  try {
    return mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot create --out ${dir}${code === 'EEXIST' || code === 'ENOTDIR' ? ': a file is in the way' : `: ${(e as Error).message}`}; choose a folder you can write to`);
  }
}

/** Removes the folders makeFolder created, innermost first, where they are still empty. */
function removeCreated(dir: string, created: string | undefined): void {
  if (created === undefined) return;
  const top = resolve(created);
  for (let d = resolve(dir); d.startsWith(top); d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty: the run wrote something
    }
    if (d === top) return;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
