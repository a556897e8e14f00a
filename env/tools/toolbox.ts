/**
 * The action space of an episode: validates an action against the schemas and runs it.
 * A malformed or unknown call becomes an observation that explains the mistake (it costs a
 * step); only infrastructure failures (a lost sandbox) are thrown.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import {
  Action,
  ExecuteBashArgs,
  FinishArgs,
  StrReplaceEditorArgs,
  ThinkArgs,
} from '../../schemas/tools.js';
import type { OutputChunk, Sandbox } from '../sandbox.js';
import { DEFAULT_BASH_LIMITS, executeBash, type BashLimits } from './bash.js';
import { Editor } from './editor.js';
import { invalid, type Observation } from './observation.js';

export const NUDGE =
  'No tool was called. Keep working on the task with the tools; when you are done, call finish.';

const DESCRIPTIONS = {
  execute_bash:
    'Run a bash command in the sandbox and return its output and exit code. The shell persists across calls (working directory and exported variables). Long-running commands are killed at the timeout; very long output is cut in the middle. There is no network.',
  str_replace_editor:
    'View, create and edit files. view shows a file with line numbers (optionally a line range) or lists a directory two levels deep; create writes a new file; str_replace replaces text that occurs exactly once; insert adds text after a given line; undo_edit reverts the last edit of a file. Paths are absolute.',
  think:
    'Think through the problem without acting. Nothing in the sandbox changes; the thought is logged.',
  finish: 'Call this when the task is done. It ends the episode and your work is graded.',
} as const;

export type ToolName = keyof typeof DESCRIPTIONS;

const ARGUMENT_SCHEMAS: Record<ToolName, TSchema> = {
  execute_bash: ExecuteBashArgs,
  str_replace_editor: StrReplaceEditorArgs,
  think: ThinkArgs,
  finish: FinishArgs,
};

/** A tool in the OpenAI function-calling shape, ready to hand to a model. */
export interface ToolDefinition {
  type: 'function';
  function: { name: ToolName; description: string; parameters: Record<string, unknown> };
}

function plainSchema(schema: TSchema): Record<string, unknown> {
  // JSON round trip drops TypeBox's symbol keys; $id is for the schema registry, not models.
  const plain = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  delete plain.$id;
  return plain;
}

export const TOOL_DEFINITIONS: readonly ToolDefinition[] = (Object.keys(DESCRIPTIONS) as ToolName[]).map((name) => ({
  type: 'function',
  function: { name, description: DESCRIPTIONS[name], parameters: plainSchema(ARGUMENT_SCHEMAS[name]) },
}));

const ajv = new Ajv({ allErrors: true, strict: false });
const validateAction = ajv.compile<Action>(Action);
const validators = Object.fromEntries(
  Object.entries(ARGUMENT_SCHEMAS).map(([name, schema]) => [name, ajv.compile(schema)]),
) as Record<ToolName, ValidateFunction>;

/** The schema's complaint in words an agent can act on: which argument, what was expected. */
function complaint(validate: ValidateFunction, what: string): string {
  const seen = new Set<string>();
  for (const e of validate.errors ?? []) {
    const where = `${what}${e.instancePath.replace(/\//g, '.')}`;
    const params = e.params as { additionalProperty?: string; allowedValues?: unknown[] };
    let text: string;
    if (e.keyword === 'additionalProperties') text = `${where} has an unknown field ${JSON.stringify(params.additionalProperty)}`;
    else if (e.keyword === 'enum') text = `${where} must be one of ${(params.allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    else if (e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
    else text = `${where} ${e.message ?? 'is invalid'}`;
    seen.add(text);
  }
  return seen.size > 0 ? [...seen].join('; ') : ajv.errorsText(validate.errors, { dataVar: what });
}

function isToolName(name: string): name is ToolName {
  return Object.hasOwn(DESCRIPTIONS, name);
}

export interface ToolBoxOptions {
  bash?: Partial<BashLimits>;
}

/** The tools of one episode, bound to its sandbox; holds the editor's undo history. */
export class ToolBox {
  private readonly editor: Editor;
  private readonly bashLimits: BashLimits;

  constructor(
    private readonly sandbox: Sandbox,
    options: ToolBoxOptions = {},
  ) {
    this.editor = new Editor(sandbox);
    this.bashLimits = { ...DEFAULT_BASH_LIMITS, ...options.bash };
  }

  async run(action: unknown, onOutput?: (chunk: OutputChunk) => void): Promise<Observation> {
    if (!validateAction(action)) {
      return invalid(`the action must be {"tool": name, "arguments": {...}} or {"message": text}: ${complaint(validateAction, 'action')}.`);
    }
    if ('message' in action) return { text: NUDGE, invalid: true };
    const name = action.tool;
    if (!isToolName(name)) {
      return invalid(`there is no tool named ${JSON.stringify(name)}. The tools are: ${Object.keys(DESCRIPTIONS).join(', ')}.`);
    }
    const args = action.arguments ?? {};
    const validate = validators[name];
    if (!validate(args)) return invalid(`invalid arguments for ${name}: ${complaint(validate, 'arguments')}.`);
    switch (name) {
      case 'execute_bash':
        return executeBash(this.sandbox, args as ExecuteBashArgs, this.bashLimits, onOutput);
      case 'str_replace_editor':
        return this.editor.run(args as StrReplaceEditorArgs);
      case 'think':
        return { text: 'Your thought has been logged.' };
      case 'finish':
        return { text: 'The episode is finished.', finished: true };
    }
  }
}
