/**
 * The Docker adapter of the SandboxPool port: a warm pool of started, ready containers,
 * one per episode and never reused, refilled in the background.
 */
import Docker from 'dockerode';
import { pino, type Logger } from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { hgymError, HgymError } from '../env/errors.js';
import type { AcquireOptions, PoolStats, Sandbox, SandboxPool } from '../env/sandbox.js';
import {
  DEFAULT_LIMITS,
  containerSpec,
  removeContainer,
  startContainer,
  translateDockerError,
  type SandboxLimits,
} from './container.js';
import { LABEL_OWNER, currentOwner, orphanReason, type Owner } from './owner.js';
import { LeasedSandbox, WarmContainer } from './sandbox.js';

/** The sandbox image; HGYM_IMAGE overrides it, as it does for setup (docker/setup.sh). */
export const DEFAULT_IMAGE = process.env.HGYM_IMAGE ?? 'hgym/sandbox:latest';

export interface DockerPoolOptions {
  docker?: Docker;
  image?: string;
  /** Ready containers kept waiting for an episode. */
  warm?: number;
  /** Most containers at once: warm, starting and leased together. */
  max?: number;
  limits?: Partial<SandboxLimits>;
  /** This server instance's id, the value of every container's hgym.owner label. */
  ownerId?: string;
  readyTimeoutMs?: number;
  /** Containers started at the same time by the refill. */
  startConcurrency?: number;
  /** How long close() waits for leased sandboxes before removing them. */
  drainTimeoutMs?: number;
  logger?: Logger;
}

interface Waiter {
  resolve(sandbox: Sandbox): void;
  reject(err: Error): void;
}

export class DockerSandboxPool implements SandboxPool {
  readonly owner: Owner;
  readonly image: string;
  private readonly docker: Docker;
  private readonly limits: SandboxLimits;
  private readonly warmTarget: number;
  private readonly max: number;
  private readonly readyTimeoutMs: number;
  private readonly startConcurrency: number;
  private readonly drainTimeoutMs: number;
  private readonly log: Logger;

  private readonly warm: WarmContainer[] = [];
  private readonly leased = new Set<LeasedSandbox>();
  private readonly waiters: Waiter[] = [];
  private starting = 0;
  private counters = { created: 0, lost: 0, failed: 0 };
  private failureStreak = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private destroyed: Promise<void> | null = null;
  private startsSettled: Promise<void> = Promise.resolve();
  private readonly removals = new Set<Promise<void>>();

  private constructor(options: DockerPoolOptions) {
    this.docker = options.docker ?? new Docker();
    this.image = options.image ?? DEFAULT_IMAGE;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.warmTarget = Math.max(0, options.warm ?? 2);
    this.max = Math.max(1, options.max ?? 16);
    this.readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.startConcurrency = Math.max(1, options.startConcurrency ?? 2);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.owner = currentOwner(options.ownerId ?? uuidv4());
    this.log = (options.logger ?? pino({ level: process.env.HGYM_LOG_LEVEL ?? 'warn' })).child({ pool: this.owner.id });
  }

  /**
   * Checks the engine and the image, removes containers whose owner is gone, and starts
   * filling the warm pool (without waiting for it).
   */
  static async start(options: DockerPoolOptions = {}): Promise<DockerSandboxPool> {
    const pool = new DockerSandboxPool(options);
    try {
      await pool.docker.ping();
    } catch (err) {
      throw hgymError('HGYM_ERR_DOCKER_UNAVAILABLE', (err as Error).message);
    }
    try {
      await pool.docker.getImage(pool.image).inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) throw hgymError('HGYM_ERR_IMAGE_MISSING', pool.image);
      throw translateDockerError(err, pool.image);
    }
    await pool.reapOrphans();
    pool.fill();
    return pool;
  }

  stats(): PoolStats {
    return { target: this.warmTarget, warm: this.warm.length, starting: this.starting, leased: this.leased.size, ...this.counters };
  }

  private get total(): number {
    return this.warm.length + this.starting + this.leased.size;
  }

  private get closed(): boolean {
    return this.closing !== null || this.destroyed !== null;
  }

  /** Resolves once `warm` containers are ready (or rejects after timeoutMs). */
  async waitWarm(count = this.warmTarget, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.warm.length < count) {
      if (this.closed) throw hgymError('HGYM_ERR_POOL_CLOSED');
      if (Date.now() > deadline) throw hgymError('HGYM_ERR_SANDBOX_START', `fewer than ${count} warm sandboxes after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Removes labelled containers whose owner is gone; never touches unlabelled ones. */
  async reapOrphans(): Promise<number> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [LABEL_OWNER] } });
    const now = Date.now();
    let removed = 0;
    await Promise.all(
      list.map(async (info) => {
        const why = orphanReason(info.Labels ?? {}, this.owner, now);
        if (why === null) return;
        this.log.info({ container_id: info.Id.slice(0, 12), owner: info.Labels?.[LABEL_OWNER], why }, 'removing orphaned sandbox');
        await this.remove(this.docker.getContainer(info.Id));
        removed++;
      }),
    );
    return removed;
  }

  async acquire(options: AcquireOptions = {}): Promise<Sandbox> {
    options.signal?.throwIfAborted();
    while (this.warm.length > 0) {
      if (this.closed) throw hgymError('HGYM_ERR_POOL_CLOSED');
      const candidate = this.warm.shift()!;
      this.fill();
      const fresh = Date.now() - candidate.createdAt < this.limits.lifetimeMs / 2;
      if (fresh && (await candidate.check()) && !this.closed) return this.lease(candidate);
      this.discard(candidate, fresh ? 'failed its readiness check' : 'too close to its maximum lifetime');
    }
    if (this.closed) throw hgymError('HGYM_ERR_POOL_CLOSED');
    if (this.total < this.max) return this.lease(await this.startOne());
    return this.waitForSandbox(options);
  }

  private waitForSandbox(options: AcquireOptions): Promise<Sandbox> {
    const waitMs = options.waitMs ?? 10_000;
    if (waitMs <= 0) return Promise.reject(hgymError('HGYM_ERR_CAPACITY', `all ${this.max} sandboxes are in use`));
    return new Promise<Sandbox>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        resolve: (s) => (done(), resolve(s)),
        reject: (e) => (done(), reject(e)),
      };
      const timer = setTimeout(
        () => waiter.reject(hgymError('HGYM_ERR_CAPACITY', `all ${this.max} sandboxes stayed in use for ${waitMs} ms`)),
        waitMs,
      );
      const onAbort = (): void => waiter.reject(options.signal!.reason as Error);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.priority) this.waiters.unshift(waiter);
      else this.waiters.push(waiter);
    });
  }

  private lease(warm: WarmContainer): LeasedSandbox {
    const sandbox = warm.lease((s) => this.onRelease(s));
    this.leased.add(sandbox);
    sandbox.onLost((reason) => {
      if (!this.leased.has(sandbox)) return;
      this.counters.lost++;
      this.log.warn({ container_id: sandbox.id.slice(0, 12), reason }, 'leased sandbox lost');
    });
    return sandbox;
  }

  private async onRelease(sandbox: LeasedSandbox): Promise<void> {
    this.leased.delete(sandbox);
    await this.remove(this.docker.getContainer(sandbox.id));
    this.handOff();
  }

  private discard(warm: WarmContainer, why: string): void {
    this.log.info({ container_id: warm.id.slice(0, 12), why }, 'discarding warm sandbox');
    warm.conn.close(why);
    void this.remove(warm.container);
  }

  /** Removes a container, tracked so that close() and destroy() can wait for it. */
  private remove(container: Docker.Container): Promise<void> {
    const removal = removeContainer(container, (line) => this.log.warn(line));
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
    return removal;
  }

  /** Starts one ready container; counts it as starting meanwhile. */
  private async startOne(): Promise<WarmContainer> {
    this.starting++;
    const started = startContainer(
      this.docker,
      containerSpec(this.image, this.limits, this.owner, Date.now()),
      this.readyTimeoutMs,
      (line) => this.log.warn({ source: 'executor' }, line),
    );
    this.startsSettled = Promise.all([this.startsSettled, started.catch(() => {})]).then(() => {});
    try {
      const { container, conn } = await started;
      this.counters.created++;
      this.failureStreak = 0;
      const warm = new WarmContainer(container, conn, Date.now());
      conn.onLost((reason) => this.onWarmLost(warm, reason));
      if (this.closed) {
        this.discard(warm, 'the pool closed while it started');
        throw hgymError('HGYM_ERR_POOL_CLOSED');
      }
      return warm;
    } catch (err) {
      if (!(err instanceof HgymError && err.code === 'HGYM_ERR_POOL_CLOSED')) {
        this.counters.failed++;
        this.failureStreak++;
      }
      throw err;
    } finally {
      this.starting--;
    }
  }

  private onWarmLost(warm: WarmContainer, reason: string): void {
    const i = this.warm.indexOf(warm);
    if (i < 0) return;
    this.warm.splice(i, 1);
    this.counters.lost++;
    this.log.warn({ container_id: warm.id.slice(0, 12), reason }, 'warm sandbox lost');
    void this.remove(warm.container);
    this.fill();
  }

  /** A newly started container goes to the longest waiter, or else into the warm list. */
  private deliver(warm: WarmContainer): void {
    const waiter = this.waiters[0];
    if (waiter) waiter.resolve(this.lease(warm));
    else this.warm.push(warm);
  }

  /** Gives a new container to the first waiter, if any, or refills. */
  private handOff(): void {
    if (this.waiters.length > 0 && !this.closed && this.total < this.max) {
      this.startOne().then(
        (warm) => this.deliver(warm),
        (err: Error) => this.waiters[0]?.reject(err),
      );
      return;
    }
    this.fill();
  }

  /** Starts containers in the background until the warm target is met. */
  private fill(): void {
    if (this.closed || this.retryTimer) return;
    while (this.warm.length + this.starting < this.warmTarget && this.total < this.max && this.starting < this.startConcurrency) {
      this.startOne().then(
        (warm) => {
          this.deliver(warm);
          this.fill();
        },
        (err: Error) => {
          if (this.closed) return;
          // Back off so a broken engine or image is not hammered in a tight loop.
          const delay = Math.min(30_000, 250 * 2 ** Math.min(this.failureStreak, 7));
          this.log.error({ err, retry_ms: delay }, 'starting a warm sandbox failed');
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.fill();
          }, delay);
          this.retryTimer.unref();
        },
      );
    }
  }

  close(): Promise<void> {
    if (this.destroyed) return this.destroyed;
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.stopAccepting();
    for (const warm of this.warm.splice(0)) this.discard(warm, 'the pool is closing');
    const deadline = Date.now() + this.drainTimeoutMs;
    while (this.leased.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await Promise.all([...this.leased].map((s) => s.release()));
    await this.startsSettled;
    await Promise.all(this.removals);
  }

  destroy(reason?: Error): Promise<void> {
    this.destroyed ??= (async () => {
      if (reason) this.log.error({ err: reason }, 'destroying sandbox pool');
      this.stopAccepting();
      for (const warm of this.warm.splice(0)) this.discard(warm, 'the pool was destroyed');
      await Promise.all([...this.leased].map((s) => s.release()));
      await this.startsSettled;
      await Promise.all(this.removals);
      await this.closing;
    })();
    return this.destroyed;
  }

  private stopAccepting(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const waiter of this.waiters.splice(0)) waiter.reject(hgymError('HGYM_ERR_POOL_CLOSED'));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
