import t from 'tap';
import { baseTarget, environmentTargets, PRIOR_HEADROOM, priorTarget, pruneDemand, type EnvironmentDemand, type WarmPolicy } from '../../docker/warm-targets.js';

const policy: WarmPolicy = { warm: 2, envWarm: 3, maxWarm: 6, windowMs: 1_000 };
const NOW = 100_000;

/** An environment with `n` acquires at the given times (oldest first). */
function env(image: string, ...at: number[]): EnvironmentDemand {
  return { image, demand: at };
}

t.test('pruneDemand keeps exactly the acquires after now - window', async (t) => {
  const demand = [NOW - 1_500, NOW - 1_000, NOW - 999, NOW - 10, NOW];
  pruneDemand(demand, NOW, 1_000);
  t.same(demand, [NOW - 999, NOW - 10, NOW], 'one at the window edge is out, one just inside stays');
  pruneDemand(demand, NOW + 999, 1_000);
  t.same(demand, [NOW], 'in place, as time moves on');
  pruneDemand(demand, NOW + 1_000, 1_000);
  t.same(demand, [], 'all gone');
  const empty: number[] = [];
  pruneDemand(empty, NOW, 1_000);
  t.same(empty, []);
});

t.test('the base target is warm, capped by maxWarm', async (t) => {
  t.equal(baseTarget(policy), 2);
  t.equal(baseTarget({ ...policy, maxWarm: 1 }), 1);
  t.equal(baseTarget({ ...policy, warm: 0 }), 0);
});

t.test('an environment is as warm as its acquires in the window, at most envWarm', async (t) => {
  const targets = environmentTargets([env('one', NOW - 5), env('five', NOW - 50, NOW - 40, NOW - 30, NOW - 20, NOW - 10)], policy, NOW);
  t.equal(targets.get('one'), 1);
  t.equal(targets.get('five'), 3, 'capped by envWarm');
});

t.test('environments share the room maxWarm leaves after the base target, by demand', async (t) => {
  // maxWarm 6 - warm 2 = 4 for environments: the busiest takes 3 (envWarm), the next the 1 left.
  const targets = environmentTargets(
    [env('two', NOW - 20, NOW - 10), env('three', NOW - 30, NOW - 20, NOW - 10), env('one', NOW - 1)],
    policy,
    NOW,
  );
  t.equal(targets.get('three'), 3);
  t.equal(targets.get('two'), 1);
  t.equal(targets.get('one'), 0);
  t.equal([...targets.values()].reduce((a, b) => a + b, 0), 4);
  const none = environmentTargets([env('x', NOW - 1)], { ...policy, maxWarm: 2 }, NOW);
  t.equal(none.get('x'), 0, 'no room when the base target takes all of maxWarm');
});

t.test('equal demand: the environment acquired last goes first', async (t) => {
  const tight = { ...policy, maxWarm: 3 };
  const targets = environmentTargets([env('earlier', NOW - 30), env('later', NOW - 5)], tight, NOW);
  t.equal(targets.get('later'), 1);
  t.equal(targets.get('earlier'), 0);
  const swapped = environmentTargets([env('later', NOW - 5), env('earlier', NOW - 30)], tight, NOW);
  t.same([...swapped.entries()].sort(), [...targets.entries()].sort(), 'the order given does not matter');
});

t.test('demand outside the window does not count, and an idle environment decays to 0', async (t) => {
  const busy = env('busy', NOW - 900, NOW - 500, NOW - 100);
  t.equal(environmentTargets([busy], policy, NOW).get('busy'), 3);
  t.equal(environmentTargets([busy], policy, NOW + 450).get('busy'), 2, 'the oldest acquire left the window');
  t.equal(busy.demand.length, 2, 'its demand is pruned in place');
  t.equal(environmentTargets([busy], policy, NOW + 850).get('busy'), 1);
  t.equal(environmentTargets([busy], policy, NOW + 900).get('busy'), 0, 'no acquire for a window: 0');
  t.same(busy.demand, []);
  // Old demand of another environment does not take room from a busy one.
  const targets = environmentTargets([env('stale', NOW - 2_000, NOW - 1_900, NOW - 1_800), env('fresh', NOW - 1)], { ...policy, maxWarm: 3 }, NOW);
  t.equal(targets.get('fresh'), 1);
  t.equal(targets.get('stale'), 0);
});

t.test('shares split warm before demand: each environment its part, the base image the rest', async (t) => {
  const shared: WarmPolicy = { warm: 10, envWarm: 10, maxWarm: 20, windowMs: 1_000, shares: new Map([['big', 0.3], ['small', 0.04]]) };
  t.equal(baseTarget(shared), 7, '10 less 3 (rounded 3.4)');
  t.equal(PRIOR_HEADROOM, 2);
  t.equal(priorTarget(shared, 'big'), 6, 'twice its share: a batch may hold more of it than its share');
  t.equal(priorTarget(shared, 'small'), 1, 'twice 0.4 rounds to 1');
  t.equal(priorTarget({ ...shared, shares: new Map([['tiny', 0.02]]) }, 'tiny'), 0, 'below a quarter of a sandbox: none');
  t.equal(priorTarget(shared, 'other'), 0);
  const targets = environmentTargets([env('big'), env('small', NOW - 10, NOW - 5)], shared, NOW);
  t.equal(targets.get('big'), 6, 'twice its share with no demand');
  t.equal(targets.get('small'), 2, 'demand above the prior wins');
  const busy = environmentTargets([env('big', ...Array.from({ length: 8 }, (_, i) => NOW - 8 + i))], shared, NOW);
  t.equal(busy.get('big'), 8, 'and for a shared one too');
  t.equal(environmentTargets([env('big')], { ...shared, envWarm: 4 }, NOW).get('big'), 4, 'within envWarm');
  t.equal(environmentTargets([env('big'), env('small')], { ...shared, maxWarm: 11 }, NOW).get('big'), 4, 'within the room maxWarm leaves after the base image');
  t.equal(baseTarget({ ...shared, shares: new Map([['a', 0.8], ['b', 0.7]]) }), 0, 'shares above 1 leave the base image nothing, not less');
});
