/** `hgym export`: ended episodes that pass a reward filter, as chat-format SFT JSONL. */
import { createWriteStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { DamagedLine } from '../env/jsonl.js';
import { readTrajectories, sftLines, type SftFilter, type Trajectory } from '../env/trajectory.js';

export const EXPORT_USAGE = 'usage: hgym export --min-reward R [--task T] --out FILE [--from TRAJECTORIES.jsonl]';

export interface ExportResult {
  /** Trajectories read from the log. */
  read: number;
  /** SFT records written. */
  written: number;
  /** Lines of the log that were not trajectories, skipped. */
  damaged: DamagedLine[];
}

/**
 * Writes the SFT records of the log's trajectories that pass the filter, one JSON line each,
 * as it reads: neither file is held whole. Each damaged line goes to `onDamaged` as it is met.
 */
export async function exportSftFile(from: string, out: string, filter: SftFilter, onDamaged: (damaged: DamagedLine) => void): Promise<ExportResult> {
  // A missing log must not leave an empty output behind.
  await access(from);
  const result: ExportResult = { read: 0, written: 0, damaged: [] };
  const report = (damaged: DamagedLine): void => {
    result.damaged.push(damaged);
    onDamaged(damaged);
  };
  const trajectories = async function* (): AsyncGenerator<Trajectory> {
    for await (const trajectory of readTrajectories(from, report)) {
      result.read++;
      yield trajectory;
    }
  };
  const lines = async function* (): AsyncGenerator<string> {
    for await (const line of sftLines(trajectories(), filter)) {
      result.written++;
      yield line;
    }
  };
  await pipeline(lines, createWriteStream(out));
  return result;
}

export async function exportCommand(argv: string[], defaultFrom: string): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'min-reward': { type: 'string' }, task: { type: 'string' }, out: { type: 'string' }, from: { type: 'string', default: defaultFrom } },
    strict: true,
  });
  const minReward = Number(values['min-reward']);
  if (values['min-reward'] === undefined || !Number.isFinite(minReward) || !values.out) {
    process.stderr.write(`${EXPORT_USAGE}\n`);
    return 2;
  }
  const from = values.from;
  const { read, written, damaged } = await exportSftFile(from, values.out, { minReward, task: values.task }, ({ line, reason }) =>
    process.stderr.write(`hgym export: skipped line ${line} of ${from}: ${reason}\n`),
  );
  process.stderr.write(`hgym export: ${written} of ${read} episodes written to ${values.out}; ${damaged.length} damaged lines skipped\n`);
  return 0;
}
