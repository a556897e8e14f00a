/** What one tool call gives back to the agent. */
import type { ExecInfo } from '../../schemas/api.js';

export interface Observation {
  /** The text the agent reads. */
  text: string;
  /** The call ended the episode (finish). */
  finished?: boolean;
  /** The call was malformed or refused; it still costs a step. */
  invalid?: boolean;
  /** For execute_bash: what the sandbox reported; step answers carry it as `info.exec`. */
  exec?: ExecInfo;
}

export function invalid(text: string): Observation {
  return { text: `ERROR: ${text}`, invalid: true };
}
