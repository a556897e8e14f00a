/**
 * Trajectories: every episode's steps, reward and grade, as one JSON record; and the
 * chat-format SFT record a trainer reads, in the shape Hugging Face chat templates render.
 */
import { Value } from '@sinclair/typebox/value';
import { TrajectoryAnswer } from '../schemas/api.js';
import { readJsonlRecords, type DamagedLine } from './jsonl.js';
import { TOOL_DEFINITIONS, type ToolDefinition } from './tools/toolbox.js';

/** An episode's record, as GET /v1/episodes/:id/trajectory answers it and the trajectory log holds it. */
export type Trajectory = TrajectoryAnswer;

/** A tool call as Hugging Face chat templates read it: `arguments` an object, never a JSON string. */
interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: Record<string, unknown> };
}

/**
 * A message in the shape Hugging Face chat templates expect (what TRL's SFT and GRPO trainers
 * render): `content` is always a string, since several templates concatenate or test it as
 * one; a tool message names its tool, which templates without call ids show instead.
 */
type ChatMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; tool_calls?: ChatToolCall[] }
  | { role: 'tool'; tool_call_id: string; name: string; content: string };

export interface SftRecord {
  messages: ChatMessage[];
  tools: readonly ToolDefinition[];
  reward: number;
  /** The grader's breakdown, as the trajectory holds it. */
  grade: Record<string, unknown> | null;
  task: string;
  instance_id: string;
  episode_id: string;
}

interface ToolCallAction {
  tool: string;
  arguments?: Record<string, unknown>;
  content?: string;
}

function isToolCall(action: unknown): action is ToolCallAction {
  return typeof action === 'object' && action !== null && typeof (action as { tool?: unknown }).tool === 'string';
}

/**
 * The episode as a conversation: the instruction, then each step as an assistant turn and
 * what it observed. A tool call is an assistant message holding that call (with the text the
 * model sent beside it, the action's `content`) answered by a tool message; a plain message
 * is an assistant message answered by the nudge, as a user message.
 */
export function toSft(trajectory: Trajectory): SftRecord {
  const messages: ChatMessage[] = [{ role: 'user', content: trajectory.instruction }];
  for (const step of trajectory.steps) {
    if (isToolCall(step.action)) {
      const id = `call_${step.index}`;
      const { tool, arguments: args = {}, content = '' } = step.action;
      messages.push({ role: 'assistant', content, tool_calls: [{ id, type: 'function', function: { name: tool, arguments: args } }] });
      messages.push({ role: 'tool', tool_call_id: id, name: tool, content: step.observation });
    } else {
      const message = (step.action as { message?: unknown }).message;
      messages.push({ role: 'assistant', content: typeof message === 'string' ? message : JSON.stringify(step.action) });
      messages.push({ role: 'user', content: step.observation });
    }
  }
  return {
    messages,
    tools: TOOL_DEFINITIONS,
    reward: trajectory.reward ?? 0,
    grade: trajectory.grade,
    task: trajectory.task,
    instance_id: trajectory.instance_id,
    episode_id: trajectory.episode_id,
  };
}

/** A line of the log is a trajectory when it has the shape GET /v1/episodes/:id/trajectory answers. */
function isTrajectory(value: unknown): value is Trajectory {
  return Value.Check(TrajectoryAnswer, value);
}

/** The step fields logs written before the wire went snake_case name in camelCase. */
const LEGACY_STEP_FIELDS = [
  ['startedAt', 'started_at'],
  ['durationMs', 'duration_ms'],
] as const;

/**
 * A line of an older log (camelCase step fields) as today's shape, renamed in place; any other
 * value is left as it is, for isTrajectory to judge.
 */
function upgradeLegacy(value: unknown): unknown {
  const steps = (value as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(steps)) return value;
  for (const step of steps as Record<string, unknown>[]) {
    if (typeof step !== 'object' || step === null) continue;
    for (const [old, now] of LEGACY_STEP_FIELDS) {
      if (old in step && !(now in step)) {
        step[now] = step[old];
        delete step[old];
      }
    }
  }
  return value;
}

/**
 * The trajectories of a log file (written by TrajectoryLog), streamed. A damaged line goes to
 * `onDamaged` and is skipped: one torn record must not cost an export the whole file. Lines of
 * logs written before the wire went snake_case are read as today's.
 */
export function readTrajectories(file: string, onDamaged: (damaged: DamagedLine) => void): AsyncGenerator<Trajectory> {
  return readJsonlRecords(file, isTrajectoryRecord, onDamaged);
}

/** A parsed line of the log is a trajectory (a line of an older log is upgraded in place first). */
export function isTrajectoryRecord(value: unknown): value is Trajectory {
  return isTrajectory(upgradeLegacy(value));
}

/** Which trajectories to keep; every field left out keeps all. Times bound `ended_at`, both ends included. */
export interface TrajectoryFilter {
  task?: string | undefined;
  minReward?: number | undefined;
  maxReward?: number | undefined;
  endedFrom?: Date | undefined;
  endedTo?: Date | undefined;
}

/** Of the task asked for; within the reward range (an ungraded episode is in none); ended within the times. */
export function passesFilter(trajectory: Trajectory, filter: TrajectoryFilter): boolean {
  if (filter.task !== undefined && trajectory.task !== filter.task) return false;
  if (filter.minReward !== undefined || filter.maxReward !== undefined) {
    const { reward } = trajectory;
    if (reward === null || reward < (filter.minReward ?? -Infinity) || reward > (filter.maxReward ?? Infinity)) return false;
  }
  if (filter.endedFrom !== undefined || filter.endedTo !== undefined) {
    const ended = trajectory.ended_at === null ? NaN : Date.parse(trajectory.ended_at);
    if (!(ended >= (filter.endedFrom?.getTime() ?? -Infinity) && ended <= (filter.endedTo?.getTime() ?? Infinity))) return false;
  }
  return true;
}

/** The SFT export's filter: a minimum reward is always given, so only graded episodes are written. */
export interface SftFilter extends TrajectoryFilter {
  minReward: number;
}

/** Graded, reward ≥ minReward, and within the rest of the filter. */
export function passesSftFilter(trajectory: Trajectory, filter: SftFilter): boolean {
  return trajectory.reward !== null && passesFilter(trajectory, filter);
}

/**
 * The SFT export as it is written, one JSON line per trajectory that passes the filter: what
 * `hgym export` writes to its file and GET /v1/trajectories/export answers, from one place.
 */
export async function* sftLines(trajectories: AsyncIterable<Trajectory>, filter: SftFilter): AsyncGenerator<string> {
  for await (const trajectory of trajectories) if (passesSftFilter(trajectory, filter)) yield `${JSON.stringify(toSft(trajectory))}\n`;
}

/** The SFT records of the trajectories that pass the filter. */
export function exportSft(trajectories: readonly Trajectory[], filter: SftFilter): SftRecord[] {
  return trajectories.filter((t) => passesSftFilter(t, filter)).map(toSft);
}
