/**
 * The Python package under `mypy --strict`, in the venv of the trainer libraries (mypy,
 * gymnasium, the openai SDK): the whole of hgym, and clients/python/tests/typed_usage.py, a
 * trainer's code whose `assert_type`s fail where a result is Any or not the type named (a
 * StepResult unpacks as str, float, bool, bool, dict).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { pythonVenv, TRAINER_LIBRARIES } from '../helpers/python-venv.js';

const PACKAGE = join(import.meta.dirname, '..', '..', 'clients', 'python');
const python = pythonVenv(TRAINER_LIBRARIES);

/** Runs mypy --strict on `targets` (paths under clients/python), its cache in a test directory. */
function mypy(t: Test, ...targets: string[]): { code: number | null; output: string } {
  const result = spawnSync(python, ['-m', 'mypy', '--strict', '--cache-dir', join(t.testdir({}), 'cache'), ...targets], {
    cwd: PACKAGE,
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

t.test('the package is clean under mypy --strict', (t) => {
  const { code, output } = mypy(t, 'hgym');
  t.equal(code, 0, output);
  t.match(output, /^Success: no issues found in \d+ source files/m);
  t.end();
});

t.test("a trainer's code keeps the client's types", (t) => {
  // Errors in the package's own files are the test above's to report; here, the usage file's.
  const { output } = mypy(t, 'tests/typed_usage.py');
  t.match(output, /(checked|in) 1 source file/, 'mypy checked the file');
  t.notMatch(output, /typed_usage\.py:\d+: error/, 'no error in the usage file');
  t.end();
});
