/**
 * Trajectories: every episode's steps, reward and grade, as one JSON record; and the
 * chat-format SFT record a trainer reads (OpenAI-shaped tool calls).
 */
import { Value } from '@sinclair/typebox/value';
import { TrajectoryAnswer } from '../schemas/api.js';
import type { StepRecord } from './episode.js';
import { readJsonlRecords, type DamagedLine } from './jsonl.js';
import { TOOL_DEFINITIONS, type ToolDefinition } from './tools/toolbox.js';

export interface Trajectory {
  episode_id: string;
  task: string;
  instance_id: string;
  instruction: string;
  status: string;
  steps: StepRecord[];
  reward: number | null;
  grade: Record<string, unknown> | null;
  /** Why grading failed, on an episode that ended as `failed`. */
  error?: { code: string; message: string };
  created_at: string;
  ended_at: string | null;
}

type ChatMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface SftRecord {
  messages: ChatMessage[];
  tools: readonly ToolDefinition[];
  reward: number;
  task: string;
  instance_id: string;
}

function isToolCall(action: unknown): action is { tool: string; arguments?: Record<string, unknown> } {
  return typeof action === 'object' && action !== null && typeof (action as { tool?: unknown }).tool === 'string';
}

/** The episode as a conversation: the instruction, then each action and what it observed. */
export function toSft(trajectory: Trajectory): SftRecord {
  const messages: ChatMessage[] = [{ role: 'user', content: trajectory.instruction }];
  for (const step of trajectory.steps) {
    if (isToolCall(step.action)) {
      const id = `call_${step.index}`;
      messages.push({ role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: step.action.tool, arguments: JSON.stringify(step.action.arguments ?? {}) } }] });
      messages.push({ role: 'tool', tool_call_id: id, content: step.observation });
    } else {
      const message = (step.action as { message?: unknown }).message;
      messages.push({ role: 'assistant', content: typeof message === 'string' ? message : JSON.stringify(step.action) });
      messages.push({ role: 'user', content: step.observation });
    }
  }
  return { messages, tools: TOOL_DEFINITIONS, reward: trajectory.reward ?? 0, task: trajectory.task, instance_id: trajectory.instance_id };
}

/** A line of the log is a trajectory when it has the shape GET /v1/episodes/:id/trajectory answers. */
function isTrajectory(value: unknown): value is Trajectory {
  return Value.Check(TrajectoryAnswer, value);
}

/**
 * The trajectories of a log file (written by TrajectoryLog), streamed. A damaged line goes to
 * `onDamaged` and is skipped: one torn record must not cost an export the whole file.
 */
export function readTrajectories(file: string, onDamaged: (damaged: DamagedLine) => void): AsyncGenerator<Trajectory> {
  return readJsonlRecords(file, isTrajectory, onDamaged);
}

export interface SftFilter {
  minReward: number;
  task?: string | undefined;
}

/** Graded, reward ≥ minReward, and of the task asked for (if any). */
export function passesSftFilter(trajectory: Trajectory, filter: SftFilter): boolean {
  return trajectory.reward !== null && trajectory.reward >= filter.minReward && (filter.task === undefined || trajectory.task === filter.task);
}

/** The SFT records of the trajectories that pass the filter. */
export function exportSft(trajectories: readonly Trajectory[], filter: SftFilter): SftRecord[] {
  return trajectories.filter((t) => passesSftFilter(t, filter)).map(toSft);
}
