/**
 * hgym.integrations.trl checked the way TRL 1.13's GRPOTrainer uses an environment, against live
 * servers with real sandboxes (test/clients/libraries/check_trl.py does the Python side): every
 * public method gets a schema from transformers' get_json_schema that matches the server's tool;
 * rollouts through the class score 1 for the gold answer and 0 for none; examples/grpo_trl.py
 * compiles and names only what TRL 1.13 has. Also: the text a model sends beside a tool call
 * reaches `hgym export` through the wire, and the exported record renders.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { toSft, type Trajectory } from '../../env/trajectory.js';
import { pythonVenv, TRAINER_LIBRARIES } from '../helpers/python-venv.js';
import { trlChatTemplates, trlPackage } from './libraries/trl-wheel.js';
import { goldFuncLocalize, liveServers, run } from './live-server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const LIBRARIES = join(import.meta.dirname, 'libraries');

const python = pythonVenv(TRAINER_LIBRARIES);
const servers = await liveServers(t, { warm: 2, max: 6 });
const { instance, gold } = goldFuncLocalize(servers.instances);
const { HGYM_API_KEY: _unused, HGYM_URL: _unusedUrl, ...inherited } = process.env;

async function checkTrl(t: Test, args: string[]): Promise<Record<string, unknown>> {
  const result = await run(python, [join(LIBRARIES, 'check_trl.py'), ...args], {
    cwd: ROOT,
    timeoutMs: 180_000,
    env: { ...inherited, PYTHONPATH: join(ROOT, 'clients', 'python'), PYTHONDONTWRITEBYTECODE: '1' },
  });
  t.equal(result.code, 0, 'check_trl.py ran', { stderr: result.stderr.slice(-3000) });
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

t.test('every tool method has the schema TRL derives, and it is the server tool', async (t) => {
  const found = await checkTrl(t, ['tools', servers.url, trlChatTemplates()]);
  const tools = ['execute_bash', 'finish', 'str_replace_editor', 'think'];
  t.same(found.server_tools, tools, 'GET /v1/tools');
  t.same(found.methods, tools, 'the methods TRL offers as tools: one per hgym tool, nothing else');
  t.same(found.schema_errors, {}, 'get_json_schema takes every method');
  t.same(found.problems, [], 'names, required arguments, types, enums and descriptions match the server');
  t.same(found.rendered_tool_names, tools, 'a prompt rendered with the methods as tools names them all');
});

t.test('rollouts through the class, as GRPOTrainer plays them', async (t) => {
  const found = (await checkTrl(t, ['rollout', servers.url, JSON.stringify(gold)])) as {
    solved: { instruction: string; reward: number; status: string; trajectory_tools: string[]; after_finish: string; grade: Record<string, unknown> | null; answers: string[] };
    unfinished: { instruction: string; reward: number; status: string };
    replaced: { abandoned_status: string };
    truncated: { first: string; second: string; third: string; reward: number; steps: number; status: string };
    before_reset: string;
    ended_text: string;
  };
  const { solved, unfinished, replaced, truncated } = found;
  t.equal(solved.instruction, instance.instruction, 'reset() returns the instruction (after an empty placeholder prompt, as is)');
  t.equal(solved.reward, 1, 'the gold answer through the tool methods scores 1');
  t.ok(solved.grade, 'the grade is kept');
  t.equal(solved.status, 'terminated', 'finished by the finish tool');
  t.same(solved.trajectory_tools, ['think', 'execute_bash', 'str_replace_editor', 'finish'], 'each method call was one step');
  t.equal(solved.after_finish, found.ended_text, 'a call after the end is answered, not run');

  t.equal(unfinished.instruction, `\n\n${instance.instruction}`, 'after a prompt of its own the instruction starts on a new paragraph');
  t.equal(unfinished.reward, 0, 'no answer scores 0');
  t.equal(unfinished.status, 'terminated', 'get_reward finished the episode the model left open');
  t.equal(replaced.abandoned_status, 'closed', 'a reset closes the episode still open');

  t.match(truncated.first, /one/);
  t.match(truncated.second, /two/);
  t.equal(truncated.third, found.ended_text, 'past max_steps, calls are not run');
  t.same([truncated.steps, truncated.status, truncated.reward], [2, 'truncated', 0], 'truncated at max_steps and graded there');
  t.equal(found.before_reset, 'ResetNeeded', 'a tool before reset is an error of its own');
});

t.test('the text beside a tool call reaches hgym export through the wire', async (t) => {
  const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${servers.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.ok(res.ok, `POST ${path}: ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const { episode_id: id } = (await post('/v1/episodes', { instance_id: instance.instance_id })) as { episode_id: string };
  await post(`/v1/episodes/${id}/step`, { action: { tool: 'execute_bash', arguments: { command: 'ls' }, content: 'First, a look around.' } });
  await post(`/v1/episodes/${id}/step`, { action: { tool: 'finish', arguments: {}, content: 'Nothing to do.' } });
  const trajectory = (await (await fetch(`${servers.url}/v1/episodes/${id}/trajectory`)).json()) as Trajectory;
  const record = toSft(trajectory);
  t.match(record.messages[1], { role: 'assistant', content: 'First, a look around.', tool_calls: [{ function: { name: 'execute_bash', arguments: { command: 'ls' } } }] });
  t.match(record.messages[3], { role: 'assistant', content: 'Nothing to do.' });
  t.match(record, { episode_id: id, reward: 0, instance_id: instance.instance_id });
  t.ok(record.grade, 'the grade is in the record');

  const file = join(servers.corpusDir, '..', 'exported.jsonl');
  writeFileSync(file, `${JSON.stringify(record)}\n`);
  const checked = spawnSync(python, [join(LIBRARIES, 'check_templates.py'), trlChatTemplates(), file], { encoding: 'utf8', timeout: 300_000 });
  t.equal(checked.status, 0, 'check_templates.py ran', { stderr: checked.stderr.slice(-3000) });
  const report = JSON.parse(checked.stdout) as { templates: { template: string; form: string | null; problems?: Record<string, string[]> }[] };
  const rendering = report.templates.filter((r) => r.problems !== undefined);
  t.ok(rendering.length >= 30, `${rendering.length} templates render it`);
  t.same(rendering.filter((r) => Object.keys(r.problems ?? {}).length > 0).map((r) => [r.template, r.problems]), [], 'the real record renders everywhere');
});

t.test('examples/grpo_trl.py compiles and names only what TRL 1.13 has', async (t) => {
  const found = await checkTrl(t, ['example', join(ROOT, 'examples', 'grpo_trl.py'), trlPackage()]);
  t.same(found.from_trl, ['GRPOConfig', 'GRPOTrainer']);
  t.same(found.missing_from_trl, [], 'each is exported by trl');
  t.same(found.from_hgym, ['HGymTRLEnv']);
  t.ok((found.trainer_keywords as string[]).includes('environment_factory'), 'the environment goes to GRPOTrainer as environment_factory');
  t.same(found.unknown_trainer_keywords, [], 'every GRPOTrainer keyword is a parameter of GRPOTrainer.__init__');
  t.ok((found.config_keywords as string[]).includes('max_tool_calling_iterations'));
  t.same(found.unknown_config_keywords, [], 'every GRPOConfig keyword is a field of GRPOConfig or TrainingArguments');
  t.same(found.unknown_env_keywords, [], 'every keyword given to HGymTRLEnv is a parameter of it');
});
