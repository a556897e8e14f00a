/** What a DockerSandboxPool is started with (pool.ts). */
import type { Logger } from 'pino';
import type { SandboxLimits } from './container.js';
import type { StageSpec } from '../env/sandbox.js';
import type { ContainerEngine } from './engine.js';

export interface DockerPoolOptions {
  /** The engines to spread sandboxes over; default: the local Docker engine (DOCKER_HOST). */
  engines?: ContainerEngine[];
  /**
   * Where images missing on an engine are copied from, when none of `engines` has them: the
   * engine images are built on. Default: none beyond `engines`.
   */
  imageSource?: ContainerEngine;
  /** The base sandbox image; environment images are built FROM it. */
  image?: string;
  /**
   * Environment images to make present on every engine at start and whenever an engine rejoins,
   * in the background (an image still missing on an engine is copied at its first acquire there).
   */
  images?: string[];
  /**
   * Ready containers each engine keeps waiting for an episode: of the base image, less the
   * environments' `shares` of it.
   */
  warm?: number;
  /**
   * Expected share of acquires per environment image (0..1; e.g. its instances over the
   * corpus's): `warm` is split by it before any demand is seen (warm-targets.ts).
   */
  shares?: Record<string, number>;
  /** Most ready containers of one environment image per engine; default `warm`. */
  envWarm?: number;
  /**
   * Most ready containers of all images together per engine; default `warm + envWarm` (room for the
   * base image and one environment as warm as it). The base image's `warm` is served first, capped by it.
   */
  maxWarm?: number;
  /** How far back an environment's served acquires count as its demand; default 120 s. */
  demandWindowMs?: number;
  /** Most containers at once on each engine: warm, starting and leased together, of every image. */
  max?: number;
  limits?: Partial<SandboxLimits>;
  /** This server instance's id, the value of every container's hgym.owner label. */
  ownerId?: string;
  readyTimeoutMs?: number;
  /** Containers each engine starts at the same time for the refill while no episode runs there. */
  startConcurrency?: number;
  /**
   * Containers each engine starts at the same time for the refill while any of its sandboxes is
   * leased: creating one costs the engine's machine about half a CPU-second, which the running
   * episodes' steps need. Default 1. An acquire that finds no warm sandbox starts its own at once,
   * whatever this is.
   */
  busyStartConcurrency?: number;
  /**
   * Containers each engine removes at the same time while any of its sandboxes is leased; with
   * none leased, all at once. Ending a container (its processes, cgroups and namespaces) costs
   * the engine's machine CPU that the running episodes' steps need, and a batch of episodes
   * finishing together would otherwise end all their containers at once. A released sandbox is
   * halted at once (nothing of the agent's runs on) and waits its turn. Default 1.
   */
  busyRemoveConcurrency?: number;
  /**
   * How long a released container may wait for its removal while any sandbox of its engine is
   * leased, before it is removed in its turn (busyRemoveConcurrency): episodes still stepping
   * there do not share the CPU with containers being ended, which costs most when a batch
   * finishes together. A waiting container is halted (only its idle executor runs) but holds its
   * memory, its workspace's included; at most `max` wait at once per engine (beyond that the
   * oldest is removed in its turn). Once no sandbox of the engine is leased, or the pool closes,
   * every waiting container is removed at once. 0: none waits. Default 60 s.
   */
  busyRemoveHoldMs?: number;
  /**
   * How long after the last acquire the background refill waits before it starts containers: a
   * batch of resets lays out its workspaces without containers starting beside them (their
   * engine's, runtime's and executor's CPU); an image with no warm sandbox left on an engine
   * still starts one at a time, and acquires that find none are served at once all the same.
   * Never longer than refillHoldMaxMs in a row, so a steady stream of acquires is refilled as
   * before. 0: no wait. Default 500 ms.
   */
  refillQuietMs?: number;
  /** The longest the refill waits in a row for acquires to stop (refillQuietMs). Default 5 s. */
  refillHoldMaxMs?: number;
  /**
   * Workspace archives each engine's sandboxes unpack at once; more wait their turn, in order.
   * Unpacking is CPU work in the sandbox: beyond the engine machine's CPUs, more at once only
   * makes each finish later. Default: this machine's CPUs (set it for a remote engine).
   */
  unpackConcurrency?: number;
  /**
   * A folder of this host holding repository bases (env/corpus/bases.ts, written before the pool
   * starts): engines on this host mount it in every sandbox, and a reset lays out its workspace
   * from the base instead of unpacking the whole archive. Default: none.
   */
  bases?: string;
  /**
   * By image: a base its warm sandboxes lay out ahead, but the files any instance changes
   * (corpusStages), so that a reset of it only finishes the work tree. Default: none.
   */
  stages?: Readonly<Record<string, StageSpec>>;
  /** How long close() waits for leased sandboxes before removing them. */
  drainTimeoutMs?: number;
  /** How often every engine is pinged; an engine that fails `probeFailures` pings in a row is down. */
  probeMs?: number;
  probeTimeoutMs?: number;
  probeFailures?: number;
  logger?: Logger;
}
