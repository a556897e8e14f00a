/**
 * The second-engine test helper: a dockerd beside the first that has the sandbox image, runs
 * containers without a network, can be killed (its socket then refuses) and brought back, and
 * stops leaving no container, while the first engine carries on untouched.
 */
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import t, { type Test } from 'tap';
import Docker from 'dockerode';
import { docker as first } from '../helpers/docker.js';
import { startSecondEngine } from '../helpers/second-engine.js';

const IMAGE = process.env.HGYM_IMAGE ?? 'hgym/sandbox:latest';

/** The error code connecting to a unix socket gives (ECONNREFUSED, ENOENT), or null when it connects. */
function connectError(path: string): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve('ETIMEDOUT');
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve(null);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function firstAnswers(): Promise<boolean> {
  await first.ping();
  return Array.isArray(await first.listContainers({ all: true }));
}

async function timed<T>(t: Test, what: string, run: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const out = await run();
  t.comment(`${what}: ${Date.now() - start} ms`);
  return out;
}

function sleeper(docker: Docker): Promise<Docker.Container> {
  return docker.createContainer({ Image: IMAGE, Entrypoint: ['sleep'], Cmd: ['300'], HostConfig: { NetworkMode: 'none' } });
}

/** The first engine's bridge, which its image builds (setup's) need: the second must leave it be. */
const firstBridge = () => existsSync('/sys/class/net/docker0');

t.test('a second engine: image, a container, kill, restart, stop', async (t) => {
  const bridged = firstBridge();
  const engine = await timed(t, 'start (with image check or load)', () => startSecondEngine());
  t.teardown(() => engine.stop());
  t.equal(engine.host, `unix://${engine.socketPath}`);
  t.ok(await firstAnswers(), 'the first engine answers beside it');

  const here = await engine.docker.getImage(IMAGE).inspect();
  t.equal(here.Id, (await first.getImage(IMAGE).inspect()).Id, 'the image is there, the same build as on the first engine');
  t.not((await engine.docker.info()).DockerRootDir, (await first.info()).DockerRootDir, 'it is another engine');

  const once = await engine.docker.createContainer({ Image: IMAGE, Entrypoint: ['true'], Cmd: [], HostConfig: { NetworkMode: 'none' } });
  await once.start();
  t.equal((await once.wait()).StatusCode, 0, 'a container runs there without a network');
  await once.remove();
  t.notOk((await first.listContainers({ all: true })).some((c) => c.Id === once.id), 'not on the first engine');

  const running = await sleeper(engine.docker);
  await running.start();
  await timed(t, 'second start (reuse)', () => startSecondEngine());
  t.equal((await running.inspect()).State.Running, true, 'starting again reuses the running engine');

  await timed(t, 'kill', () => engine.kill());
  t.match(await connectError(engine.socketPath), /^(ECONNREFUSED|ENOENT)$/, 'the socket refuses');
  await t.rejects(engine.docker.ping(), 'a client sees it down');
  t.ok(await firstAnswers(), 'the first engine still answers');

  await timed(t, 'restart after kill', () => engine.restart());
  t.equal(await connectError(engine.socketPath), null);
  t.equal(String(await engine.docker.ping()), 'OK', 'it answers again');
  const before = await engine.docker.listContainers({ all: true, filters: { id: [running.id] } });
  t.notOk(before.some((c) => c.State === 'running'), 'the container of before is gone or stopped');
  t.ok(await firstAnswers(), 'the first engine still answers');

  await sleeper(engine.docker);
  await timed(t, 'stop', () => engine.stop());
  t.match(await connectError(engine.socketPath), /^(ECONNREFUSED|ENOENT)$/, 'stopped');
  await engine.restart();
  t.same(await engine.docker.listContainers({ all: true }), [], 'stop left no container on it');
  await engine.stop();
  t.ok(await firstAnswers(), 'the first engine still answers');
  t.equal(firstBridge(), bridged, "the first engine's docker0 is as it was");
  const build = await first.createContainer({ Image: IMAGE, Entrypoint: ['true'], Cmd: [], HostConfig: { NetworkMode: 'bridge' } });
  await build.start();
  t.equal((await build.wait()).StatusCode, 0, "a container on the first engine's bridge (as an image build's) still starts");
  await build.remove();
});
