/**
 * The agent's tools end to end on a real sandbox: every call goes through ToolBox.run, the
 * way an episode's step does, and the result is checked the way the agent (or a grader)
 * would see it — the observation text, and the bytes left in the container.
 */
import t, { type Test } from 'tap';
import { DockerSandboxPool } from '../../docker/pool.js';
import type { OutputChunk, Sandbox } from '../../env/sandbox.js';
import type { Observation } from '../../env/tools/observation.js';
import { ToolBox, type ToolBoxOptions } from '../../env/tools/toolbox.js';
import type { StrReplaceEditorArgs } from '../../schemas/tools.js';
import { strayProcesses } from '../helpers/docker.js';

/** Slack on top of a command's timeout for the kill, the shell restart and the round trip. */
const GRACE_MS = 5_000;

const pool = await DockerSandboxPool.start({ warm: 1, max: 4, drainTimeoutMs: 10_000 });
t.teardown(() => pool.close());

interface Episode {
  sandbox: Sandbox;
  bash(command: string, timeout?: number, onOutput?: (chunk: OutputChunk) => void): Promise<Observation>;
  edit(args: StrReplaceEditorArgs): Promise<Observation>;
  /** A file's exact bytes, read with base64 so nothing is lost in the observation. */
  bytes(path: string): Promise<Buffer>;
}

/** A fresh sandbox and toolbox for one subtest, released when the subtest ends. */
async function episode(t: Test, options: ToolBoxOptions = { bash: { timeoutMs: 20_000, maxOutputChars: 30_000 } }): Promise<Episode> {
  const sandbox = await pool.acquire({ waitMs: 60_000 });
  t.teardown(() => sandbox.release());
  const toolbox = new ToolBox(sandbox, options);
  const bash = (command: string, timeout?: number, onOutput?: (chunk: OutputChunk) => void): Promise<Observation> =>
    toolbox.run({ tool: 'execute_bash', arguments: timeout === undefined ? { command } : { command, timeout } }, onOutput);
  const edit = (args: StrReplaceEditorArgs): Promise<Observation> => toolbox.run({ tool: 'str_replace_editor', arguments: args });
  const bytes = async (path: string): Promise<Buffer> => {
    const obs = await bash(`base64 -w0 ${path}`);
    if (obs.exec?.exit_code !== 0) throw new Error(`cannot read ${path}: ${obs.text}`);
    return Buffer.from(obs.text.split('\n')[0] ?? '', 'base64');
  };
  return { sandbox, bash, edit, bytes };
}

/** The output part of an execute_bash observation: without the bracketed status lines at its end. */
function output(obs: Observation): string {
  const lines = obs.text.split('\n');
  while (lines.length > 0 && /^\[.*\]$/.test(lines[lines.length - 1]!)) lines.pop();
  return lines.join('\n');
}

/** The numbered lines of an editor view, without its header line. */
function body(obs: Observation): string[] {
  return obs.text.split('\n').slice(1);
}

function row(n: number, line: string): string {
  return `${String(n).padStart(6)}\t${line}`;
}

t.test('execute_bash', async (t) => {
  t.test('output, exit code, and stderr merged with stdout', async (t) => {
    const { bash } = await episode(t);
    const ok = await bash('echo hello; echo oops >&2');
    t.notOk(ok.invalid);
    t.match(ok.text, /hello/);
    t.match(ok.text, /oops/);
    t.match(ok.text, /exit code 0\b/);
    t.equal(ok.exec?.exit_code, 0);

    const failed = await bash('ls /nonexistent-dir');
    t.match(failed.text, /No such file or directory/);
    t.match(failed.text, /exit code 2\b/);
    t.equal(failed.exec?.exit_code, 2);
  });

  t.test('the working directory and exported variables persist across calls', async (t) => {
    const { bash } = await episode(t);
    const first = await bash('mkdir -p /workspace/proj/src && cd /workspace/proj/src && export HGYM_VAR="a b"; PLAIN=1');
    t.match(first.text, /Current working directory: \/workspace\/proj\/src\]/);
    const second = await bash('pwd; echo "<$HGYM_VAR>"; env | grep -c ^HGYM_VAR=');
    t.equal(output(second), '/workspace/proj/src\n<a b>\n1');
    t.match(second.text, /Current working directory: \/workspace\/proj\/src\]/);
  });

  t.test('exit 3 is reported, and the shell is still usable with its state kept', async (t) => {
    const { bash } = await episode(t);
    await bash('cd /tmp && export KEPT=yes');
    const exited = await bash('exit 3');
    t.notOk(exited.invalid);
    t.equal(exited.exec?.exit_code, 3);
    t.match(exited.text, /exit code 3\b/);
    const after = await bash('pwd; echo $KEPT');
    t.equal(output(after), '/tmp\nyes');
    t.equal(after.exec?.exit_code, 0);
  });

  t.test('a timeout returns the partial output and a note, within the timeout and a few seconds', async (t) => {
    const { sandbox, bash } = await episode(t);
    await bash('cd /tmp');
    const started = Date.now();
    const obs = await bash('echo started; (sleep 60; echo leaked) & sleep 60; echo never', 2);
    const elapsed = Date.now() - started;
    t.ok(elapsed >= 1_900, `not before the timeout (${elapsed} ms)`);
    t.ok(elapsed < 2_000 + GRACE_MS, `observation after ${elapsed} ms`);
    t.equal(obs.exec?.timed_out, true);
    t.equal(obs.exec?.exit_code, null);
    t.match(obs.text, /started/);
    t.notMatch(obs.text, /never|leaked/);
    t.match(obs.text, /timed out after 2 s/);
    t.notMatch(obs.text, /exit code/);
    t.same(await strayProcesses(sandbox), [], 'the command and its background job were killed');
    const after = await bash('pwd');
    t.equal(output(after), '/tmp', 'the new shell kept the working directory');
  });

  t.test('the server cap bounds a longer timeout the agent asks for', async (t) => {
    const { bash } = await episode(t, { bash: { timeoutMs: 1_000, maxOutputChars: 30_000 } });
    const started = Date.now();
    const obs = await bash('sleep 30', 600);
    const elapsed = Date.now() - started;
    t.equal(obs.exec?.timed_out, true);
    t.ok(elapsed < 1_000 + GRACE_MS, `killed at the server cap (${elapsed} ms)`);
    t.match(obs.text, /timed out after 1 s/);
  });

  t.test('long output keeps the head and the tail and says what was cut', async (t) => {
    const { bash } = await episode(t, { bash: { timeoutMs: 20_000, maxOutputChars: 2_000 } });
    const obs = await bash('seq 1 100000');
    const text = output(obs);
    t.ok(text.startsWith('1\n2\n3\n4\n'), 'the head is kept');
    t.ok(text.endsWith('99999\n100000'), 'the tail is kept');
    t.match(obs.text, /characters of output cut/);
    t.ok((obs.exec?.cut_chars ?? 0) > 500_000, `${obs.exec?.cut_chars} characters were cut`);
    t.ok(obs.text.length < 2_000 + 500, `the observation is bounded (${obs.text.length} chars)`);
    t.match(obs.text, /exit code 0\b/);
  });

  t.test('output is streamed to onOutput before the result', async (t) => {
    const { bash } = await episode(t);
    const chunks: { at: number; chunk: OutputChunk }[] = [];
    const obs = await bash('echo a; sleep 0.5; echo b', undefined, (chunk) => chunks.push({ at: Date.now(), chunk }));
    const done = Date.now();
    t.equal(chunks.map((c) => c.chunk.data).join(''), 'a\nb\n');
    t.ok(chunks.every((c) => c.chunk.stream === 'stdout'));
    const first = chunks[0];
    t.ok(first !== undefined && first.chunk.data.startsWith('a'), 'a arrives in the first chunk');
    t.ok(first !== undefined && done - first.at >= 250, `a arrived ${first ? done - first.at : NaN} ms before the result`);
    t.match(obs.text, /a\nb/);
  });
});

t.test('str_replace_editor', async (t) => {
  t.test('create, view, str_replace, insert and undo_edit keep every untouched byte', async (t) => {
    const { edit, bytes } = await episode(t);
    const path = '/workspace/pkg/mod.py';
    const original = '# -*- coding: utf-8 -*-\r\ndef f(x):\n    return x + 1  \t\n\n# ünïcode ✓ without newline';

    const created = await edit({ command: 'create', path, file_text: original });
    t.notOk(created.invalid, created.text);
    t.same(await bytes(path), Buffer.from(original, 'utf8'));

    const view = await edit({ command: 'view', path });
    t.same(body(view), [row(1, '# -*- coding: utf-8 -*-\r'), row(2, 'def f(x):'), row(3, '    return x + 1  \t'), row(4, ''), row(5, '# ünïcode ✓ without newline')]);

    const range = await edit({ command: 'view', path, view_range: [2, 3] });
    t.same(body(range), [row(2, 'def f(x):'), row(3, '    return x + 1  \t')]);
    t.same(body(await edit({ command: 'view', path, view_range: [4, -1] })), [row(4, ''), row(5, '# ünïcode ✓ without newline')]);

    const replaced = await edit({ command: 'str_replace', path, old_str: 'x + 1', new_str: 'x + 2' });
    t.notOk(replaced.invalid, replaced.text);
    const afterReplace = original.replace('x + 1', 'x + 2');
    t.same(await bytes(path), Buffer.from(afterReplace, 'utf8'));

    const inserted = await edit({ command: 'insert', path, insert_line: 5, new_str: 'print(f(1))' });
    t.notOk(inserted.invalid, inserted.text);
    const afterInsert = `${afterReplace}\nprint(f(1))`;
    t.same(await bytes(path), Buffer.from(afterInsert, 'utf8'), 'no final newline was added');

    t.notOk((await edit({ command: 'undo_edit', path })).invalid);
    t.same(await bytes(path), Buffer.from(afterReplace, 'utf8'));
    t.notOk((await edit({ command: 'undo_edit', path })).invalid);
    t.same(await bytes(path), Buffer.from(original, 'utf8'));
    t.notOk((await edit({ command: 'undo_edit', path })).invalid);
    t.equal((await edit({ command: 'view', path })).invalid, true, 'undoing the create removed the file');
  });

  t.test('view of a directory: two levels, hidden entries excluded', async (t) => {
    const { bash, edit } = await episode(t);
    await bash('mkdir -p /workspace/d/a/b/c /workspace/d/.git && touch /workspace/d/top.py /workspace/d/a/one.py /workspace/d/a/b/two.py /workspace/d/a/b/c/three.py /workspace/d/.hidden /workspace/d/.git/HEAD');
    const obs = await edit({ command: 'view', path: '/workspace/d' });
    t.notOk(obs.invalid);
    t.same(body(obs).slice(1).sort(), ['/workspace/d/a/', '/workspace/d/a/b/', '/workspace/d/a/one.py', '/workspace/d/top.py']);
  });

  t.test('a missing file is an invalid observation for every command that reads it', async (t) => {
    const { edit } = await episode(t);
    const path = '/workspace/missing.py';
    for (const args of [
      { command: 'view', path },
      { command: 'view', path, view_range: [1, 2] },
      { command: 'str_replace', path, old_str: 'a', new_str: 'b' },
      { command: 'insert', path, insert_line: 0, new_str: 'b' },
    ] satisfies StrReplaceEditorArgs[]) {
      const obs = await edit(args);
      t.equal(obs.invalid, true, args.command);
      t.match(obs.text, /does not exist/, args.command);
    }
  });

  t.test('an ambiguous old_str is refused with the line numbers, and the file is unchanged', async (t) => {
    const { bash, edit, bytes } = await episode(t);
    await bash("printf 'x = 1\\ny = 2\\nx = 1\\n' > /workspace/amb.py");
    const obs = await edit({ command: 'str_replace', path: '/workspace/amb.py', old_str: 'x = 1', new_str: 'x = 3' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /\b1, 3\b/);
    t.same(await bytes('/workspace/amb.py'), Buffer.from('x = 1\ny = 2\nx = 1\n'));
    const none = await edit({ command: 'str_replace', path: '/workspace/amb.py', old_str: 'z = 1', new_str: 'x = 3' });
    t.equal(none.invalid, true);
    t.same(await bytes('/workspace/amb.py'), Buffer.from('x = 1\ny = 2\nx = 1\n'));
  });

  t.test('undo_edit with no history is invalid', async (t) => {
    const { bash, edit, bytes } = await episode(t);
    await bash("printf 'keep' > /workspace/u.txt");
    const obs = await edit({ command: 'undo_edit', path: '/workspace/u.txt' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /no edit history/);
    t.same(await bytes('/workspace/u.txt'), Buffer.from('keep'));
  });

  t.test('create refuses an existing file', async (t) => {
    const { bash, edit, bytes } = await episode(t);
    await bash("printf 'old' > /workspace/e.txt");
    const obs = await edit({ command: 'create', path: '/workspace/e.txt', file_text: 'new' });
    t.equal(obs.invalid, true);
    t.same(await bytes('/workspace/e.txt'), Buffer.from('old'));
  });

  t.test('a binary file is refused by view, str_replace and insert, and left unchanged', async (t) => {
    const { bash, edit, bytes } = await episode(t);
    await bash("printf '\\x00\\x01' > /workspace/blob.bin");
    t.same(await bytes('/workspace/blob.bin'), Buffer.from([0, 1]));
    for (const args of [
      { command: 'view', path: '/workspace/blob.bin' },
      { command: 'view', path: '/workspace/blob.bin', view_range: [1, 1] },
      { command: 'str_replace', path: '/workspace/blob.bin', old_str: '\u0001', new_str: 'x' },
      { command: 'insert', path: '/workspace/blob.bin', insert_line: 0, new_str: 'x' },
    ] satisfies StrReplaceEditorArgs[]) {
      const obs = await edit(args);
      t.equal(obs.invalid, true, args.command);
      t.match(obs.text, /binary/, args.command);
    }
    t.same(await bytes('/workspace/blob.bin'), Buffer.from([0, 1]));
  });

  t.test('view_range of a huge file returns exactly the range', async (t) => {
    const { bash, edit } = await episode(t);
    const made = await bash('seq 1 300000 > /workspace/huge.txt && wc -l < /workspace/huge.txt');
    t.equal(output(made), '300000');
    const obs = await edit({ command: 'view', path: '/workspace/huge.txt', view_range: [150000, 150005] });
    t.notOk(obs.invalid, obs.text);
    t.same(body(obs), [150000, 150001, 150002, 150003, 150004, 150005].map((n) => row(n, String(n))));
    t.match(obs.text, /300000/);
    const past = await edit({ command: 'view', path: '/workspace/huge.txt', view_range: [300001, -1] });
    t.equal(past.invalid, true);
    t.match(past.text, /300000 lines/);
    const whole = await edit({ command: 'view', path: '/workspace/huge.txt' });
    t.notOk(whole.invalid);
    t.ok(whole.text.length < 35_000, `a whole view is cut (${whole.text.length} chars)`);
    t.match(whole.text, /view_range/);
  });

  t.test('an empty file: no lines to view, and insert adds just the new line', async (t) => {
    const { bash, edit, bytes } = await episode(t);
    await bash(': > /workspace/empty.txt');
    const range = await edit({ command: 'view', path: '/workspace/empty.txt', view_range: [1, -1] });
    t.equal(range.invalid, true);
    t.match(range.text, /\b0 lines\b/);
    const obs = await edit({ command: 'insert', path: '/workspace/empty.txt', insert_line: 0, new_str: 'first' });
    t.notOk(obs.invalid, obs.text);
    t.same(await bytes('/workspace/empty.txt'), Buffer.from('first\n'));
  });

  t.test('create in a read-only location is an invalid observation, not a throw', async (t) => {
    const { edit, sandbox } = await episode(t);
    const obs = await edit({ command: 'create', path: '/etc/x', file_text: 'x' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /\b(EROFS|EACCES)\b/);
    const other = await edit({ command: 'create', path: '/usr/lib/hgym-test/x.py', file_text: 'x' });
    t.equal(other.invalid, true);
    t.ok(sandbox.usable, 'the sandbox is still usable');
  });

  t.test('files and directories the editor creates belong to the agent user', async (t) => {
    const { bash, edit } = await episode(t);
    t.notOk((await edit({ command: 'create', path: '/workspace/own/sub/f.py', file_text: 'x = 1\n' })).invalid);
    const owners = await bash('stat -c %U /workspace/own/sub/f.py /workspace/own/sub /workspace/own');
    t.equal(output(owners), 'agent\nagent\nagent');
    const edited = await edit({ command: 'str_replace', path: '/workspace/own/sub/f.py', old_str: '1', new_str: '2' });
    t.notOk(edited.invalid);
    t.equal(output(await bash('stat -c %U /workspace/own/sub/f.py; cat /workspace/own/sub/f.py')), 'agent\nx = 2');
  });

  t.test('a relative path is refused', async (t) => {
    const { edit, bash } = await episode(t);
    const obs = await edit({ command: 'create', path: 'rel.txt', file_text: 'x' });
    t.equal(obs.invalid, true);
    t.equal(output(await bash('ls -A /workspace')), '');
  });
});

t.test('a fresh exec (for graders) ignores the agent shell state and its processes', async (t) => {
  await using sb = await pool.acquire();
  await sb.exec('cd /tmp && export SNEAKY=1 && python3() { echo "all tests passed"; } && (sleep 300 &) && echo started', { timeoutMs: 5000 });
  const hijacked = await sb.exec('python3 -c "print(2 + 2)"', { timeoutMs: 5000 });
  t.equal(hijacked.output, 'all tests passed\n', 'the agent shell is hijacked');
  const fresh = await sb.exec('pwd; echo "${SNEAKY:-unset}"; python3 -c "print(2 + 2)"; ps -e -o comm= | grep -c sleep', { timeoutMs: 5000, fresh: { cwd: '/workspace' } });
  t.equal(fresh.output, '/workspace\nunset\n4\n0\n');
});

t.test('halt (for graders) kills every process, a running command included, and leaves no shell', async (t) => {
  await using sb = await pool.acquire();
  await sb.exec('(setsid sleep 300 &); (nohup sleep 301 >/dev/null 2>&1 &); echo started', { timeoutMs: 5000 });
  const running = sb.exec('sleep 302', { timeoutMs: 60_000 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await sb.halt();
  const killed = await running;
  t.equal(killed.exitCode, null, 'the running command ended as killed');
  t.match(killed.note, /halted/);
  const after = await sb.exec('ps -e -o comm= | grep -c sleep', { timeoutMs: 5000 });
  t.equal(after.output, '0\n', 'no process the agent started survived');
});
