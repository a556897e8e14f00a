/**
 * `hgym.action_from_tool_call` on the openai SDK's own objects (clients/python/tests/with_openai.py,
 * run with the SDK of the trainer libraries' venv): Chat Completions tool calls built by
 * `ChatCompletion.model_validate`, their `function`, Responses API `function_call` items, and
 * the ValueError that names what a model got wrong.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { pythonVenv, TRAINER_LIBRARIES } from '../helpers/python-venv.js';

const TESTS = join(import.meta.dirname, '..', '..', 'clients', 'python', 'tests');
const python = pythonVenv(TRAINER_LIBRARIES);

t.test('tool calls from the openai SDK become actions', (t) => {
  const result = spawnSync(python, ['-m', 'unittest', '-v', 'with_openai'], {
    cwd: TESTS,
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 120_000,
  });
  const expected = (readFileSync(join(TESTS, 'with_openai.py'), 'utf8').match(/^\s+def test_\w+\(/gm) ?? []).length;
  t.equal(result.status, 0, result.stderr.slice(-4000));
  t.ok(expected >= 4, `the file has its tests (${expected})`);
  t.equal(Number(/^Ran (\d+) tests? in /m.exec(result.stderr)?.[1] ?? -1), expected, 'every test ran');
  t.match(result.stderr, /^OK$/m);
  t.end();
});
