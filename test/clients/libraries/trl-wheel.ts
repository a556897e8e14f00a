/**
 * TRL 1.13's files, for tests that check against them: its chat templates and its source. TRL
 * cannot be imported without torch, which the package mirror lacks, so it is installed alone
 * (--no-deps) in a venv of its own, kept like every test venv, and read as files.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pythonVenv } from '../../helpers/python-venv.js';

export const TRL_VERSION = '1.13.0';

/** The `trl` package folder of the installed wheel. */
export function trlPackage(): string {
  const python = pythonVenv(['--no-deps', `trl==${TRL_VERSION}`]);
  // find_spec locates the package without running its __init__ (which imports torch).
  const found = spawnSync(python, ['-c', 'import importlib.util; print(importlib.util.find_spec("trl").submodule_search_locations[0])'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`trl ${TRL_VERSION} not found in its venv: ${found.stderr}`);
  return found.stdout.trim();
}

export function trlChatTemplates(): string {
  return join(trlPackage(), 'chat_templates');
}
