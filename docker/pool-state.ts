/**
 * The pool's bookkeeping, per engine and per image: which containers are warm, starting and
 * leased, their targets and demand, and the counts the pool schedules by (pool.ts).
 */
import type { ImagePoolStats } from '../env/sandbox.js';
import type { ContainerEngine } from './engine.js';
import type { Budget } from '../env/budget.js';
import type { LeasedSandbox, WarmContainer } from './sandbox.js';

/** One image's containers on one engine; the base image's lives as long as the pool. */
export interface ImageSlots {
  readonly image: string;
  /** Oldest first. */
  readonly warm: WarmContainer[];
  readonly leased: Set<LeasedSandbox>;
  starting: number;
  target: number;
  /** When its acquires were served on this engine, oldest first, within the demand window. */
  demand: number[];
  /**
   * Refill failures in a row and the timer that retries after them: per image, so that a
   * broken environment image does not hold back the base image's refill.
   */
  failureStreak: number;
  retryTimer: NodeJS.Timeout | null;
}

export function emptySlots(image: string, target = 0): ImageSlots {
  return { image, warm: [], leased: new Set(), starting: 0, target, demand: [], failureStreak: 0, retryTimer: null };
}

/** One engine's share of the pool. */
export interface EngineState {
  readonly engine: ContainerEngine;
  up: boolean;
  /** Why it is down, while it is. */
  downReason: string | null;
  probeFailures: number;
  probing: boolean;
  readonly base: ImageSlots;
  /** Every image with containers or recent demand here, in the order the refill serves them. */
  images: Map<string, ImageSlots>;
  /**
   * Containers created here and not yet ready (or failed): held like warm and leased ones, so
   * that a start slower than the start grace is not taken for an orphan by this pool's reaper.
   */
  readonly startingIds: Set<string>;
  /** Warm containers taken out of their set while an acquire checks that they answer, by id. */
  readonly checking: Set<string>;
  /** Archives unpacking in its sandboxes at once, one unit each (LeasedSandbox.putArchive). */
  readonly unpacks: Budget;
  /** Containers being removed or waiting their turn (removeConcurrency), by id. */
  readonly removing: Map<string, Promise<void>>;
  /** Removals waiting their turn, in order, with when each was asked for; and how many run. */
  readonly removeQueue: { go: () => void; at: number }[];
  removesRunning: number;
  /** Set while a removal held back (removals.ts) waits to fall due. */
  removeTimer: NodeJS.Timeout | null;
  /** Images made present on this engine (checked or copied), by image. */
  readonly present: Map<string, Promise<void>>;
  readonly counters: { created: number; lost: number; failed: number };
}

/**
 * An engine's state as the pool starts: the base image's slots, then the environments' that
 * have a target before demand (their prior), so they are warmed from the start.
 */
export function newEngineState(engine: ContainerEngine, base: ImageSlots, environments: readonly ImageSlots[], unpacks: Budget): EngineState {
  const images = new Map([base, ...environments.filter((s) => s.target > 0)].map((s) => [s.image, s]));
  return { engine, up: true, downReason: null, probeFailures: 0, probing: false, base, images, startingIds: new Set(), checking: new Set(), unpacks, removing: new Map(), removeQueue: [], removesRunning: 0, removeTimer: null, present: new Map(), counters: { created: 0, lost: 0, failed: 0 } };
}

export function sum(state: EngineState, count: (s: ImageSlots) => number): number {
  let n = 0;
  for (const s of state.images.values()) n += count(s);
  return n;
}

export function totalOf(state: EngineState): number {
  return sum(state, (s) => s.warm.length + s.starting + s.leased.size);
}

export function slotsOf(state: EngineState, image: string): ImageSlots {
  let s = state.images.get(image);
  if (!s) state.images.set(image, (s = emptySlots(image)));
  return s;
}

/** The engine that answers and holds most warm containers of `image`, if any does. */
export function warmestEngine(engines: readonly EngineState[], image: string): EngineState | undefined {
  let best: EngineState | undefined;
  for (const e of engines) {
    const n = e.up ? (e.images.get(image)?.warm.length ?? 0) : 0;
    if (n > 0 && (!best || n > best.images.get(image)!.warm.length)) best = e;
  }
  return best;
}

export function slotStats(s: { target: number; warm: number; starting: number; leased: number }): ImagePoolStats {
  return { target: s.target, warm: s.warm, starting: s.starting, leased: s.leased };
}

/** Why each engine is down (or `up`), for an error when none answers. */
export function downReasons(engines: readonly EngineState[]): string {
  return engines.map((e) => `${e.engine.name}: ${e.downReason ?? 'up'}`).join('; ');
}
