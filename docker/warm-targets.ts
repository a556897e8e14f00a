/**
 * How many ready sandboxes of each image one engine keeps: a pure computation from demand, so it
 * is tested on its own with a fake clock.
 *
 * The base image keeps `warm` ready, as configured. An environment keeps as many ready as it had
 * acquires served in the last `windowMs`, at most `envWarm`: the rollouts of one instance come in
 * groups, and a busy environment's next group is likely the size of its last. All warm sandboxes
 * together stay within `maxWarm`: the base image's target first, then environments by demand (the
 * latest acquire breaks ties). An environment without an acquire for a window drops to 0.
 *
 * Before any demand is seen, `shares` splits `warm` between the images: an environment expected
 * to serve a fifth of the acquires (a fifth of the corpus's instances) takes a fifth of `warm`
 * from the base image, which keeps the rest, so a trainer's first batch finds each image's
 * sandboxes ready. A batch's part of an environment varies widely around its share, though: its
 * instances come in groups (a group resets one instance several times), so a batch holds none of
 * an environment's instances or several. So an environment keeps PRIOR_HEADROOM times its share
 * ready (within envWarm and maxWarm, above the base image's part): a batch with more of it than
 * its share still finds its sandboxes warm instead of waiting for containers to start.
 */

export interface WarmPolicy {
  warm: number;
  envWarm: number;
  maxWarm: number;
  windowMs: number;
  /** Expected share of acquires per environment image (their sum at most 1); absent: 0. */
  shares?: ReadonlyMap<string, number>;
}

export interface EnvironmentDemand {
  image: string;
  /** When its acquires were served, oldest first; pruned here to the window. */
  demand: number[];
}

/** Drops the acquires older than the window from `demand` (oldest first), in place. */
export function pruneDemand(demand: number[], nowMs: number, windowMs: number): void {
  const since = nowMs - windowMs;
  const kept = demand.findIndex((at) => at > since);
  demand.splice(0, kept < 0 ? demand.length : kept);
}

/** The environments' part of `warm` by their shares, each rounded (at most all of it). */
function sharedShare(policy: WarmPolicy): number {
  let total = 0;
  for (const share of policy.shares?.values() ?? []) total += Math.max(0, share);
  return Math.min(1, total);
}

export function baseTarget(policy: WarmPolicy): number {
  return Math.min(Math.round(policy.warm * (1 - sharedShare(policy))), policy.maxWarm);
}

/** How many times its share of `warm` an environment keeps ready before demand. */
export const PRIOR_HEADROOM = 2;

/** An environment's warm target before demand: PRIOR_HEADROOM times its share of `warm`. */
export function priorTarget(policy: WarmPolicy, image: string): number {
  return Math.round(policy.warm * PRIOR_HEADROOM * Math.max(0, policy.shares?.get(image) ?? 0));
}

/** The warm target of each environment, after pruning every environment's demand to the window. */
export function environmentTargets(environments: readonly EnvironmentDemand[], policy: WarmPolicy, nowMs: number): Map<string, number> {
  for (const e of environments) pruneDemand(e.demand, nowMs, policy.windowMs);
  const wanted = (e: EnvironmentDemand): number => Math.max(e.demand.length, priorTarget(policy, e.image));
  const ranked = [...environments].sort((a, b) => wanted(b) - wanted(a) || (b.demand.at(-1) ?? 0) - (a.demand.at(-1) ?? 0));
  let room = Math.max(0, policy.maxWarm - baseTarget(policy));
  const targets = new Map<string, number>();
  for (const e of ranked) {
    const target = Math.min(wanted(e), policy.envWarm, room);
    targets.set(e.image, target);
    room -= target;
  }
  return targets;
}
