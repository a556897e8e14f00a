/**
 * The direct channel (docker/channel.ts) with real sandboxes: an engine on this host gives each
 * sandbox one, frames go over it, and nothing of it is left for the agent (no socket to connect
 * to, a read-only empty folder) or on the host; HGYM_DIRECT_CHANNEL=0, or an executor that
 * cannot reach it, speaks over the attach; the server closing its connection ends the container
 * (test/docker/executor-channel.test.ts has the end of stdin alone, on this host).
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import t from 'tap';
import { DEFAULT_LIMITS, startSandbox } from '../../docker/container.js';
import { DockerEngine } from '../../docker/engine.js';
import { ownerLabels } from '../../docker/owner.js';
import { DEFAULT_IMAGE } from '../../docker/pool-settings.js';
import { docker, eventually } from '../helpers/docker.js';

const OWNER = `channel-test-${process.pid}`;
const spec = { image: DEFAULT_IMAGE, limits: DEFAULT_LIMITS, labels: ownerLabels(OWNER, Date.now(), 600_000) };
const engine = new DockerEngine('unix:///var/run/docker.sock', docker);

/** The channel folders of this process still on the host. */
function channelFolders(): string[] {
  return readdirSync(tmpdir())
    .filter((name) => name.startsWith('hgym-channels-'))
    .flatMap((root) => {
      try {
        return readdirSync(`${tmpdir()}/${root}`);
      } catch {
        return [];
      }
    });
}

async function exec(conn: Awaited<ReturnType<typeof startSandbox>>['conn'], command: string): Promise<string> {
  const frame = await conn.request({ op: 'exec', command, timeout_ms: 10_000, stream: false }, 15_000);
  return String(frame.output);
}

t.test('a local engine: frames over the channel; the agent finds nothing to connect to', async (t) => {
  const before = channelFolders().length;
  const started = await startSandbox(engine, spec, 30_000, () => {});
  t.teardown(() => engine.remove(started.id));
  t.equal(started.conn.transport, 'channel');
  t.equal(channelFolders().length, before, 'the socket and its folder are gone from the host once taken');
  t.equal(await exec(started.conn, 'echo hi'), 'hi\n');
  const probe = await exec(
    started.conn,
    [
      'ls -A /run/hgym; echo "entries: $?"',
      'python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.connect(\'/run/hgym/channel.sock\')" 2>&1 | tail -n 1',
      'touch /run/hgym/channel.sock 2>&1 | tail -n 1',
      // The executor's socket, seen from the agent: not through /proc/1/fd.
      'ls /proc/1/fd 2>&1 | tail -n 1',
    ].join('; '),
  );
  t.match(probe, /^entries: 0\n/, 'the folder is empty');
  t.match(probe, /FileNotFoundError/, 'no socket to connect to');
  t.match(probe, /touch: cannot touch '\/run\/hgym\/channel.sock': (No such file or directory|Read-only file system)/, 'nothing can be made there');
  t.match(probe, /Permission denied/, "the executor's descriptors are closed to the agent");
  const sockets = await exec(started.conn, 'for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null; done | grep -c "socket:"');
  t.equal(sockets, '0\n', "no process the agent can see holds a socket (the channel's is the executor's alone)");
  t.equal(await exec(started.conn, 'echo still'), 'still\n', 'the executor still answers');
});

t.test('HGYM_DIRECT_CHANNEL=0: frames over the attach, no folder made', async (t) => {
  const attachOnly = new DockerEngine('unix:///var/run/docker.sock', docker, { directChannel: false });
  const before = channelFolders().length;
  const started = await startSandbox(attachOnly, spec, 30_000, () => {});
  t.teardown(() => attachOnly.remove(started.id));
  t.equal(started.conn.transport, 'attach');
  t.equal(channelFolders().length, before);
  t.equal(await exec(started.conn, 'echo hi'), 'hi\n');
  t.notOk(new DockerEngine('tcp://127.0.0.1:2375').directChannel, 'an engine reached over tcp has none');
});

/** The local engine, with the channel's socket named wrongly for the executor: it cannot reach it. */
class UnreachableChannelEngine extends DockerEngine {
  protected override createOptions(...args: Parameters<DockerEngine['createOptions']>) {
    const options = super.createOptions(...args);
    return { ...options, Env: [...(options.Env ?? []).filter((e) => !e.startsWith('HGYM_CHANNEL=')), 'HGYM_CHANNEL=/run/hgym/elsewhere.sock'] };
  }
}

t.test('an executor that cannot reach its channel speaks over the attach, and the socket is removed', async (t) => {
  const odd = new UnreachableChannelEngine('unix:///var/run/docker.sock', docker);
  const before = channelFolders().length;
  const started = await startSandbox(odd, spec, 30_000, () => {});
  t.teardown(() => odd.remove(started.id));
  t.equal(started.conn.transport, 'attach');
  t.equal(await exec(started.conn, 'echo hi'), 'hi\n');
  t.equal(channelFolders().length, before, 'the unused socket is removed once the executor said ready');
});

t.test('with a channel, the server closing its connection ends the container', async (t) => {
  const started = await startSandbox(engine, spec, 30_000, () => {});
  t.teardown(() => engine.remove(started.id));
  t.equal(started.conn.transport, 'channel');
  const lost = new Promise<string>((resolve) => started.conn.onLost(resolve));
  started.conn.close('the server went away');
  await lost;
  const gone = await eventually(async () => (await docker.listContainers({ all: true, filters: { id: [started.id] } })).length === 0, 20_000);
  t.ok(gone, 'the container ended (and was removed: AutoRemove)');
});
