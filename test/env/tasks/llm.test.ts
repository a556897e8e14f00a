import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { modelDescriber } from '../../../env/tasks/llm.js';

/** A local chat-completions endpoint that answers with the next scripted reply. */
async function fakeEndpoint(t: Test, replies: { status?: number; content: string }[]) {
  const seen: { auth: string | undefined; body: { model: string; messages: { role: string; content: string }[] } }[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    seen.push({ auth: req.headers.authorization, body: JSON.parse(raw) });
    const reply = replies.shift() ?? { status: 500, content: '' };
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: reply.content } }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, seen };
}

const input = { docstring: 'Return the sum of a and b.', kind: 'function', name: 'add', qualname: 'math.add' };

t.test('no endpoint configured: no model describer', async (t) => {
  t.equal(modelDescriber({}), undefined);
  t.equal(modelDescriber({ HGYM_LLM_BASE_URL: 'http://127.0.0.1:1' }), undefined);
});

t.test('a short answer that does not name the function is used; others fall back', async (t) => {
  const { url, seen } = await fakeEndpoint(t, [
    { content: 'It adds two numbers together.' },
    { content: 'The add function adds two numbers.' },
    { status: 503, content: 'overloaded' },
  ]);
  const describe = modelDescriber({ HGYM_LLM_BASE_URL: url, HGYM_LLM_MODEL: 'tiny', HGYM_LLM_API_KEY: 'k' })!;
  t.equal(await describe(input), 'It adds two numbers together.');
  t.equal(await describe(input), null, 'names the function');
  t.equal(await describe(input), null, 'endpoint error');
  t.equal(seen[0]!.auth, 'Bearer k');
  t.equal(seen[0]!.body.model, 'tiny');
  t.match(seen[0]!.body.messages.at(-1)!.content, /Return the sum of a and b/);
});

t.test('an unreachable endpoint falls back instead of failing generation', async (t) => {
  const describe = modelDescriber({ HGYM_LLM_BASE_URL: 'http://127.0.0.1:9', HGYM_LLM_MODEL: 'm' }, 2_000)!;
  t.equal(await describe(input), null);
});
