/**
 * Python client benchmark, against a server in its own process on loopback: step latency of a
 * `think` call through `hgym.Client.step` (REST, keep-alive) next to a raw keep-alive
 * `http.client.HTTPConnection` sending the same POST, in one episode, alternating so both share
 * the noise (bench/python-client.py). Prints one JSON object: both p50s and p99s, the
 * difference of the p50s and the median of the paired differences; the target is a client p50
 * within 0.1 ms of raw.
 * Usage: node --import tsx bench/python-client.ts [--samples 3000] [--warmup 300]
 * HGYM_PYTHON picks the Python (default python3); the client comes from this checkout. The server
 * serves the default corpus, or HGYM_CORPUS_DIR (any corpus with a dep_search family).
 */
import { startBenchServer } from './bench-server.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { numberArg, percentile, round } from './stats.js';

const SAMPLES = numberArg('samples', 3000);
const WARMUP = numberArg('warmup', 300);
const PYTHON = process.env.HGYM_PYTHON ?? 'python3';
const ROOT = join(import.meta.dirname, '..');

interface Samples {
  python: string;
  client_ms: number[];
  raw_ms: number[];
}

/** The Python side's output, or its failure with its stderr. */
function measure(url: string): Promise<Samples> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [join(ROOT, 'bench', 'python-client.py'), url, String(SAMPLES), String(WARMUP)], {
      env: { ...process.env, PYTHONPATH: join(ROOT, 'clients', 'python') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(stdout) as Samples) : reject(new Error(`${PYTHON} exited ${code}: ${stderr.slice(-3000)}`))));
  });
}

const { port, stop } = await startBenchServer(2, 4, 600_000);

try {
  const { python, client_ms: client, raw_ms: raw } = await measure(`http://127.0.0.1:${port}`);
  const clientP50 = percentile(client, 50);
  const rawP50 = percentile(raw, 50);
  const paired = client.map((ms, i) => ms - raw[i]!);
  const result = {
    benchmark: 'python-client',
    when: new Date().toISOString(),
    python,
    step: 'think, one episode, client and raw alternating',
    step_ms: {
      client: { n: client.length, p50: clientP50, p99: percentile(client, 99) },
      raw: { n: raw.length, p50: rawP50, p99: percentile(raw, 99) },
      p50_difference: round(clientP50 - rawP50),
      paired_difference_p50: percentile(paired, 50),
    },
    targets: { client_p50_within_0_1ms_of_raw: clientP50 - rawP50 <= 0.1 },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await stop();
}
