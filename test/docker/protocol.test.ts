import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import t from 'tap';
import { ExecutorChannel } from '../../docker/channel.js';
import { ExecutorConnection, type Frame } from '../../docker/protocol.js';
import type { OutputChunk } from '../../env/sandbox.js';

/** A stand-in for Docker's attach stream: records what is written, lets the test push frames. */
function fakeStream() {
  const written: Record<string, unknown>[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) written.push(JSON.parse(line));
      cb();
    },
  });
  const mux = (kind: number, text: string): Buffer => {
    const payload = Buffer.from(text, 'utf8');
    const header = Buffer.alloc(8);
    header[0] = kind;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };
  return { stream, written, mux };
}

t.test('ready, answers matched by id, output routed, frames split anywhere', async (t) => {
  const { stream, written, mux } = fakeStream();
  const logged: string[] = [];
  const conn = new ExecutorConnection(stream, (l) => logged.push(l));
  const wire = Buffer.concat([
    mux(1, '{"type":"ready","protocol":1}\n'),
    mux(2, 'a diagnostic line\n'),
  ]);
  // Deliver byte by byte: headers and JSON lines split at every possible place.
  for (const byte of wire) stream.push(Buffer.from([byte]));
  const ready = await conn.ready;
  t.equal(ready.type, 'ready');
  t.same(logged, ['a diagnostic line']);

  const chunks: OutputChunk[] = [];
  const first = conn.request({ op: 'exec', command: 'x' }, 5000, (c) => chunks.push(c));
  const second = conn.request({ op: 'ping' }, 5000);
  t.same(written.map((w) => [w.id, w.op]), [[1, 'exec'], [2, 'ping']]);
  stream.push(mux(1, '{"id":2,"type":"pong","busy":true}\n{"id":1,"type":"out","stream":"stderr","data":"e"}\n'));
  stream.push(mux(1, '{"id":1,"type":"out","stream":"stdout","data":"{\\"id\\":2,\\"type\\":\\"exit\\"}"}\n'));
  stream.push(mux(1, '{"id":1,"type":"exit","exit_code":0}\n'));
  const [a, b] = await Promise.all([first, second]);
  t.equal((a as Frame).type, 'exit');
  t.equal((b as Frame).type, 'pong');
  t.same(chunks, [
    { stream: 'stderr', data: 'e' },
    { stream: 'stdout', data: '{"id":2,"type":"exit"}' },
  ]);
});

t.test('the stream ending fails every outstanding request as SANDBOX_LOST, and later ones too', async (t) => {
  const { stream } = fakeStream();
  const conn = new ExecutorConnection(stream);
  let lostReason = '';
  conn.onLost((r) => (lostReason = r));
  const pending = conn.request({ op: 'exec' }, 5000);
  stream.push(null);
  await t.rejects(pending, { code: 'HGYM_ERR_SANDBOX_LOST' });
  t.match(lostReason, /exited/);
  t.not(conn.lost, null);
  await t.rejects(conn.request({ op: 'ping' }, 5000), { code: 'HGYM_ERR_SANDBOX_LOST' });
  let late = '';
  conn.onLost((r) => (late = r));
  t.equal(late, lostReason, 'a listener added after the loss hears of it at once');
});

t.test('an executor that does not answer within the deadline is lost', async (t) => {
  const { stream } = fakeStream();
  const conn = new ExecutorConnection(stream);
  await t.rejects(conn.request({ op: 'ping' }, 30), { code: 'HGYM_ERR_SANDBOX_LOST' });
  t.match(conn.lost, /did not answer/);
});

t.test('an expired frame ends the connection; garbage lines are logged and skipped', async (t) => {
  const { stream, mux } = fakeStream();
  const logged: string[] = [];
  const conn = new ExecutorConnection(stream, (l) => logged.push(l));
  const pending = conn.request({ op: 'ping' }, 5000);
  stream.push(mux(1, 'not json\n{"type":"expired"}\n'));
  await t.rejects(pending, { code: 'HGYM_ERR_SANDBOX_LOST' });
  t.match(conn.lost, /lifetime/);
  t.match(logged[0], /unparseable/);
});

/** An executor's side of a direct channel: connects to the channel's socket as the executor does. */
function connectExecutor(channel: ExecutorChannel): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(join(channel.dir, 'channel.sock'), () => resolve(socket));
    socket.once('error', reject);
  });
}

/** How a connection to the channel's socket ends: 'connected', or the error's code. */
function tryConnect(channel: ExecutorChannel): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(join(channel.dir, 'channel.sock'));
    socket.once('connect', () => (socket.destroy(), resolve('connected')));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** The newline-delimited frames a socket receives, as they come. */
function framesOf(socket: Socket): Record<string, unknown>[] {
  const got: Record<string, unknown>[] = [];
  let rest = '';
  socket.on('data', (data: Buffer) => {
    const lines = (rest + data.toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const line of lines) got.push(JSON.parse(line));
  });
  return got;
}

t.test('a direct channel: frames over the socket, one connection only, the socket gone once taken', async (t) => {
  const { stream, mux } = fakeStream();
  const logged: string[] = [];
  const channel = await ExecutorChannel.open();
  const conn = new ExecutorConnection(stream, (l) => logged.push(l), channel);
  t.equal(conn.transport, 'attach', 'attach until the executor connects');
  const executor = await connectExecutor(channel);
  const requests = framesOf(executor);
  t.equal(await channel.connected !== null, true, 'the connection is taken');
  t.equal(conn.transport, 'channel');
  t.notOk(existsSync(channel.dir), 'the socket and its folder are removed once the connection is taken');
  t.equal(await tryConnect(channel), 'ENOENT', 'no second connection');

  executor.write('{"type":"ready","protocol":1}\n');
  await conn.ready;
  const answer = conn.request({ op: 'ping' }, 5000);
  await new Promise((r) => setTimeout(r, 20));
  t.same(requests, [{ op: 'ping', id: 1 }], 'requests go over the channel');
  // The container's stdout is no way in any more: a frame there is logged, not taken.
  stream.push(mux(1, '{"id":1,"type":"pong","busy":true}\n'));
  stream.push(mux(2, 'a diagnostic line\n'));
  executor.write('{"id":1,"type":"pong","busy":false}\n');
  t.same(await answer, { id: 1, type: 'pong', busy: false });
  t.match(logged, [/output on the attached stdout/, 'a diagnostic line'], 'stderr is still the log');

  // The executor going away is the sandbox lost.
  const pending = conn.request({ op: 'exec', command: 'sleep 9' }, 5000);
  executor.end();
  await t.rejects(pending, { code: 'HGYM_ERR_SANDBOX_LOST' });
});

t.test('a channel nobody connects to is removed when the executor says ready over the attach, or the connection is lost', async (t) => {
  const { stream, mux } = fakeStream();
  const channel = await ExecutorChannel.open();
  const conn = new ExecutorConnection(stream, () => {}, channel);
  stream.push(mux(1, '{"type":"ready","protocol":1}\n'));
  await conn.ready;
  t.equal(await channel.connected, null);
  t.notOk(existsSync(channel.dir));
  t.equal(await tryConnect(channel), 'ENOENT', 'nothing to connect to any more');
  t.equal(conn.transport, 'attach');

  const other = await ExecutorChannel.open();
  const lost = new ExecutorConnection(fakeStream().stream, () => {}, other);
  lost.close('start failed');
  t.equal(await other.connected, null);
  t.notOk(existsSync(other.dir), 'removed with the connection');
});
