#!/usr/bin/env node
// The hgym command line. The TypeScript sources are compiled to dist/ by `npm ci`
// (the prepare script); this shim only loads them.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bin/cli.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('hgym: dist/ is missing; run `npm ci` (or `npm run build`) in the hgym checkout first.');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
