/**
 * The Docker adapter of the SandboxPool port: warm pools of started, ready containers, one
 * per episode and never reused, refilled in the background: the base sandbox image's, and one
 * per environment image (built FROM it) sized by that environment's recent demand.
 */
import Docker from 'dockerode';
import { pino, type Logger } from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { hgymError, HgymError } from '../env/errors.js';
import type { AcquireOptions, ImagePoolStats, PoolStats, Sandbox, SandboxPool } from '../env/sandbox.js';
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

/** How often warm targets are recomputed without an acquire, so that idle demand decays. */
const REBALANCE_MS = 5_000;
/** How often containers of owners that are gone are looked for again after start. */
const REAP_MS = 10_000;

export interface DockerPoolOptions {
  docker?: Docker;
  /** The base sandbox image; environment images are built FROM it. */
  image?: string;
  /** Ready containers of the base image kept waiting for an episode. */
  warm?: number;
  /** Most ready containers of one environment image; default `warm`. */
  envWarm?: number;
  /**
   * Most ready containers of all images together; default `warm + envWarm` (room for the base
   * image and one environment as warm as it). The base image's `warm` is served first, capped by it.
   */
  maxWarm?: number;
  /** How far back an environment's served acquires count as its demand; default 120 s. */
  demandWindowMs?: number;
  /** Most containers at once: warm, starting and leased together, of every image. */
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
  image: string;
  resolve(sandbox: Sandbox): void;
  reject(err: Error): void;
}

/** One image's containers; the base image's lives as long as the pool. */
interface ImagePool {
  readonly image: string;
  /** Oldest first. */
  readonly warm: WarmContainer[];
  readonly leased: Set<LeasedSandbox>;
  starting: number;
  target: number;
  /** When its acquires were served, oldest first, within the demand window. */
  readonly demand: number[];
  /**
   * Refill failures in a row and the timer that retries after them: per image, so that a
   * broken environment image does not hold back the base image's refill.
   */
  failureStreak: number;
  retryTimer: NodeJS.Timeout | null;
}

function emptyImagePool(image: string): ImagePool {
  return { image, warm: [], leased: new Set(), starting: 0, target: 0, demand: [], failureStreak: 0, retryTimer: null };
}

/**
 * Warm targets. The base image keeps `warm` ready, as configured. An environment keeps as
 * many ready as it had acquires served in the last `demandWindowMs`, at most `envWarm`: the
 * rollouts of one instance come in groups, and a busy environment's next group is likely the
 * size of its last. An acquire that fails is no demand, so a bad image name is not retried by
 * the refill. All warm containers together stay within `maxWarm`: the base image's target
 * first, then environments by demand (the latest acquire breaks ties). Targets are recomputed
 * on each served acquire and on a timer (every REBALANCE_MS, or half the window if shorter),
 * so an environment without an acquire for a window drops to 0; warm containers above their
 * image's target are removed, oldest first. `max` bounds every container of every image; at
 * `max` a warm container of another image gives its slot to an acquire (makeRoom).
 */
export class DockerSandboxPool implements SandboxPool {
  readonly owner: Owner;
  readonly image: string;
  private readonly docker: Docker;
  private readonly limits: SandboxLimits;
  private readonly warmTarget: number;
  private readonly envWarm: number;
  private readonly maxWarm: number;
  private readonly demandWindowMs: number;
  private readonly max: number;
  private readonly readyTimeoutMs: number;
  private readonly startConcurrency: number;
  private readonly drainTimeoutMs: number;
  private readonly log: Logger;

  private readonly base: ImagePool;
  /** Every image with containers or recent demand, in the order the refill serves them. */
  private images: Map<string, ImagePool>;
  private readonly waiters: Waiter[] = [];
  private counters = { created: 0, lost: 0, failed: 0 };
  private rebalanceTimer: NodeJS.Timeout | null = null;
  private reapTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private destroyed: Promise<void> | null = null;
  private startsSettled: Promise<void> = Promise.resolve();
  private readonly removals = new Set<Promise<void>>();

  private constructor(options: DockerPoolOptions) {
    this.docker = options.docker ?? new Docker();
    this.image = options.image ?? DEFAULT_IMAGE;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.warmTarget = Math.max(0, options.warm ?? 2);
    this.envWarm = Math.max(0, options.envWarm ?? this.warmTarget);
    this.maxWarm = Math.max(0, options.maxWarm ?? this.warmTarget + this.envWarm);
    this.demandWindowMs = Math.max(1, options.demandWindowMs ?? 120_000);
    this.max = Math.max(1, options.max ?? 16);
    this.readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.startConcurrency = Math.max(1, options.startConcurrency ?? 2);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.owner = currentOwner(options.ownerId ?? uuidv4());
    this.log = (options.logger ?? pino({ level: process.env.HGYM_LOG_LEVEL ?? 'warn' })).child({ pool: this.owner.id });
    this.base = { ...emptyImagePool(this.image), target: Math.min(this.warmTarget, this.maxWarm) };
    this.images = new Map([[this.image, this.base]]);
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
    pool.rebalanceTimer = setInterval(() => pool.rebalance(), Math.max(100, Math.min(REBALANCE_MS, pool.demandWindowMs / 2)));
    // Again now and then: an owner killed while the engine was still creating one of its
    // containers leaves it behind after the first sweep.
    pool.reapTimer = setInterval(() => {
      if (!pool.closed) pool.reapOrphans().catch((err: unknown) => pool.log.warn({ err }, 'removing orphaned sandboxes failed'));
    }, REAP_MS);
    pool.reapTimer.unref();
    pool.rebalanceTimer.unref();
    return pool;
  }

  stats(): PoolStats {
    const environments: Record<string, ImagePoolStats> = {};
    for (const p of this.images.values()) {
      if (p !== this.base) environments[p.image] = { target: p.target, warm: p.warm.length, starting: p.starting, leased: p.leased.size };
    }
    const [warm, starting, leased] = [this.sum((p) => p.warm.length), this.sum((p) => p.starting), this.sum((p) => p.leased.size)];
    return { target: this.base.target, warm, starting, leased, ...this.counters, environments };
  }

  private sum(count: (p: ImagePool) => number): number {
    let n = 0;
    for (const p of this.images.values()) n += count(p);
    return n;
  }

  private get total(): number {
    return this.sum((p) => p.warm.length + p.starting + p.leased.size);
  }

  /** The image's entry, created on first use. */
  private poolOf(image: string): ImagePool {
    let p = this.images.get(image);
    if (!p) this.images.set(image, (p = emptyImagePool(image)));
    return p;
  }

  private get closed(): boolean {
    return this.closing !== null || this.destroyed !== null;
  }

  /** Resolves once `count` containers of `image` are ready (or rejects after timeoutMs). */
  async waitWarm(count = this.base.target, timeoutMs = 60_000, image = this.image): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.images.get(image)?.warm.length ?? 0) < count) {
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
    if (this.closed) throw hgymError('HGYM_ERR_POOL_CLOSED');
    const image = options.image ?? this.image;
    // Looked up again after each await: an image with nothing left may be forgotten meanwhile.
    for (let pool = this.poolOf(image); pool.warm.length > 0; pool = this.poolOf(image)) {
      if (this.closed) throw hgymError('HGYM_ERR_POOL_CLOSED');
      const candidate = pool.warm.shift()!;
      this.fill();
      const fresh = Date.now() - candidate.createdAt < this.limits.lifetimeMs / 2;
      if (fresh && (await candidate.check()) && !this.closed) return this.lease(image, candidate);
      this.discard(candidate, fresh ? 'failed its readiness check' : 'too close to its maximum lifetime');
    }
    if (this.closed) throw hgymError('HGYM_ERR_POOL_CLOSED');
    const pool = this.poolOf(image);
    if (!this.makeRoom(pool)) return this.waitForSandbox(image, options);
    try {
      return this.lease(image, await this.startOne(pool));
    } catch (err) {
      // Its slot is free again, and a waiter of another image may be able to use it.
      this.handOff();
      throw err;
    }
  }

  /**
   * Whether a container of `pool`'s image may start now. At `max`, a warm container of another
   * image gives up its slot (the last image in refill order, its oldest container): an episode
   * asking now comes before one that may ask later.
   */
  private makeRoom(pool: ImagePool): boolean {
    if (this.total < this.max) return true;
    const victim = [...this.images.values()].reverse().find((p) => p !== pool && p.warm.length > 0);
    if (!victim) return false;
    this.discard(victim.warm.shift()!, `a sandbox of ${pool.image} needs its slot`);
    return true;
  }

  private waitForSandbox(image: string, options: AcquireOptions): Promise<Sandbox> {
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
        image,
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

  /** Every served acquire goes through here, so this is where demand is counted. */
  private lease(image: string, warm: WarmContainer): LeasedSandbox {
    const pool = this.poolOf(image);
    const sandbox = warm.lease((s) => this.onRelease(pool, s));
    pool.leased.add(sandbox);
    sandbox.onLost((reason) => {
      if (!pool.leased.has(sandbox)) return;
      this.counters.lost++;
      this.log.warn({ container_id: sandbox.id.slice(0, 12), image: pool.image, reason }, 'leased sandbox lost');
    });
    if (pool !== this.base) pool.demand.push(Date.now());
    this.rebalance();
    return sandbox;
  }

  private async onRelease(pool: ImagePool, sandbox: LeasedSandbox): Promise<void> {
    pool.leased.delete(sandbox);
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

  /** Starts one ready container of `pool`'s image; counts it as starting meanwhile. */
  private async startOne(pool: ImagePool): Promise<WarmContainer> {
    pool.starting++;
    const started = startContainer(
      this.docker,
      containerSpec(pool.image, this.limits, this.owner, Date.now()),
      this.readyTimeoutMs,
      (line) => this.log.warn({ source: 'executor' }, line),
    );
    this.startsSettled = Promise.all([this.startsSettled, started.catch(() => {})]).then(() => {});
    try {
      const { container, conn } = await started;
      this.counters.created++;
      pool.failureStreak = 0;
      const warm = new WarmContainer(container, conn, Date.now());
      conn.onLost((reason) => this.onWarmLost(pool.image, warm, reason));
      if (this.closed) {
        this.discard(warm, 'the pool closed while it started');
        throw hgymError('HGYM_ERR_POOL_CLOSED');
      }
      return warm;
    } catch (err) {
      if (!(err instanceof HgymError && err.code === 'HGYM_ERR_POOL_CLOSED')) this.counters.failed++;
      throw err;
    } finally {
      pool.starting--;
    }
  }

  private onWarmLost(image: string, warm: WarmContainer, reason: string): void {
    const pool = this.images.get(image);
    const i = pool?.warm.indexOf(warm) ?? -1;
    if (!pool || i < 0) return;
    pool.warm.splice(i, 1);
    this.counters.lost++;
    this.log.warn({ container_id: warm.id.slice(0, 12), image: pool.image, reason }, 'warm sandbox lost');
    void this.remove(warm.container);
    this.handOff();
  }

  /**
   * A newly started container goes to the longest waiter of its image, or else into its warm
   * list. While a waiter of another image waits, a warm container would only hold its slot:
   * the slot goes to that waiter instead.
   */
  private deliver(image: string, warm: WarmContainer): void {
    const waiter = this.waiters.find((w) => w.image === image);
    if (waiter) return waiter.resolve(this.lease(image, warm));
    if (this.waiters.length > 0) {
      this.discard(warm, 'a sandbox of another image is waited for');
      return this.handOff();
    }
    const pool = this.poolOf(image);
    pool.warm.push(warm);
    this.trim(pool);
  }

  /** Gives a new container of its image to the first waiter, if any, or refills. */
  private handOff(): void {
    const waiter = this.waiters[0];
    if (!waiter || this.closed) return this.fill();
    const pool = this.poolOf(waiter.image);
    if (!this.makeRoom(pool)) return;
    this.startOne(pool).then(
      (warm) => this.deliver(pool.image, warm),
      (err: Error) => {
        this.waiters.find((w) => w.image === pool.image)?.reject(err);
        this.handOff();
      },
    );
  }

  /**
   * Starts containers in the background until every image's warm target is met, in refill
   * order. Not while anyone waits: then every free slot is a waiter's.
   */
  private fill(): void {
    if (this.closed || this.waiters.length > 0) return;
    for (const pool of this.images.values()) {
      while (!pool.retryTimer && pool.warm.length + pool.starting < pool.target && this.total < this.max && this.sum((p) => p.starting) < this.startConcurrency) {
        this.startOne(pool).then(
          (warm) => {
            this.deliver(pool.image, warm);
            this.fill();
          },
          (err: Error) => {
            if (this.closed) return;
            // Back off so a broken engine or image is not hammered in a tight loop.
            const delay = Math.min(30_000, 250 * 2 ** Math.min(++pool.failureStreak, 7));
            this.log.error({ err, image: pool.image, retry_ms: delay }, 'starting a warm sandbox failed');
            pool.retryTimer = setTimeout(() => {
              pool.retryTimer = null;
              this.fill();
            }, delay);
            pool.retryTimer.unref();
            this.handOff();
          },
        );
      }
    }
  }

  /** Removes an image's warm containers above its target, oldest first. */
  private trim(pool: ImagePool): void {
    while (pool.warm.length > pool.target) this.discard(pool.warm.shift()!, 'above its image\'s warm target');
  }

  /** Recomputes the warm targets (see the class comment), trims, forgets idle environments, refills. */
  private rebalance(): void {
    if (this.closed) return;
    const since = Date.now() - this.demandWindowMs;
    const environments = [...this.images.values()].filter((p) => p !== this.base);
    for (const p of environments) {
      const aged = p.demand.findIndex((at) => at > since);
      p.demand.splice(0, aged < 0 ? p.demand.length : aged);
    }
    environments.sort((a, b) => b.demand.length - a.demand.length || (b.demand.at(-1) ?? 0) - (a.demand.at(-1) ?? 0));
    let room = this.maxWarm - this.base.target;
    for (const p of environments) {
      p.target = Math.min(p.demand.length, this.envWarm, room);
      room -= p.target;
      this.trim(p);
    }
    this.trim(this.base);
    const live = environments.filter((p) => p.demand.length + p.warm.length + p.starting + p.leased.size > 0 || p.retryTimer !== null);
    this.images = new Map([this.base, ...live].map((p) => [p.image, p]));
    this.fill();
  }

  close(): Promise<void> {
    if (this.destroyed) return this.destroyed;
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.stopAccepting();
    this.discardWarm('the pool is closing');
    const deadline = Date.now() + this.drainTimeoutMs;
    while (this.sum((p) => p.leased.size) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await this.releaseAll();
    await this.startsSettled;
    await Promise.all(this.removals);
  }

  destroy(reason?: Error): Promise<void> {
    this.destroyed ??= (async () => {
      if (reason) this.log.error({ err: reason }, 'destroying sandbox pool');
      this.stopAccepting();
      this.discardWarm('the pool was destroyed');
      await this.releaseAll();
      await this.startsSettled;
      await Promise.all(this.removals);
      await this.closing;
    })();
    return this.destroyed;
  }

  private discardWarm(why: string): void {
    for (const p of this.images.values()) for (const warm of p.warm.splice(0)) this.discard(warm, why);
  }

  private async releaseAll(): Promise<void> {
    await Promise.all([...this.images.values()].flatMap((p) => [...p.leased].map((s) => s.release())));
  }

  private stopAccepting(): void {
    if (this.rebalanceTimer) clearInterval(this.rebalanceTimer);
    this.rebalanceTimer = null;
    if (this.reapTimer) clearInterval(this.reapTimer);
    this.reapTimer = null;
    for (const p of this.images.values()) {
      if (p.retryTimer) clearTimeout(p.retryTimer);
      p.retryTimer = null;
    }
    for (const waiter of this.waiters.splice(0)) waiter.reject(hgymError('HGYM_ERR_POOL_CLOSED'));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
