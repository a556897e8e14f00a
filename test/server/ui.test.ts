/**
 * The console's files at /ui/ (server/routes/ui.ts) and the WebSocket key subprotocol the
 * console authenticates with: public static files under a strict Content-Security-Policy,
 * the vendored libraries from their installed packages and nothing else, and data only with
 * the key.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { WebSocket } from 'ws';
import { loadCorpus } from '../../env/corpus/load.js';
import { idlePool } from '../helpers/idle-pool.js';
import { build } from '../../server/app.js';
import { CONTENT_SECURITY_POLICY, uiDir } from '../../server/routes/ui.js';

const KEY = 'console-test-key';

async function server(t: Test, apiKey?: string) {
  const app = await build({ instanceId: 'ui-test', corpus: await loadCorpus(t.testdir({})), pool: idlePool(), apiKey });
  t.teardown(() => app.close());
  return app;
}

t.test('the console is served under a strict Content-Security-Policy', async (t) => {
  const app = await server(t);
  const bare = await app.inject('/ui');
  t.equal(bare.statusCode, 302);
  t.equal(bare.headers.location, '/ui/');

  const page = await app.inject('/ui/');
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /<script type="module" src=".\/app.js"><\/script>/);
  t.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.notMatch(CONTENT_SECURITY_POLICY, /https?:|\*|unsafe/, 'no other origin, no wildcard, no inline code');

  for (const file of ['app.js', 'play.js', 'style.css']) {
    const res = await app.inject(`/ui/${file}`);
    t.equal(res.statusCode, 200, file);
    t.match(res.headers['content-type'], file.endsWith('.js') ? /javascript/ : /^text\/css/, file);
    t.equal(res.headers['content-security-policy'], CONTENT_SECURITY_POLICY, `${file}: the policy`);
  }
});

t.test("the console's folder is server/ui/, from the sources and from the build alike", async (t) => {
  const root = join(import.meta.dirname, '..', '..');
  const served = join(root, 'server', 'ui');
  t.equal(uiDir(), served, 'this module (run from its source)');
  t.ok(existsSync(join(served, 'index.html')), 'holds the page');
  // The build compiles TypeScript only: the built module serves the source folder, which the
  // package ships (package.json "files").
  t.equal(uiDir(pathToFileURL(join(root, 'dist', 'server', 'routes', 'ui.js')).href), served, 'the built module');
  t.throws(() => uiDir(pathToFileURL(join(root, 'elsewhere', 'ui.js')).href), /console's folder is unknown/, 'a module elsewhere has no folder to guess');
});

t.test('vendored libraries come from their installed packages, and nothing else does', async (t) => {
  const app = await server(t);
  const lit = await app.inject('/ui/vendor/lit-html/lit-html.js');
  t.equal(lit.statusCode, 200);
  t.match(lit.headers['content-type'], /javascript/);
  t.match(lit.body, /lit-html/);
  const directive = await app.inject('/ui/vendor/lit-html/directives/repeat.js');
  t.equal(directive.statusCode, 200, 'files inside the package resolve');

  for (const url of ['/ui/vendor/fastify/fastify.js', '/ui/vendor/lit-html/../../package.json', '/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/nope.js', '/ui/.hidden']) {
    const res = await app.inject(url);
    t.equal(res.statusCode, 404, url);
    t.equal(res.json().code, 'HGYM_ERR_NOT_FOUND', url);
    t.notMatch(res.body, /"name": ?"(hgym|fastify)"/, `${url}: no package file leaks`);
  }
  t.equal((await app.inject('/ui/vendor/fastify/fastify.js')).json().code, 'HGYM_ERR_NOT_FOUND');
});

t.test("the server's own sources beside the console's folder are not served", async (t) => {
  const app = await server(t);
  // An encoded slash is refused as malformed before any file is looked up.
  const refusals: [string, number, string][] = [
    ['/ui/../app.ts', 404, 'HGYM_ERR_NOT_FOUND'],
    ['/ui/%2e%2e/app.ts', 404, 'HGYM_ERR_NOT_FOUND'],
    ['/ui/../routes/ui.ts', 404, 'HGYM_ERR_NOT_FOUND'],
    ['/ui/..%2fapp.ts', 400, 'HGYM_ERR_BAD_REQUEST'],
    ['/ui/%2e%2e%2froutes%2fui.ts', 400, 'HGYM_ERR_BAD_REQUEST'],
  ];
  for (const [url, status, code] of refusals) {
    const res = await app.inject(url);
    t.same([res.statusCode, res.json().code], [status, code], url);
    t.notMatch(res.body, /\bimport\b/, `${url}: no source leaks`);
  }
});

t.test('with a key, the files are public and the data is not', async (t) => {
  const app = await server(t, KEY);
  t.equal((await app.inject('/ui/')).statusCode, 200, 'the page (code, no data) loads without the key');
  t.equal((await app.inject('/ui/app.js')).statusCode, 200);
  const tasks = await app.inject('/v1/tasks');
  t.equal(tasks.statusCode, 401);
  t.equal(tasks.json().code, 'HGYM_ERR_UNAUTHORIZED');
  t.equal((await app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${KEY}` } })).statusCode, 200);
  // The key subprotocol is for WebSocket upgrades only: a plain request cannot use it.
  const smuggled = await app.inject({ url: '/v1/tasks', headers: { 'sec-websocket-protocol': `hgym.v1, hgym.key.${Buffer.from(KEY).toString('base64url')}` } });
  t.equal(smuggled.statusCode, 401);
});

t.test('the OpenAPI document leaves the console out', async (t) => {
  const app = await server(t);
  const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, unknown> };
  t.notOk(Object.keys(doc.paths).some((path) => path.startsWith('/ui')), Object.keys(doc.paths).join(' '));
});

/** Opens a WebSocket with these subprotocols: the selected one, or the HTTP status it was refused with. */
async function upgrade(url: string, protocols: string[]): Promise<{ protocol?: string; status?: number; socket?: WebSocket; error?: string }> {
  const socket = new WebSocket(url, protocols, { handshakeTimeout: 5_000 });
  return new Promise((resolve) => {
    socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    socket.once('open', () => resolve({ protocol: socket.protocol, socket }));
    socket.once('error', (err) => resolve({ error: err.message }));
  });
}

t.test('a browser WebSocket authenticates with the key subprotocol, which is never echoed', async (t) => {
  const app = await server(t, KEY);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/ws`;
  const keyProtocol = `hgym.key.${Buffer.from(KEY).toString('base64url')}`;

  const wrong = await upgrade(url, ['hgym.v1', `hgym.key.${Buffer.from('not-the-key').toString('base64url')}`]);
  t.equal(wrong.status, 401, 'a wrong key is refused');
  const none = await upgrade(url, ['hgym.v1']);
  t.equal(none.status, 401, 'no key is refused');

  const right = await upgrade(url, ['hgym.v1', keyProtocol]);
  t.equal(right.protocol, 'hgym.v1', 'the server selects hgym.v1');
  const socket = right.socket!;
  socket.send(JSON.stringify({ type: 'ping', id: 1 }));
  const [pong] = await once(socket, 'message');
  t.same(JSON.parse(String(pong)), { type: 'pong', id: 1 });
  socket.close();

  const keyFirst = await upgrade(url, [keyProtocol, 'hgym.v1']);
  t.equal(keyFirst.protocol, 'hgym.v1', 'offered first, the key is still not the selected protocol');
  keyFirst.socket?.close();
  const onlyKey = await upgrade(url, [keyProtocol]);
  t.equal(onlyKey.socket, undefined, 'offered alone, the key is not selected: the client drops the socket');
  t.match(onlyKey.error, /subprotocol/);
});
