import { Ajv, type ValidateFunction } from 'ajv';
import t from 'tap';
import { hgymError } from '../../../env/errors.js';
import { SandboxFileError, type ExecOptions, type OutputChunk } from '../../../env/sandbox.js';
import { NUDGE, TOOL_DEFINITIONS, ToolBox } from '../../../env/tools/toolbox.js';
import { MemorySandbox, execResult, type MemorySandboxOptions } from '../../helpers/memory-sandbox.js';

const TOOL_NAMES = ['execute_bash', 'str_replace_editor', 'think', 'finish'];

function setup(options: MemorySandboxOptions = {}, limits = { timeoutMs: 5_000, maxOutputChars: 1_000 }) {
  const sb = new MemorySandbox(options);
  const toolbox = new ToolBox(sb, { bash: limits });
  return { sb, toolbox };
}

/** The options of every exec the sandbox received. */
function execs(sb: MemorySandbox): ExecOptions[] {
  return sb.calls.flatMap((c) => (c.op === 'exec' ? [c.options] : []));
}

function hasKeyDeep(value: unknown, key: string): boolean {
  if (Array.isArray(value)) return value.some((v) => hasKeyDeep(v, key));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => k === key || hasKeyDeep(v, key));
  }
  return false;
}

t.test('TOOL_DEFINITIONS', async (t) => {
  t.test('four tools in the OpenAI function-calling shape', async (t) => {
    t.same(TOOL_DEFINITIONS.map((d) => d.function.name).sort(), [...TOOL_NAMES].sort());
    for (const def of TOOL_DEFINITIONS) {
      t.equal(def.type, 'function');
      t.type(def.function.description, 'string');
      t.ok(def.function.description.length > 20, `${def.function.name} has a description`);
      t.equal(def.function.parameters.type, 'object', `${def.function.name} parameters are an object schema`);
      t.type(def.function.parameters.properties, 'object');
      t.notOk(hasKeyDeep(def.function.parameters, '$id'), `${def.function.name} parameters carry no $id`);
    }
  });

  t.test('survive a JSON round trip unchanged (what a model API receives)', async (t) => {
    t.same(JSON.parse(JSON.stringify(TOOL_DEFINITIONS)), TOOL_DEFINITIONS);
  });

  t.test('the parameters are valid JSON Schemas that accept good calls and refuse bad ones', async (t) => {
    const ajv = new Ajv({ strict: false });
    const byName = new Map<string, ValidateFunction>(TOOL_DEFINITIONS.map((d) => [d.function.name, ajv.compile(d.function.parameters)]));
    const accept = (name: string, args: unknown): boolean => byName.get(name)!(args);
    t.ok(accept('execute_bash', { command: 'ls', timeout: 3 }));
    t.notOk(accept('execute_bash', {}));
    t.notOk(accept('execute_bash', { command: 'ls', extra: 1 }));
    t.ok(accept('str_replace_editor', { command: 'view', path: '/x', view_range: [1, -1] }));
    t.notOk(accept('str_replace_editor', { command: 'delete', path: '/x' }));
    t.ok(accept('think', { thought: 'hm' }));
    t.ok(accept('finish', {}));
  });
});

t.test('malformed actions are invalid observations and touch nothing', async (t) => {
  const { sb, toolbox } = setup();
  const bad: unknown[] = [
    null,
    undefined,
    'execute_bash',
    42,
    [],
    [{ tool: 'think', arguments: { thought: 'x' } }],
    {},
    { arguments: { thought: 'x' } },
    { tool: '' },
    { tool: 7, arguments: {} },
    { tool: 'think', arguments: { thought: 'x' }, id: 'call_1' },
    { tool: 'think', arguments: [] },
    { tool: 'think', arguments: 'thought' },
    { tool: 'think', arguments: null },
    { message: 5 },
    { message: 'hi', tool: 'think' },
  ];
  for (const action of bad) {
    const obs = await toolbox.run(action);
    t.equal(obs.invalid, true, JSON.stringify(action) ?? 'undefined');
    t.notOk(obs.finished);
    t.match(obs.text, /ERROR/);
  }
  t.same(sb.calls, []);
});

t.test('an unknown tool is invalid and the observation names the tools', async (t) => {
  const { sb, toolbox } = setup();
  for (const tool of ['bash', 'toString', '__proto__', 'constructor', 'hasOwnProperty']) {
    const obs = await toolbox.run({ tool, arguments: {} });
    t.equal(obs.invalid, true, tool);
    for (const name of TOOL_NAMES) t.match(obs.text, name, `${tool}: names ${name}`);
  }
  t.same(sb.calls, []);
});

t.test('bad arguments are invalid observations and touch nothing', async (t) => {
  const { sb, toolbox } = setup();
  const bad: [string, Record<string, unknown> | undefined][] = [
    ['execute_bash', undefined],
    ['execute_bash', {}],
    ['execute_bash', { command: 5 }],
    ['execute_bash', { command: 'ls', timeout: '5' }],
    ['execute_bash', { command: 'ls', timeout: 0 }],
    ['execute_bash', { command: 'ls', timeout: -1 }],
    ['execute_bash', { command: 'ls', cwd: '/' }],
    ['str_replace_editor', { command: 'delete', path: '/workspace/a' }],
    ['str_replace_editor', { command: 'view' }],
    ['str_replace_editor', { command: 'view', path: 3 }],
    ['str_replace_editor', { command: 'view', path: '/a', view_range: [1] }],
    ['str_replace_editor', { command: 'view', path: '/a', view_range: [1, 2, 3] }],
    ['str_replace_editor', { command: 'view', path: '/a', view_range: [1.5, 2] }],
    ['str_replace_editor', { command: 'insert', path: '/a', insert_line: -1, new_str: 'x' }],
    ['str_replace_editor', { command: 'insert', path: '/a', insert_line: '1', new_str: 'x' }],
    ['str_replace_editor', { command: 'create', path: '/a', file_text: 'x', mode: '0644' }],
    ['think', {}],
    ['think', { thought: 1 }],
    ['finish', { message: 1 }],
    ['finish', { reward: 1 }],
  ];
  for (const [tool, args] of bad) {
    const action = args === undefined ? { tool } : { tool, arguments: args };
    const obs = await toolbox.run(action);
    t.equal(obs.invalid, true, JSON.stringify(action));
    t.match(obs.text, tool, `${JSON.stringify(action)}: names the tool`);
    t.notOk(obs.finished);
  }
  t.same(sb.calls, []);
});

t.test('a plain message gets the nudge and costs a step', async (t) => {
  const { sb, toolbox } = setup();
  const obs = await toolbox.run({ message: 'I think the bug is in parse().' });
  t.equal(obs.invalid, true);
  t.equal(obs.text, NUDGE);
  t.match(obs.text, /finish/);
  t.notOk(obs.finished);
  t.same(sb.calls, []);
});

t.test('think is logged and does not touch the sandbox', async (t) => {
  const { sb, toolbox } = setup();
  const obs = await toolbox.run({ tool: 'think', arguments: { thought: 'rm -rf / would be bad' } });
  t.notOk(obs.invalid);
  t.notOk(obs.finished);
  t.match(obs.text, /logged/);
  t.same(sb.calls, []);
});

t.test('finish ends the episode, with or without a message', async (t) => {
  const { sb, toolbox } = setup();
  for (const action of [{ tool: 'finish' }, { tool: 'finish', arguments: {} }, { tool: 'finish', arguments: { message: 'done' } }]) {
    const obs = await toolbox.run(action);
    t.equal(obs.finished, true, JSON.stringify(action));
    t.notOk(obs.invalid);
  }
  t.same(sb.calls, []);
});

t.test('execute_bash', async (t) => {
  t.test('the timeout the agent asks for is capped at the server limit', async (t) => {
    const { sb, toolbox } = setup();
    await toolbox.run({ tool: 'execute_bash', arguments: { command: 'make', timeout: 1000 } });
    await toolbox.run({ tool: 'execute_bash', arguments: { command: 'make', timeout: 2 } });
    await toolbox.run({ tool: 'execute_bash', arguments: { command: 'make' } });
    await toolbox.run({ tool: 'execute_bash', arguments: { command: 'make', timeout: 0.25 } });
    await toolbox.run({ tool: 'execute_bash', arguments: { command: 'make', timeout: 1e-6 } });
    t.same(
      execs(sb).map((o) => o.timeoutMs),
      [5000, 2000, 5000, 250, 1],
      'capped, lowered, default, fractional, never below 1 ms',
    );
  });

  t.test('the command and the output cap reach the sandbox as given', async (t) => {
    const { sb, toolbox } = setup({}, { timeoutMs: 5_000, maxOutputChars: 777 });
    const command = "cd /tmp && printf '%s\\n' \"$HOME\" | grep -c x";
    await toolbox.run({ tool: 'execute_bash', arguments: { command } });
    t.same(
      sb.calls.map((c) => (c.op === 'exec' ? c.command : c.op)),
      [command],
    );
    t.equal(execs(sb)[0]?.maxOutput, 777);
  });

  t.test('the observation has the output, the exit code and the working directory', async (t) => {
    const { toolbox } = setup({
      exec: () => execResult({ output: 'collected 3 items\nFAILED test_a.py::test_x\n', exitCode: 3, cwd: '/workspace/pkg', durationMs: 42 }),
    });
    const obs = await toolbox.run({ tool: 'execute_bash', arguments: { command: 'pytest' } });
    t.notOk(obs.invalid);
    t.match(obs.text, /collected 3 items\nFAILED test_a\.py::test_x/);
    t.match(obs.text, /exit code 3\b/);
    t.match(obs.text, /\/workspace\/pkg/);
    t.same(obs.exec, { exit_code: 3, timed_out: false, cut_chars: 0, duration_ms: 42 });
  });

  t.test('exit code 0 is reported too', async (t) => {
    const { toolbox } = setup({ exec: () => execResult({ output: '' }) });
    const obs = await toolbox.run({ tool: 'execute_bash', arguments: { command: 'true' } });
    t.match(obs.text, /exit code 0\b/);
    t.match(obs.text, /\/workspace/);
  });

  t.test('a timeout keeps the partial output and says the command was killed at the limit', async (t) => {
    const { toolbox } = setup({
      exec: (_c, o) => execResult({ output: 'step 1\nstep 2\n', exitCode: null, timedOut: true, durationMs: o.timeoutMs }),
    });
    const obs = await toolbox.run({ tool: 'execute_bash', arguments: { command: 'sleep 100', timeout: 3 } });
    t.notOk(obs.invalid);
    t.match(obs.text, /step 1\nstep 2/);
    t.match(obs.text, /timed out/);
    t.match(obs.text, /\b3 s\b/);
    t.notMatch(obs.text, /exit code/);
    t.match(obs.text, /\/workspace/);
    t.equal(obs.exec?.timed_out, true);
    t.equal(obs.exec?.exit_code, null);
  });

  t.test("the sandbox's note and a kill without exit code are shown", async (t) => {
    const { toolbox } = setup({
      exec: () => execResult({ output: 'x\n', exitCode: null, note: 'the sandbox ran out of process slots' }),
    });
    const obs = await toolbox.run({ tool: 'execute_bash', arguments: { command: ':(){ :|:& };:' } });
    t.match(obs.text, /process slots/);
    t.match(obs.text, /killed/);
  });

  t.test('cut output is reported in exec.cut_chars', async (t) => {
    const { toolbox } = setup({ exec: () => execResult({ output: 'head\n[... 500 characters of output cut here ...]\ntail', cutChars: 500 }) });
    const obs = await toolbox.run({ tool: 'execute_bash', arguments: { command: 'yes | head -c 2000' } });
    t.equal(obs.exec?.cut_chars, 500);
    t.match(obs.text, /500 characters/);
  });

  t.test('streamed chunks reach onOutput', async (t) => {
    const { toolbox } = setup({
      exec: (_c, o) => {
        o.onOutput?.({ stream: 'stdout', data: 'a\n' });
        o.onOutput?.({ stream: 'stderr', data: 'b\n' });
        return execResult({ output: 'a\nb\n' });
      },
    });
    const chunks: OutputChunk[] = [];
    const obs = await toolbox.run({ tool: 'execute_bash', arguments: { command: 'echo a; echo b >&2' } }, (c) => chunks.push(c));
    t.same(chunks, [
      { stream: 'stdout', data: 'a\n' },
      { stream: 'stderr', data: 'b\n' },
    ]);
    t.match(obs.text, /a\nb/);
  });

  t.test('an empty command or one with a NUL is invalid and not run', async (t) => {
    const { sb, toolbox } = setup();
    for (const command of ['', '   \n\t', 'echo a\0b']) {
      const obs = await toolbox.run({ tool: 'execute_bash', arguments: { command } });
      t.equal(obs.invalid, true, JSON.stringify(command));
    }
    t.same(sb.calls, []);
  });
});

t.test('str_replace_editor runs through the toolbox, which keeps the undo history', async (t) => {
  const { sb, toolbox } = setup();
  const created = await toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'create', path: '/workspace/a.py', file_text: 'x = 1\n' } });
  t.notOk(created.invalid);
  await toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'str_replace', path: '/workspace/a.py', old_str: '1', new_str: '2' } });
  t.equal(sb.content('/workspace/a.py'), 'x = 2\n');
  t.notOk((await toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'undo_edit', path: '/workspace/a.py' } })).invalid);
  t.equal(sb.content('/workspace/a.py'), 'x = 1\n');

  const other = new ToolBox(sb);
  const obs = await other.run({ tool: 'str_replace_editor', arguments: { command: 'undo_edit', path: '/workspace/a.py' } });
  t.equal(obs.invalid, true, 'another episode does not share the history');
});

t.test('the complaint names the offending field and the allowed values', async (t) => {
  const { toolbox } = setup();
  const unknownField = await toolbox.run({ tool: 'execute_bash', arguments: { command: 'ls', cwd: '/' } });
  t.match(unknownField.text, /"cwd"/);
  const badCommand = await toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'delete', path: '/a' } });
  for (const allowed of ['view', 'create', 'str_replace', 'insert', 'undo_edit']) t.match(badCommand.text, `"${allowed}"`);
  const wrongType = await toolbox.run({ tool: 'execute_bash', arguments: { command: 5 } });
  t.match(wrongType.text, /command must be string/);
});

t.test('failures', async (t) => {
  t.test('a shell that cannot be started is an invalid observation, not a crash', async (t) => {
    const { toolbox } = setup({
      exec: () => {
        throw new SandboxFileError('EAGAIN', 'Resource temporarily unavailable');
      },
    });
    const obs = await toolbox.run({ tool: 'execute_bash', arguments: { command: 'ls' } });
    t.equal(obs.invalid, true);
    t.match(obs.text, /EAGAIN/);
  });

  t.test('a filesystem refusal is an invalid observation naming the errno', async (t) => {
    const { toolbox } = setup({
      fault: (op, path) => (path.startsWith('/root') ? new SandboxFileError('EACCES', `Permission denied: ${path} (${op})`) : undefined),
    });
    const view = await toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'view', path: '/root/secret' } });
    t.equal(view.invalid, true);
    t.match(view.text, /EACCES/);
    const create = await toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'create', path: '/root/x', file_text: 'x' } });
    t.equal(create.invalid, true);
    t.match(create.text, /EACCES/);
  });

  t.test('a read-only location refuses create as an invalid observation', async (t) => {
    const { sb, toolbox } = setup({ readOnly: ['/etc'] });
    const obs = await toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'create', path: '/etc/x', file_text: 'x' } });
    t.equal(obs.invalid, true);
    t.match(obs.text, /EROFS/);
    t.equal(sb.content('/etc/x'), undefined);
  });

  t.test('a lost sandbox during execute_bash rejects with its code', async (t) => {
    const { toolbox } = setup({
      exec: () => {
        throw hgymError('HGYM_ERR_SANDBOX_LOST', 'the container exited');
      },
    });
    await t.rejects(toolbox.run({ tool: 'execute_bash', arguments: { command: 'ls' } }), { code: 'HGYM_ERR_SANDBOX_LOST' });
  });

  t.test('a lost sandbox during an editor command rejects with its code', async (t) => {
    const { toolbox } = setup({ fault: () => hgymError('HGYM_ERR_SANDBOX_LOST', 'x') });
    for (const args of [
      { command: 'view', path: '/workspace' },
      { command: 'create', path: '/workspace/a', file_text: '' },
      { command: 'str_replace', path: '/workspace/a', old_str: 'a', new_str: 'b' },
      { command: 'insert', path: '/workspace/a', insert_line: 0, new_str: 'b' },
    ]) {
      await t.rejects(toolbox.run({ tool: 'str_replace_editor', arguments: args }), { code: 'HGYM_ERR_SANDBOX_LOST' }, args.command);
    }
  });

  t.test('an executor failure propagates as a rejection', async (t) => {
    const { toolbox } = setup({ fault: () => hgymError('HGYM_ERR_EXECUTOR', 'EIO: broken pipe') });
    await t.rejects(toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'view', path: '/workspace' } }), { code: 'HGYM_ERR_EXECUTOR' });
  });

  t.test('a released sandbox rejects tool calls that need it', async (t) => {
    const { sb, toolbox } = setup();
    await sb.release();
    await t.rejects(toolbox.run({ tool: 'execute_bash', arguments: { command: 'ls' } }), { code: 'HGYM_ERR_SANDBOX_RELEASED' });
    await t.rejects(toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'view', path: '/workspace' } }), {
      code: 'HGYM_ERR_SANDBOX_RELEASED',
    });
  });
});
