/** The transfer budget: bytes in flight stay within it, in the order asked, and a large transfer goes alone. */
import t from 'tap';
import { Budget } from '../../env/budget.js';

t.test('within the budget, in order; one larger than it goes alone', async (t) => {
  const budget = new Budget(10);
  const order: string[] = [];
  const a = await budget.acquire(6);
  const b = budget.acquire(6).then((release) => (order.push('b'), release));
  const c = budget.acquire(3).then((release) => (order.push('c'), release));
  await new Promise((r) => setImmediate(r));
  t.same(order, [], 'b does not fit beside a, and c waits behind b though it would fit');
  a();
  a();
  const releaseB = await b;
  const releaseC = await c;
  t.same(order, ['b', 'c'], 'b then c, together within 10 (a released once, twice is nothing)');
  const big = budget.acquire(50).then((release) => (order.push('big'), release));
  await new Promise((r) => setImmediate(r));
  t.same(order, ['b', 'c'], 'the large one waits for the others');
  releaseB();
  releaseC();
  const releaseBig = await big;
  t.same(order, ['b', 'c', 'big'], 'then goes alone');
  const next = budget.acquire(1).then((release) => (order.push('next'), release));
  await new Promise((r) => setImmediate(r));
  t.equal(order.length, 3, 'nothing beside a transfer over the budget');
  releaseBig();
  (await next)();
  t.equal(order.at(-1), 'next');
});
