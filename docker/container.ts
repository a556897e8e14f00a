/**
 * One sandbox container: its hardened create spec, and starting it up to a ready executor.
 */
import type Docker from 'dockerode';
import { HgymError, hgymError } from '../env/errors.js';
import type { ContainerEngine, SandboxSpec } from './engine.js';
import { CHANNEL_MOUNT, CHANNEL_SOCKET } from './channel.js';
import { ExecutorConnection } from './protocol.js';

export interface SandboxLimits {
  memoryBytes: number;
  /** CPU share in billionths of a CPU (1e9 = one core). */
  nanoCpus: number;
  pidsLimit: number;
  workspaceBytes: number;
  tmpBytes: number;
  homeBytes: number;
  /** After this the executor ends the container by itself, whatever the server does. */
  lifetimeMs: number;
}

/**
 * tmpfs pages count against the container's memory, so the writable mounts together stay well
 * under it: an agent that fills them all gets ENOSPC (graded), and the memory left keeps the
 * out-of-memory killer away from the executor (which would lose the sandbox, an error).
 */
export const DEFAULT_LIMITS: SandboxLimits = {
  memoryBytes: 1024 * 2 ** 20,
  nanoCpus: 1e9,
  pidsLimit: 256,
  workspaceBytes: 512 * 2 ** 20,
  tmpBytes: 192 * 2 ** 20,
  homeBytes: 32 * 2 ** 20,
  lifetimeMs: 2 * 3600 * 1000,
};

export const AGENT_UID = 1000;
export const WORKSPACE = '/workspace';
/** Where a sandbox finds its repositories' bases (env/corpus/bases.ts), mounted read-only. */
export const BASES_MOUNT = '/opt/hgym/bases';

function tmpfs(bytes: number, extra = ''): string {
  return `rw,nosuid,nodev,${extra}size=${bytes},uid=${AGENT_UID},gid=${AGENT_UID},mode=0755`;
}

/**
 * The create options of a sandbox container: everything that locks it down is here. With
 * `bases` (a folder of this host), the folder is mounted read-only and the container starts as
 * root with the capabilities to read it, to empty the bounding set and to change user, and
 * nothing else: the executor opens the bases, drops every capability (bounding set included)
 * and becomes the agent's user before anything else runs (docker/executor/bases.py), and a
 * container whose executor reports another user is never used. With `channel` (a folder of
 * this host holding the socket of docker/channel.ts), the folder is mounted read-only and the
 * executor connects to it before anything else; the attached stdio stays, for its log and as
 * the way to tell that the server went away.
 */
export function containerSpec(image: string, limits: SandboxLimits, labels: Record<string, string>, bases?: string, channel?: string): Docker.ContainerCreateOptions {
  const binds = [...(bases === undefined ? [] : [`${bases}:${BASES_MOUNT}:ro`]), ...(channel === undefined ? [] : [`${channel}:${CHANNEL_MOUNT}:ro`])];
  return {
    Image: image,
    Env: [`HGYM_LIFETIME_S=${Math.ceil(limits.lifetimeMs / 1000)}`, ...(channel === undefined ? [] : [`HGYM_CHANNEL=${CHANNEL_SOCKET}`])],
    Labels: labels,
    User: bases === undefined ? `${AGENT_UID}:${AGENT_UID}` : '0:0',
    WorkingDir: WORKSPACE,
    // The executor talks over the attached stdio. StdinOnce: when the server's attach
    // connection goes away (even by SIGKILL), stdin closes and the executor ends the container.
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      ...(bases === undefined ? {} : { CapAdd: ['DAC_READ_SEARCH', 'SETPCAP', 'SETUID', 'SETGID'] }),
      ...(binds.length === 0 ? {} : { Binds: binds }),
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes,
      NanoCpus: limits.nanoCpus,
      PidsLimit: limits.pidsLimit,
      Tmpfs: {
        [WORKSPACE]: tmpfs(limits.workspaceBytes, 'exec,'),
        '/tmp': tmpfs(limits.tmpBytes, 'exec,').replace('mode=0755', 'mode=1777'),
        '/home/agent': tmpfs(limits.homeBytes),
      },
      Ulimits: [{ Name: 'nofile', Soft: 4096, Hard: 4096 }],
      IpcMode: 'private',
      AutoRemove: true,
      Init: false,
    },
  };
}

/** Maps dockerode's failures (HTTP status from the engine, socket errors) to coded errors. */
export function translateDockerError(err: unknown, image: string): HgymError {
  if (err instanceof HgymError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string; json?: { message?: string } };
  const detail = e.json?.message ?? e.message ?? String(err);
  if (e.statusCode === 404 && /image/i.test(detail)) return new HgymError('HGYM_ERR_IMAGE_MISSING', [image], { cause: err });
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT' || e.code === 'EACCES') {
    return new HgymError('HGYM_ERR_DOCKER_UNAVAILABLE', [detail], { cause: err });
  }
  return new HgymError('HGYM_ERR_SANDBOX_START', [detail], { cause: err });
}

export interface StartedSandbox {
  id: string;
  conn: ExecutorConnection;
  /** The executor's process limit, and the bases it holds (by name). */
  ready: { pidsMax: number | null; bases: string[] };
}

/**
 * Creates, attaches and starts a sandbox container on `engine` and waits for its executor to say
 * ready. Attaching before start means no frame the executor writes can be missed. If any step
 * fails the container is removed and the original error is rethrown (coded). `onCreated` learns
 * the container's id as soon as it exists, so that its owner counts it as held while it starts.
 */
export async function startSandbox(
  engine: ContainerEngine,
  spec: SandboxSpec,
  readyTimeoutMs: number,
  log: (line: string) => void,
  onCreated: (id: string) => void = () => {},
): Promise<StartedSandbox> {
  let id: string | undefined;
  let conn: ExecutorConnection | undefined;
  try {
    const created = await engine.create(spec);
    id = created.id;
    onCreated(id);
    conn = new ExecutorConnection(created.stream, log, created.channel);
    await engine.start(id);
    const lost = new Promise<never>((_, reject) => conn!.onLost((why) => reject(hgymError('HGYM_ERR_SANDBOX_START', why))));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(hgymError('HGYM_ERR_SANDBOX_START', `the executor did not report ready within ${readyTimeoutMs} ms`)),
        readyTimeoutMs,
      );
    });
    const frame = await Promise.race([conn.ready, lost, timeout]).finally(() => clearTimeout(timer));
    const pidsMax = typeof frame.pids_max === 'number' ? frame.pids_max : null;
    // Started as root to open its bases, the executor must have become the agent's user.
    if (typeof frame.uid === 'number' && frame.uid !== AGENT_UID) throw hgymError('HGYM_ERR_SANDBOX_START', `the executor runs as uid ${frame.uid}, not the agent's ${AGENT_UID}`);
    const bases = Array.isArray(frame.bases) ? frame.bases.filter((b): b is string => typeof b === 'string') : [];
    return { id, conn, ready: { pidsMax, bases } };
  } catch (err) {
    conn?.close('start failed');
    if (id !== undefined) await engine.remove(id).catch((e: Error) => log(`removing container ${id!.slice(0, 12)} failed: ${e.message}`));
    throw translateDockerError(err, spec.image);
  }
}

/** Force-removes a container; one that is already gone (404) or being removed (409) is fine. */
export async function removeContainer(container: Docker.Container, log: (line: string) => void): Promise<void> {
  try {
    await container.remove({ force: true });
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404 || status === 409) return;
    log(`removing container ${container.id.slice(0, 12)} failed: ${(err as Error).message}`);
  }
}
