/** execute_bash: one command in the episode's persistent shell. */
import { SandboxFileError, type OutputChunk, type Sandbox } from '../sandbox.js';
import type { ExecuteBashArgs } from '../../schemas/tools.js';
import { invalid, type Observation } from './observation.js';

export interface BashLimits {
  /** Timeout when the agent gives none, and the most it may ask for. */
  timeoutMs: number;
  /** Characters of output kept per command (half head, half tail). */
  maxOutputChars: number;
}

export const DEFAULT_BASH_LIMITS: BashLimits = { timeoutMs: 120_000, maxOutputChars: 30_000 };

export async function executeBash(
  sandbox: Sandbox,
  args: ExecuteBashArgs,
  limits: BashLimits,
  onOutput?: (chunk: OutputChunk) => void,
): Promise<Observation> {
  if (args.command.includes('\0')) return invalid('the command contains a NUL character');
  if (args.command.trim() === '') return invalid('the command is empty; nothing was run');
  const asked = args.timeout === undefined ? limits.timeoutMs : Math.round(args.timeout * 1000);
  const timeoutMs = Math.max(1, Math.min(asked, limits.timeoutMs));
  let result;
  try {
    result = await sandbox.exec(args.command, {
      timeoutMs,
      maxOutput: limits.maxOutputChars,
      ...(onOutput ? { onOutput } : {}),
    });
  } catch (err) {
    // The sandbox is alive but could not start the command (no process slot for a shell).
    if (err instanceof SandboxFileError) return invalid(`the command could not be started: ${err.message} (${err.code}).`);
    throw err;
  }
  const lines = [result.output.replace(/\n$/, '')];
  if (result.timedOut) {
    const partial = result.output === '' ? '' : ' Its output so far is shown above.';
    lines.push(`[The command timed out after ${timeoutMs / 1000} s and was killed, with every process it started.${partial}]`);
  } else if (result.note) {
    lines.push(`[${result.note}]`);
  }
  if (!result.timedOut) {
    lines.push(result.exitCode === null ? '[The command was killed.]' : `[The command finished with exit code ${result.exitCode}.]`);
  }
  lines.push(`[Current working directory: ${result.cwd}]`);
  return {
    text: lines.filter((l) => l !== '').join('\n'),
    exec: { exit_code: result.exitCode, timed_out: result.timedOut, cut_chars: result.cutChars, duration_ms: result.durationMs },
  };
}
