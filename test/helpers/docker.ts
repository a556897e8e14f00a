/** Shared helpers for the tests that run against a real Docker engine. */
import Docker from 'dockerode';
import type { Sandbox } from '../../env/sandbox.js';
import { LABEL_OWNER } from '../../docker/owner.js';

export const docker = new Docker();

/** Containers (any state) labelled with the given owner id. */
export async function ownedBy(ownerId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${ownerId}`] } });
}

/** Polls `check` every 50 ms until it returns true or `ms` pass; returns the last answer. */
export async function eventually(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Processes in the sandbox other than the executor (PID 1), the persistent shell (a bash
 * whose parent is PID 1) and the ps that lists them.
 */
export async function strayProcesses(sandbox: Sandbox): Promise<string[]> {
  const r = await sandbox.exec('ps -e -o pid=,ppid=,comm=', { timeoutMs: 10_000 });
  const rows = r.output.trim().split('\n').map((l) => l.trim().split(/\s+/));
  let shells = 0;
  return rows
    .filter(([pid, ppid, comm]) => {
      if (pid === '1') return false;
      if (comm === 'ps') return false;
      if (comm === 'bash' && ppid === '1' && shells++ === 0) return false;
      return true;
    })
    .map((row) => row.join(' '));
}
