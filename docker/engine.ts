/**
 * The ContainerEngine port: the little the sandbox pool needs from a container engine. The pool's
 * scheduling, warm sets, waiters, refill and failover sit on top of it; DockerEngine is the
 * adapter over one Docker engine (dockerode), and tests drive the pool with an in-memory engine.
 */
import Docker from 'dockerode';
import type { Duplex, Readable } from 'node:stream';
import { hgymError } from '../env/errors.js';
import { ExecutorChannel } from './channel.js';
import { containerSpec, translateDockerError, type SandboxLimits } from './container.js';

/** One sandbox container to create: the image, its limits and its ownership labels. */
export interface SandboxSpec {
  image: string;
  limits: SandboxLimits;
  labels: Record<string, string>;
  /** A folder of the server's host holding repository bases (env/corpus/bases.ts), for an engine on this host to mount. */
  bases?: string;
}

/** A created container with its executor's stdio attached (Docker's multiplexed stream), not yet started. */
export interface CreatedContainer {
  id: string;
  stream: Duplex;
  /** The socket its executor will connect to instead of speaking over `stream` (docker/channel.ts), if any. */
  channel?: ExecutorChannel;
}

/** A labelled container as the engine lists it. */
export interface ListedContainer {
  id: string;
  labels: Record<string, string>;
  /** `created` (never started), `running`, `exited`, `dead`, ... */
  state: string;
}

export interface ContainerEngine {
  /** Where the engine is, as given (a unix socket, tcp or ssh URL): its name in logs, stats and metrics. */
  readonly name: string;
  /** Resolves when the engine answers within timeoutMs; rejects (coded) otherwise. */
  ping(timeoutMs: number): Promise<void>;
  /** The image's id, or null when the engine does not have it. */
  imageId(image: string): Promise<string | null>;
  /** The image as a tar stream (docker save), to load into another engine. */
  exportImage(image: string): Promise<Readable>;
  loadImage(tar: Readable): Promise<void>;
  /** Creates a sandbox container and attaches its stdio before it starts, so no frame is missed. */
  create(spec: SandboxSpec): Promise<CreatedContainer>;
  start(id: string): Promise<void>;
  /** Force-removes a container; one already gone is fine. */
  remove(id: string): Promise<void>;
  /** Sets a running container's relative CPU weight (Docker's CpuShares: 1024 is the default, 2 the least). */
  setCpuShares(id: string, shares: number): Promise<void>;
  /** Every container carrying the label `label` (any value), in any state. */
  list(label: string): Promise<ListedContainer[]>;
}

/** How a `--docker-host` value is read: what dockerode takes, per URL scheme. */
export function dockerOptions(host: string): Docker.DockerOptions {
  if (host.startsWith('/')) return { socketPath: host };
  const url = new URL(host);
  switch (url.protocol) {
    case 'unix:':
      return { socketPath: url.pathname };
    case 'tcp:':
    case 'http:':
    case 'https:': {
      // tcp with TLS: the client certificates come from DOCKER_CERT_PATH, as for the docker CLI
      // (dockerode reads them when DOCKER_TLS_VERIFY is set and the protocol is https).
      const tls = url.protocol === 'https:' || process.env.DOCKER_TLS_VERIFY === '1';
      return { host: url.hostname, port: Number(url.port || (tls ? 2376 : 2375)), protocol: tls ? 'https' : 'http' };
    }
    case 'ssh:':
      return {
        host: url.hostname,
        port: Number(url.port || 22),
        protocol: 'ssh',
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      };
    default:
      throw hgymError('HGYM_ERR_BAD_REQUEST', `a Docker host must be a unix socket path or a unix://, tcp://, https:// or ssh:// URL, not ${host}`);
  }
}

/** The engines a server uses: `--docker-host` values, else HGYM_DOCKER_HOSTS (comma-separated), else DOCKER_HOST or the local socket. */
export function engineHosts(flags: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  if (flags.length > 0) return [...flags];
  const listed = (env.HGYM_DOCKER_HOSTS ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  if (listed.length > 0) return listed;
  return [env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'];
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

export class DockerEngine implements ContainerEngine {
  readonly docker: Docker;
  /**
   * Whether sandboxes get a direct channel (docker/channel.ts): on an engine of this host, unless
   * HGYM_DIRECT_CHANNEL=0 (frames then always go over the attached stdio).
   */
  readonly directChannel: boolean;

  constructor(
    readonly name: string,
    docker?: Docker,
    options: { directChannel?: boolean } = {},
  ) {
    this.docker = docker ?? new Docker(dockerOptions(name));
    this.directChannel = this.local && (options.directChannel ?? process.env.HGYM_DIRECT_CHANNEL !== '0');
  }

  /** The engine dockerode reaches by default (DOCKER_HOST, else the local socket). */
  static local(): DockerEngine {
    return new DockerEngine(engineHosts([])[0]!, new Docker());
  }

  async ping(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(hgymError('HGYM_ERR_DOCKER_UNAVAILABLE', `${this.name} did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.docker.ping(), timeout]);
    } catch (err) {
      throw hgymError('HGYM_ERR_DOCKER_UNAVAILABLE', `${this.name}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async imageId(image: string): Promise<string | null> {
    try {
      return (await this.docker.getImage(image).inspect()).Id;
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw translateDockerError(err, image);
    }
  }

  async exportImage(image: string): Promise<Readable> {
    return (await this.docker.getImage(image).get()) as Readable;
  }

  async loadImage(tar: Readable): Promise<void> {
    const progress = await this.docker.loadImage(tar);
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(progress, (err: Error | null) => (err ? reject(err) : resolve()));
    });
  }

  /** Whether the engine runs on this host (a unix socket): only then can it mount the host's bases. */
  get local(): boolean {
    return this.name.startsWith('/') || this.name.startsWith('unix:');
  }

  /** The engine's create options for a sandbox: the hardened spec of docker/container.ts. */
  protected createOptions(spec: SandboxSpec, channel?: ExecutorChannel): Docker.ContainerCreateOptions {
    return containerSpec(spec.image, spec.limits, spec.labels, this.local ? spec.bases : undefined, channel?.dir);
  }

  async create(spec: SandboxSpec): Promise<CreatedContainer> {
    const channel = this.directChannel ? await ExecutorChannel.open() : undefined;
    let id: string | undefined;
    try {
      const container = await this.docker.createContainer(this.createOptions(spec, channel));
      id = container.id;
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      return { id: container.id, stream, ...(channel ? { channel } : {}) };
    } catch (err) {
      channel?.close();
      if (id !== undefined) await this.remove(id);
      throw err;
    }
  }

  async start(id: string): Promise<void> {
    await this.docker.getContainer(id).start();
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true });
    } catch (err) {
      // Gone already (404) or being removed by AutoRemove (409).
      if (statusOf(err) === 404 || statusOf(err) === 409) return;
      throw err;
    }
  }

  async setCpuShares(id: string, shares: number): Promise<void> {
    await this.docker.getContainer(id).update({ CpuShares: shares });
  }

  async list(label: string): Promise<ListedContainer[]> {
    const found = await this.docker.listContainers({ all: true, filters: { label: [label] } });
    return found.map((c) => ({ id: c.Id, labels: c.Labels ?? {}, state: c.State }));
  }
}
