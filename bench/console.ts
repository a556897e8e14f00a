/**
 * Console benchmark: does having the web console open cost a trainer step latency? A server in
 * its own process on loopback, one warm episode stepped with `execute_bash echo hi` over REST
 * keep-alive (as bench/server.ts), in blocks of --block seconds: with the console's Dashboard
 * open in headless chromium (sampling GET /v1/metrics every 2 s and drawing), and with the page
 * navigated away, alternating (ABBA) so both share the machine's noise. The browser runs in both.
 * Before measuring, the episode steps for --warmup seconds and the page is opened once, so the
 * server's start-up work and the browser's first load are not counted.
 * Prints one JSON object: each condition's p50 and p99, their differences, the per-round
 * differences of the block medians, the closed blocks' own spread (the noise floor), and how
 * many metrics requests the page made.
 * Usage: node --import tsx bench/console.ts [--rounds 10] [--block 6] [--warmup 15]
 * Needs Debian's chromium (HGYM_CHROMIUM names another); serves the default corpus, or
 * HGYM_CORPUS_DIR (any corpus with a dep_search family).
 */
import { startBenchServer } from './bench-server.js';
import { chromium } from 'playwright-core';
import { HgymClient, toolCall } from '../clients/ts/index.js';
import { numberArg, percentile, round } from './stats.js';

const ROUNDS = numberArg('rounds', 10);
const BLOCK_S = numberArg('block', 6);
const WARMUP_S = numberArg('warmup', 15);
const CHROMIUM = process.env.HGYM_CHROMIUM ?? '/usr/bin/chromium';

const { port, stop } = await startBenchServer(2, 4, 600_000);
const url = `http://127.0.0.1:${port}`;
const client = new HgymClient({ url });
const echo = toolCall('execute_bash', { command: 'echo hi' });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 60_000 });

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  let metricsRequests = 0;
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/v1/metrics') metricsRequests++;
  });
  // No max_steps: the benchmark server's own limit (a million) outlasts every block.
  const { episode_id } = await client.reset({ task: 'dep_search' });

  /** Steps for `seconds`; their latencies in ms. */
  const block = async (seconds: number): Promise<number[]> => {
    const times: number[] = [];
    const deadline = performance.now() + seconds * 1000;
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const r = await client.step(episode_id, echo);
      times.push(performance.now() - t0);
      if (!r.observation.text.startsWith('hi\n')) throw new Error('unexpected observation');
    }
    return times;
  };
  const open = async () => {
    await page.goto(`${url}/ui/#dashboard`);
    // Its first sample drawn: the page is loaded and polling.
    await page.locator('#panel-dashboard .dashboard:not([data-sampled-at=""])').waitFor({ timeout: 30_000 });
  };

  await open();
  await page.goto('about:blank');
  await block(WARMUP_S);
  const closed: number[][] = [];
  const opened: number[][] = [];
  let requestsWhileOpen = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const condition of r % 2 === 0 ? (['closed', 'open'] as const) : (['open', 'closed'] as const)) {
      if (condition === 'open') {
        await open();
        const before = metricsRequests;
        opened.push(await block(BLOCK_S));
        requestsWhileOpen += metricsRequests - before;
        await page.goto('about:blank');
      } else {
        closed.push(await block(BLOCK_S));
      }
    }
  }
  await client.close(episode_id);

  const stats = (samples: number[]) => ({ n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99) });
  const closedAll = stats(closed.flat());
  const openAll = stats(opened.flat());
  const closedP50s = closed.map((b) => percentile(b, 50));
  const pairedP50 = opened.map((b, i) => round(percentile(b, 50) - closedP50s[i]!));
  const noise = round(Math.max(...closedP50s) - Math.min(...closedP50s));
  const p50Difference = round(openAll.p50 - closedAll.p50);
  const result = {
    benchmark: 'console',
    when: new Date().toISOString(),
    step: `execute_bash echo hi, one warm episode over REST keep-alive; ${ROUNDS} rounds of a ${BLOCK_S} s block with the Dashboard open and one with the page away (ABBA)`,
    step_ms: {
      closed: closedAll,
      open: openAll,
      p50_difference: p50Difference,
      p99_difference: round(openAll.p99 - closedAll.p99),
      paired_block_p50_difference: { median: percentile(pairedP50, 50), min: Math.min(...pairedP50), max: Math.max(...pairedP50) },
      closed_block_p50_spread: noise,
    },
    dashboard: { metrics_requests: requestsWhileOpen, seconds_open: ROUNDS * BLOCK_S },
    targets: {
      open_p50_within_closed_noise: Math.abs(p50Difference) <= noise,
      open_p50_within_0_1ms_of_closed: Math.abs(p50Difference) <= 0.1,
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await browser.close();
  await stop();
}
