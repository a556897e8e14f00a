import t from 'tap';
import { LABEL_CREATED, LABEL_EXPIRES, LABEL_OWNER, START_GRACE_MS, orphanReason, ownerLabels } from '../../docker/owner.js';

const now = Date.now();
const hour = 3_600_000;
const self = 'self-id';
const other = 'other-server';
const settled = now - START_GRACE_MS - 1;

t.test('labels name the owner, when the container was made and when it expires', async (t) => {
  const labels = ownerLabels(self, now, hour);
  t.same(labels, { [LABEL_OWNER]: self, [LABEL_CREATED]: String(now), [LABEL_EXPIRES]: String(now + hour) });
});

t.test('unlabelled containers are never orphans, whatever their state', async (t) => {
  for (const state of ['created', 'running', 'exited', 'dead']) {
    t.equal(orphanReason({ labels: {}, state }, self, false, now), null);
    t.equal(orphanReason({ labels: { 'other.label': 'x' }, state }, self, false, now), null);
  }
});

t.test("another server's running container is left alone until its expiry passes, host and pid notwithstanding", async (t) => {
  // Labels of the old format (host and pid of the owner) carry no weight: a server with the same
  // host name in another PID namespace must not take a live container for an orphan.
  const legacy = { ...ownerLabels(other, settled, hour), 'hgym.owner.host': 'this-host', 'hgym.owner.pid': '999999999' };
  t.equal(orphanReason({ labels: legacy, state: 'running' }, self, false, now), null);
  t.equal(orphanReason({ labels: ownerLabels(other, settled, hour), state: 'running' }, self, false, now), null);
  t.match(orphanReason({ labels: ownerLabels(other, now - 2 * hour, hour), state: 'running' }, self, false, now), /lifetime/);
});

t.test("another server's container that never started is removed only after the start grace", async (t) => {
  t.equal(orphanReason({ labels: ownerLabels(other, now - 1_000, hour), state: 'created' }, self, false, now), null);
  t.match(orphanReason({ labels: ownerLabels(other, settled, hour), state: 'created' }, self, false, now), /never started/);
});

t.test('an exited or dead container of any server is removed', async (t) => {
  t.match(orphanReason({ labels: ownerLabels(other, now, hour), state: 'exited' }, self, false, now), /exited/);
  t.match(orphanReason({ labels: ownerLabels(other, now, hour), state: 'dead' }, self, false, now), /dead/);
});

t.test('own containers: held ones and fresh ones stay; one no longer held goes after the grace', async (t) => {
  t.equal(orphanReason({ labels: ownerLabels(self, settled, hour), state: 'running' }, self, true, now), null);
  t.equal(orphanReason({ labels: ownerLabels(self, now - 1_000, hour), state: 'created' }, self, false, now), null, 'may be starting right now');
  t.match(orphanReason({ labels: ownerLabels(self, settled, hour), state: 'running' }, self, false, now), /no longer holds/);
  t.match(orphanReason({ labels: ownerLabels(self, now - 2 * hour, hour), state: 'running' }, self, true, now), /lifetime/);
});
