/**
 * Who owns a container. Every sandbox container is labelled with its owner's instance id
 * and enough about the owning process (host, pid, process start time) for a later server
 * on the same host to tell that the owner is gone, plus an expiry after which anyone may
 * remove it. Containers without the owner label are never touched.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export const LABEL_OWNER = 'hgym.owner';
export const LABEL_HOST = 'hgym.owner.host';
export const LABEL_PID = 'hgym.owner.pid';
export const LABEL_START = 'hgym.owner.start';
export const LABEL_EXPIRES = 'hgym.expires';

export interface Owner {
  id: string;
  host: string;
  pid: number;
  /** Start time of the owning process in clock ticks since boot ('' where /proc has none). */
  start: string;
}

/** The start time field of /proc/<pid>/stat, which tells a live process from a reused pid. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export function currentOwner(id: string): Owner {
  return { id, host: hostname(), pid: process.pid, start: processStart(process.pid) ?? '' };
}

export function ownerLabels(owner: Owner, expiresAtMs: number): Record<string, string> {
  return {
    [LABEL_OWNER]: owner.id,
    [LABEL_HOST]: owner.host,
    [LABEL_PID]: String(owner.pid),
    [LABEL_START]: owner.start,
    [LABEL_EXPIRES]: String(expiresAtMs),
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Why a labelled container may be removed by `self`, or null when it must be left alone:
 * its owner is `self`, or lives (or may live) elsewhere and its expiry has not passed.
 */
export function orphanReason(labels: Record<string, string>, self: Owner, nowMs: number): string | null {
  const owner = labels[LABEL_OWNER];
  if (!owner || owner === self.id) return null;
  const expires = Number(labels[LABEL_EXPIRES]);
  if (Number.isFinite(expires) && expires > 0 && expires < nowMs) return 'past its maximum lifetime';
  if (labels[LABEL_HOST] !== self.host) return null;
  const pid = Number(labels[LABEL_PID]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (!pidAlive(pid)) return `owner process ${pid} is gone`;
  const start = labels[LABEL_START];
  const actual = processStart(pid);
  if (start && actual !== null && actual !== start) return `owner process ${pid} is gone (pid reused)`;
  return null;
}
