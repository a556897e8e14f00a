/** RefillHold (docker/refill-hold.ts) with a clock of its own: when the pool's refill may start. */
import t from 'tap';
import { RefillHold } from '../../docker/refill-hold.js';

t.test('no lease yet: the refill goes at once', async (t) => {
  t.equal(new RefillHold(500, 5_000).waitMs(1_000), 0);
});

t.test('after a lease it waits until quietMs have passed without one', async (t) => {
  const hold = new RefillHold(500, 5_000);
  hold.leased(10_000);
  t.equal(hold.waitMs(10_100), 400);
  hold.leased(10_300);
  t.equal(hold.waitMs(10_350), 450, 'a later lease moves the end of the wait');
  t.equal(hold.waitMs(10_800), 0, 'quiet for 500 ms');
});

t.test('under leases that never stop, it waits maxMs in a row at most, then goes on until a quiet moment', async (t) => {
  const hold = new RefillHold(500, 2_000);
  let now = 0;
  const waits: number[] = [];
  for (; now <= 4_000; now += 100) {
    hold.leased(now);
    waits.push(hold.waitMs(now));
  }
  t.equal(waits[0], 500, 'the first lease: the full quiet time');
  t.ok(waits.slice(0, 20).every((w) => w > 0), 'held for the first 2 s');
  t.ok(waits.slice(16, 20).every((w, i) => w <= 2_000 - (1_600 + i * 100)), 'never past maxMs from when the hold began');
  t.ok(waits.slice(20).every((w) => w === 0), 'then no wait while leases go on');
  t.equal(hold.waitMs(now + 600), 0, 'a quiet moment');
  hold.leased(now + 700);
  t.equal(hold.waitMs(now + 700), 500, 'after it, the next burst is held again from the start');
});

t.test('quietMs 0: never held', async (t) => {
  const hold = new RefillHold(0, 5_000);
  hold.leased(1_000);
  t.equal(hold.waitMs(1_000), 0);
});

t.test('defer runs its callback once, when the wait is over; stop cancels it', async (t) => {
  const hold = new RefillHold(60, 5_000);
  let runs = 0;
  hold.leased(Date.now());
  t.equal(hold.defer(Date.now(), () => runs++), true, 'held');
  t.equal(hold.defer(Date.now(), () => runs++), true, 'held; one timer');
  await new Promise((r) => setTimeout(r, 150));
  t.equal(runs, 1);
  t.equal(hold.defer(Date.now(), () => runs++), false, 'quiet: it may go');
  hold.leased(Date.now());
  hold.defer(Date.now(), () => runs++);
  hold.stop();
  await new Promise((r) => setTimeout(r, 150));
  t.equal(runs, 1, 'stopped: not called');
});
