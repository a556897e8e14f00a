/**
 * The executor's direct channel (docker/executor/__main__.py, `HGYM_CHANNEL`), run on this host
 * with its Python: frames go over the socket and nothing over stdout; the end of stdin (the
 * server gone) or of the socket ends the executor; a channel it cannot reach leaves it on stdio.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';

const EXECUTOR = new URL('../../docker/executor/', import.meta.url).pathname;

interface Running {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

/** The executor as a user without privileges (it would become the agent's user as root), in `dir`. */
function runExecutor(t: Test, dir: string, env: Record<string, string>): Running {
  const asRoot = process.getuid?.() === 0;
  const child = spawn('python3', [EXECUTOR], { cwd: dir, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.on('data', (d: Buffer) => stdout.push(d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  return { child, stdout, stderr, exited };
}

/** A listening socket in a folder anyone may enter, and the first connection to it. */
async function listen(t: Test): Promise<{ path: string; connection: Promise<Socket>; server: Server }> {
  const dir = mkdtempSync(join(tmpdir(), 'hgym-channel-test-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'channel.sock');
  const server = createServer();
  const connection = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  chmodSync(path, 0o666);
  t.teardown(() => void server.close());
  return { path, connection, server };
}

function frames(socket: Socket): AsyncIterator<Record<string, unknown>> {
  const lines = createInterface({ input: socket })[Symbol.asyncIterator]();
  return {
    next: async () => {
      const r = await lines.next();
      return r.done ? r : { done: false, value: JSON.parse(r.value) as Record<string, unknown> };
    },
  };
}

function workDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'hgym-executor-'));
  chmodSync(dir, 0o777);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('with a channel: frames over the socket only, and the end of stdin ends the executor', async (t) => {
  const { path, connection } = await listen(t);
  const run = runExecutor(t, workDir(t), { HGYM_CHANNEL: path });
  const socket = await connection;
  const got = frames(socket);
  t.match((await got.next()).value, { type: 'ready', protocol: 1 });
  socket.write(`${JSON.stringify({ id: 1, op: 'exec', command: 'echo hi; echo "{\\"type\\":\\"exit\\"}"', timeout_ms: 5000, stream: false })}\n`);
  t.match((await got.next()).value, { id: 1, type: 'exit', exit_code: 0, output: 'hi\n{"type":"exit"}\n' });
  t.same(run.stdout, [], 'nothing on stdout');
  run.child.stdin!.end();
  t.equal(await run.exited, 0);
  t.match(run.stderr.join(''), /exiting: stdin closed/);
});

t.test('with a channel: the socket closing ends the executor', async (t) => {
  const { path, connection } = await listen(t);
  const run = runExecutor(t, workDir(t), { HGYM_CHANNEL: path });
  const socket = await connection;
  t.match((await frames(socket).next()).value, { type: 'ready' });
  socket.end();
  t.equal(await run.exited, 0);
  t.match(run.stderr.join(''), /exiting: channel closed/);
});

t.test('a channel the executor cannot reach: ready and frames on stdio', async (t) => {
  const run = runExecutor(t, workDir(t), { HGYM_CHANNEL: join(tmpdir(), 'hgym-no-such-folder', 'channel.sock') });
  const lines = createInterface({ input: run.child.stdout! })[Symbol.asyncIterator]();
  t.match(JSON.parse((await lines.next()).value as string), { type: 'ready' });
  run.child.stdin!.write(`${JSON.stringify({ id: 7, op: 'ping' })}\n`);
  t.match(JSON.parse((await lines.next()).value as string), { id: 7, type: 'pong' });
  run.child.stdin!.end();
  t.equal(await run.exited, 0);
});
