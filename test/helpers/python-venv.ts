/**
 * A Python virtual environment with the real libraries a test checks against (gymnasium, trl,
 * transformers, the openai SDK, mypy, ...), installed with pip under the machine's own pip
 * configuration. Kept under ~/.cache/hgym/venvs (HGYM_VENV_DIR) by the hash of its packages, so a
 * later run reuses it; built in a temporary folder and renamed, so a run cut off midway leaves
 * nothing half-made.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const BUILD_TIMEOUT_MS = 15 * 60_000;

/** The first `file:` index in pip's configuration, when PIP_INDEX_URL is not set: the only one reachable offline. */
function pipEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_ROOT_USER_ACTION: 'ignore' };
  if (env.PIP_INDEX_URL) return env;
  const config = spawnSync('python3', ['-m', 'pip', 'config', 'list'], { encoding: 'utf8' }).stdout ?? '';
  const mirror = /extra-index-url='(file:[^ ']+)/.exec(config)?.[1];
  if (mirror) env.PIP_INDEX_URL = mirror;
  return env;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(command, args, { env, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 * 2 ** 20 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${(result.stderr || result.stdout || '').slice(-3000)}`);
  }
}

/**
 * The python of a virtual environment holding `packages` (pip requirement strings). Built once
 * per set of packages and kept: code of this checkout (the hgym client) does not belong in it,
 * tests put it on PYTHONPATH instead.
 */
export function pythonVenv(packages: readonly string[], python = 'python3'): string {
  const version = spawnSync(python, ['-c', 'import sys; print(sys.version)'], { encoding: 'utf8' }).stdout.trim();
  const key = createHash('sha256').update(JSON.stringify([version, [...packages].sort()])).digest('hex').slice(0, 16);
  const root = process.env.HGYM_VENV_DIR ?? join(homedir(), '.cache', 'hgym', 'venvs');
  const dir = join(root, key);
  const bin = join(dir, 'bin', 'python');
  if (existsSync(bin)) return bin;
  mkdirSync(root, { recursive: true });
  // Built where it will live (a venv's scripts name their own path), under a name only this
  // process uses, then renamed into place: another process building the same one at the same
  // time loses the rename and uses the winner's.
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  try {
    run(python, ['-m', 'venv', building], process.env);
    run(join(building, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', ...packages], pipEnv());
    try {
      renameSync(building, dir);
    } catch (err) {
      if (!existsSync(bin)) throw err;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  // Its scripts' shebangs name the folder it was built in: run tools as `python -m tool`.
  return bin;
}

/**
 * The libraries trainers reach hgym through, in one venv shared by the tests that check against
 * them (one build per machine instead of one per test file).
 */
export const TRAINER_LIBRARIES = ['gymnasium==1.3.0', 'numpy', 'transformers', 'jinja2', 'openai', 'mypy', 'jsonschema', 'websockets'] as const;
