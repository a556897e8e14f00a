/**
 * A refused WebSocket upgrade (no API key) is answered with a 401 and the connection ends,
 * so the client learns why at once and the server can close.
 */
import { connect } from 'node:net';
import t from 'tap';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import { build } from '../../server/app.js';

const { corpus, cacheDir } = await fixtureCorpus(t);
const pool = await DockerSandboxPool.start({ warm: 0, max: 1 });
const app = await build({ instanceId: 'ws-refused', corpus, pool, cacheDir, apiKey: 'secret' });
await app.listen({ host: '127.0.0.1', port: 0 });
t.teardown(() => pool.close());

t.test('an upgrade without the key gets a 401 and the connection ends', async (t) => {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const socket = connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (d) => (answer += String(d)));
  const ended = new Promise<boolean>((resolve) => {
    socket.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 5_000);
  });
  socket.write(
    ['GET /v1/ws HTTP/1.1', 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', '', ''].join('\r\n'),
  );
  t.equal(await ended, true, 'the server closed the connection');
  socket.destroy();
  t.match(answer, /^HTTP\/1\.1 401/);
  t.match(answer, /HGYM_ERR_UNAUTHORIZED/);
  const closed = await Promise.race([app.close().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
  t.equal(closed, true, 'the server closes without waiting on the refused connection');
});
