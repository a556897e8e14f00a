/**
 * What a DockerSandboxPool's options (pool-options.ts) come to once defaults and bounds are
 * applied: the numbers the pool schedules, waits and probes by.
 */
import { availableParallelism } from 'node:os';
import { DEFAULT_LIMITS, type SandboxLimits } from './container.js';
import type { StageSpec } from '../env/sandbox.js';
import type { DockerPoolOptions } from './pool-options.js';
import type { RemovalPace } from './removals.js';
import type { WarmPolicy } from './warm-targets.js';

/** The sandbox image; HGYM_IMAGE overrides it, as it does for setup (docker/setup.sh). */
export const DEFAULT_IMAGE = process.env.HGYM_IMAGE ?? 'hgym/sandbox:latest';

export interface PoolSettings {
  readonly image: string;
  readonly limits: SandboxLimits;
  readonly bases: string | undefined;
  readonly stages: ReadonlyMap<string, StageSpec>;
  /** Its shares leave out the base image. */
  readonly policy: WarmPolicy & { readonly shares: ReadonlyMap<string, number> };
  readonly max: number;
  readonly readyTimeoutMs: number;
  readonly startConcurrency: number;
  readonly busyStartConcurrency: number;
  readonly busyRemoveConcurrency: number;
  readonly busyRemoveHoldMs: number;
  readonly refillQuietMs: number;
  readonly refillHoldMaxMs: number;
  readonly unpackConcurrency: number;
  readonly drainTimeoutMs: number;
  readonly probeMs: number;
  readonly probeTimeoutMs: number;
  readonly probeFailures: number;
  /** Without duplicates, and without the base image. */
  readonly environmentImages: readonly string[];
}

export function poolSettings(options: DockerPoolOptions): PoolSettings {
  const image = options.image ?? DEFAULT_IMAGE;
  const warm = Math.max(0, options.warm ?? 2);
  const envWarm = Math.max(0, options.envWarm ?? warm);
  const shares = new Map(Object.entries(options.shares ?? {}).filter(([i]) => i !== image));
  return {
    image,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    bases: options.bases,
    stages: new Map(Object.entries(options.stages ?? {})),
    policy: { warm, envWarm, maxWarm: Math.max(0, options.maxWarm ?? warm + envWarm), windowMs: Math.max(1, options.demandWindowMs ?? 120_000), shares },
    max: Math.max(1, options.max ?? 16),
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    startConcurrency: Math.max(1, options.startConcurrency ?? 4),
    unpackConcurrency: Math.max(1, options.unpackConcurrency ?? availableParallelism()),
    busyStartConcurrency: Math.max(1, Math.min(options.busyStartConcurrency ?? 1, options.startConcurrency ?? 4)),
    busyRemoveConcurrency: Math.max(1, options.busyRemoveConcurrency ?? 1),
    busyRemoveHoldMs: Math.max(0, options.busyRemoveHoldMs ?? 60_000),
    refillQuietMs: Math.max(0, options.refillQuietMs ?? 500),
    refillHoldMaxMs: Math.max(0, options.refillHoldMaxMs ?? 5_000),
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    probeMs: Math.max(50, options.probeMs ?? 2_000),
    probeTimeoutMs: Math.max(50, options.probeTimeoutMs ?? 3_000),
    probeFailures: Math.max(1, options.probeFailures ?? 2),
    environmentImages: [...new Set(options.images ?? [])].filter((i) => i !== image),
  };
}

/**
 * How many containers an engine starts at once for the refill: fewer while episodes run there
 * (`leased` of its sandboxes), so that creating containers does not take the CPU their steps
 * need; all it may otherwise.
 */
export function refillConcurrency(settings: PoolSettings, leased: number): number {
  return leased > 0 ? settings.busyStartConcurrency : settings.startConcurrency;
}

/**
 * How an engine removes containers (removals.ts): while episodes run there (`leased`), each is
 * held back up to busyRemoveHoldMs (at most `max` at once) and then removed a few at a time;
 * otherwise, or once the pool is `closing`, all at once.
 */
export function removePace(settings: PoolSettings, leased: number, closing: boolean): RemovalPace {
  if (closing || leased === 0) return { most: Infinity, holdMs: 0, backlog: 0 };
  return { most: settings.busyRemoveConcurrency, holdMs: settings.busyRemoveHoldMs, backlog: settings.max };
}
