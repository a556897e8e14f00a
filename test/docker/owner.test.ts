import { spawnSync } from 'node:child_process';
import t from 'tap';
import { currentOwner, orphanReason, ownerLabels, processStart, LABEL_OWNER } from '../../docker/owner.js';

const self = currentOwner('self-id');
const now = Date.now();
const later = now + 3_600_000;

function deadPid(): number {
  const child = spawnSync('true');
  return child.pid!;
}

t.test('labels name the owner, its process and the expiry', async (t) => {
  const labels = ownerLabels(self, later);
  t.equal(labels[LABEL_OWNER], 'self-id');
  t.equal(labels['hgym.owner.pid'], String(process.pid));
  t.equal(labels['hgym.owner.start'], processStart(process.pid));
  t.equal(labels['hgym.expires'], String(later));
});

t.test('own containers and unlabelled ones are never orphans', async (t) => {
  t.equal(orphanReason(ownerLabels(self, later), self, now), null);
  t.equal(orphanReason({}, self, now), null);
  t.equal(orphanReason({ 'other.label': 'x' }, self, now), null);
});

t.test('a dead owner on this host is an orphan; a live one is not', async (t) => {
  const dead = { ...self, id: 'dead', pid: deadPid() };
  t.match(orphanReason(ownerLabels(dead, later), self, now), /gone/);
  const alive = currentOwner('alive-other-instance');
  t.equal(orphanReason(ownerLabels(alive, later), self, now), null);
});

t.test('a reused pid (different start time) counts as gone', async (t) => {
  const impostor = { ...self, id: 'old', start: '1' };
  t.match(orphanReason(ownerLabels(impostor, later), self, now), /reused/);
});

t.test('owners on other hosts are left alone until their expiry passes', async (t) => {
  const remote = { id: 'remote', host: 'another-host', pid: 1, start: '5' };
  t.equal(orphanReason(ownerLabels(remote, later), self, now), null);
  t.match(orphanReason(ownerLabels(remote, now - 1), self, now), /lifetime/);
});
