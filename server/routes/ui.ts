/**
 * The web console's static files at /ui/ (the repository's server/ui/ folder), and the browser
 * libraries it uses at /ui/vendor/<package>/..., read from the installed npm packages: nothing
 * is fetched from outside the machine, and there is no build step.
 *
 * These files are code, not data: they are served without the API key (a browser navigation
 * cannot send an Authorization header). Everything the page shows comes from the API, which
 * asks for the key as for any client (docs/console.md). The routes are left out of the
 * OpenAPI document, and every answer carries a Content-Security-Policy that allows this
 * origin only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import fastifyStatic from '@fastify/static';

/** Browser libraries the console imports, served from their installed packages. */
export const VENDORED = ['lit-html', 'uplot'] as const;

/**
 * Same origin only: no inline script or style, no other host, no framing. `connect-src 'self'`
 * covers the WebSocket on the same host and port.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The console's folder, server/ui/ in the checkout or the installed package, for this module
 * at `moduleUrl`: it runs from server/routes/ (tsx) or dist/server/routes/ (built). The build
 * compiles TypeScript only, so the built server serves the same files as the sources do: there
 * is one copy of the console, and the package ships it as server/ui/.
 */
export function uiDir(moduleUrl: string = import.meta.url): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const root = here.replace(/\/(dist\/)?server\/routes$/, '');
  if (root === here) throw new Error(`${here} is not server/routes/ or dist/server/routes/: the console's folder is unknown`);
  return join(root, 'server', 'ui');
}

/** An installed package's root folder: the nearest folder above its entry point whose package.json names it. */
function packageRoot(name: string): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(name));
  while (dir !== dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
    dir = dirname(dir);
  }
  throw new Error(`the installed package ${name} has no package.json above its entry point`);
}

const ROUTE: RouteShorthandOptions = { config: { public: true }, schema: { hide: true } };

export async function uiRoutes(app: FastifyInstance): Promise<void> {
  const root = uiDir();
  const vendored = new Map<string, string>(VENDORED.map((name) => [name, packageRoot(name)]));
  // serve: false — the routes are declared below, so that they can be public and hidden.
  await app.register(fastifyStatic, { root, serve: false, dotfiles: 'ignore', index: false });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  app.get('/ui', ROUTE, async (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui/', ROUTE, async (_request, reply) => reply.sendFile('index.html'));
  app.get<{ Params: { package: string; '*': string } }>('/ui/vendor/:package/*', ROUTE, async (request, reply) => {
    const packageDir = vendored.get(request.params.package);
    if (!packageDir) return reply.callNotFound();
    return reply.sendFile(request.params['*'], packageDir);
  });
  app.get<{ Params: { '*': string } }>('/ui/*', ROUTE, async (request, reply) => reply.sendFile(request.params['*']));
}
