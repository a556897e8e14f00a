/**
 * Trajectories: every episode's steps, reward and grade, as one JSON record; and the
 * chat-format SFT record a trainer reads (OpenAI-shaped tool calls).
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StepRecord } from './episode.js';
import { readJsonl } from './jsonl.js';
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

/** Appends one trajectory as a JSON line; the file is the record of every ended episode. */
export async function persistTrajectory(file: string, trajectory: Trajectory): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await appendFile(file, `${JSON.stringify(trajectory)}\n`);
}

export function readTrajectories(file: string): Promise<Trajectory[]> {
  return readJsonl<Trajectory>(file);
}

/** The SFT records of the trajectories that pass the filter (graded, reward ≥ minReward, task). */
export function exportSft(trajectories: readonly Trajectory[], filter: { minReward: number; task?: string | undefined }): SftRecord[] {
  return trajectories
    .filter((t) => t.reward !== null && t.reward >= filter.minReward && (filter.task === undefined || t.task === filter.task))
    .map(toSft);
}
