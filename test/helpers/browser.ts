/**
 * The web console in a real browser: a live server on loopback (the `shapes` fixture corpus,
 * a real Docker pool) and Debian's chromium, headless, driven through playwright-core. Every
 * request the page makes is checked to stay on loopback (anything else is aborted and
 * recorded), and the page's console errors (a Content-Security-Policy violation is one) and
 * uncaught exceptions are collected, so a test can assert there were none.
 */
import { mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Test } from 'tap';
import { HgymClient } from '../../clients/ts/rest.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import { build } from '../../server/app.js';
import type { TaskInstance } from '../../schemas/tasks.js';
import { fixtureCorpus } from './fixture-corpus.js';

/** Debian's chromium (apt-get install chromium); HGYM_CHROMIUM names another build. */
export const CHROMIUM = process.env.HGYM_CHROMIUM ?? '/usr/bin/chromium';

/** Where the README's screenshots are written. */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');

export interface ConsoleOptions {
  /** Serve with this API key (the page then asks for it). */
  apiKey?: string;
  /** The sandbox pool's warm and most containers. */
  pool?: { warm: number; max: number };
  /** Page viewport (screenshots are taken at this size). */
  viewport?: { width: number; height: number };
}

export interface ConsoleSession {
  /** The server's base URL, e.g. http://127.0.0.1:PORT. */
  url: string;
  /** The console's URL (`${url}/ui/`). */
  consoleUrl: string;
  app: FastifyInstance;
  /** A REST client on the same server (with the key, when there is one). */
  client: HgymClient;
  browser: Browser;
  page: Page;
  instances: TaskInstance[];
  corpusDir: string;
  /** Requests the page tried to send off loopback (aborted). */
  offLoopback: string[];
  /** Console errors and uncaught exceptions of the page. */
  pageErrors: string[];
}

function isLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

/** A listening server and a browser page on its console; all closed at the test's end. */
export async function startConsole(t: Test, options: ConsoleOptions = {}): Promise<ConsoleSession> {
  const { corpus, instances, dir, cacheDir } = await fixtureCorpus(t);
  const pool = await DockerSandboxPool.start({ ...(options.pool ?? { warm: 1, max: 4 }), startConcurrency: 2 });
  // tap runs teardowns last-registered first: the browser goes, then the server it talks
  // to, then the sandboxes.
  t.teardown(() => pool.close());
  const app = await build({ instanceId: pool.owner.id, corpus, pool, cacheDir, trajectoryFile: join(dir, 'trajectories.jsonl'), apiKey: options.apiKey });
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  t.teardown(async () => {
    const closing = app.close();
    // A WebSocket upgrade refused for want of the key leaves its socket half-open on the
    // server, and close() would wait for it.
    for (const socket of sockets) socket.destroy();
    await closing;
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 60_000 });
  t.teardown(() => browser.close());

  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const offLoopback: string[] = [];
  const pageErrors: string[] = [];
  await context.route('**/*', (route) => {
    const target = route.request().url();
    if (isLoopback(target)) return route.continue();
    offLoopback.push(target);
    return route.abort();
  });
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));

  await pool.waitWarm(1, 120_000);
  return {
    url,
    consoleUrl: `${url}/ui/`,
    app,
    client: new HgymClient({ url, apiKey: options.apiKey }),
    browser,
    page,
    instances,
    corpusDir: dir,
    offLoopback,
    pageErrors,
  };
}

/** Answers the console's key prompt and waits for the console to show. */
export async function enterKey(page: Page, key: string): Promise<void> {
  await page.locator('#key-form input[name="key"]').fill(key);
  await page.locator('#key-form button[type="submit"]').click();
}

/** Writes docs/screenshots/<name>.png from the page as it is. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * The ids that more than one element of the page carries, with their counts (none in a sound
 * page: `#id` then finds one element, and a label's `for` one control).
 */
export async function duplicateIds(page: Page): Promise<Record<string, number>> {
  const ids = await page.locator('[id]').evaluateAll((elements) => elements.map((e) => e.id));
  const counts: Record<string, number> = {};
  for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 1));
}
