/** `hgym export`: ended episodes that pass a reward filter, as chat-format SFT JSONL. */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { exportSft, readTrajectories } from '../env/trajectory.js';

export const EXPORT_USAGE = 'usage: hgym export --min-reward R [--task T] --out FILE [--from TRAJECTORIES.jsonl]';

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
  const trajectories = await readTrajectories(values.from);
  const records = exportSft(trajectories, { minReward, task: values.task });
  await writeFile(values.out, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  process.stderr.write(`hgym export: ${records.length} of ${trajectories.length} episodes written to ${values.out}\n`);
  return 0;
}
