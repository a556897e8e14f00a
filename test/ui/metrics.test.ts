/**
 * The dashboard's reading of the metrics (server/ui/metrics.js, a browser module with no DOM, run
 * here in Node): histograms summed over labels, the difference of two scrapes, quantiles
 * interpolated as Prometheus's histogram_quantile does, and per-bucket counts; on a real
 * registry's JSON.
 */
import t from 'tap';
import { Histogram, Registry } from 'prom-client';
import { metricsAsJson } from '../../server/metrics.js';
import type { MetricsAnswer } from '../../schemas/metrics.js';

interface Hist {
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}
type Labels = Record<string, string | number>;
interface MetricsModule {
  byLabel(answer: MetricsAnswer, name: string, label: string, keep?: (labels: Labels) => boolean): Map<string, number>;
  total(answer: MetricsAnswer, name: string): number;
  histogram(answer: MetricsAnswer, name: string, keep?: (labels: Labels) => boolean): Hist;
  difference(newer: Hist, older: Hist): Hist;
  quantile(q: number, h: Hist): number | null;
  perBucket(h: Hist): { from: number | null; le: number; count: number }[];
}

const ui: MetricsModule = await import(new URL('../../server/ui/metrics.js', import.meta.url).href);

function registry() {
  const r = new Registry();
  const h = new Histogram({ name: 'lat_seconds', help: 'x', labelNames: ['tool'], buckets: [0.001, 0.01, 0.1, 1], registers: [r] });
  return { r, h };
}

t.test('a histogram summed over its labels, or for one label value', async (t) => {
  const { r, h } = registry();
  for (const v of [0.0005, 0.005, 0.005, 0.05]) h.observe({ tool: 'bash' }, v);
  h.observe({ tool: 'think' }, 0.5);
  const answer = await metricsAsJson(r);
  t.same(ui.histogram(answer, 'lat_seconds').buckets, [
    { le: 0.001, count: 1 },
    { le: 0.01, count: 3 },
    { le: 0.1, count: 4 },
    { le: 1, count: 5 },
    { le: Infinity, count: 5 },
  ]);
  t.equal(ui.histogram(answer, 'lat_seconds').count, 5);
  t.equal(ui.histogram(answer, 'lat_seconds', (l) => l.tool === 'think').count, 1);
  t.same([...ui.byLabel(answer, 'lat_seconds_count', 'tool')], [['bash', 4], ['think', 1]]);
  t.equal(ui.total(answer, 'lat_seconds_count'), 5);
});

t.test("quantiles interpolate within a bucket, as Prometheus's histogram_quantile", async (t) => {
  const h = (counts: number[]): Hist => ({ buckets: [0.001, 0.01, 0.1, Infinity].map((le, i) => ({ le, count: counts[i]! })), count: counts.at(-1)!, sum: 0 });
  // 10 observations: 2 ≤ 1 ms, 8 in (1, 10] ms. The median's rank is 5: 3/8 into the second bucket.
  t.ok(Math.abs(ui.quantile(0.5, h([2, 10, 10, 10]))! - 0.004375) < 1e-12, 'p50: 1 ms + 3/8 of 9 ms');
  t.equal(ui.quantile(0.1, h([2, 10, 10, 10])), 0.0005, 'the first bucket starts at 0');
  t.equal(ui.quantile(0.99, h([0, 0, 5, 10])), 0.1, 'in the +Inf bucket: the highest finite bound');
  t.equal(ui.quantile(0.5, h([0, 0, 0, 0])), null, 'nothing observed: none');
});

t.test('two scrapes: what was observed between them, per bucket', async (t) => {
  const { r, h } = registry();
  h.observe({ tool: 'bash' }, 0.005);
  const before = ui.histogram(await metricsAsJson(r), 'lat_seconds');
  h.observe({ tool: 'bash' }, 0.05);
  h.observe({ tool: 'think' }, 0.05);
  const between = ui.difference(ui.histogram(await metricsAsJson(r), 'lat_seconds'), before);
  t.equal(between.count, 2);
  t.same(ui.perBucket(between), [
    { from: null, le: 0.001, count: 0 },
    { from: 0.001, le: 0.01, count: 0 },
    { from: 0.01, le: 0.1, count: 2 },
    { from: 0.1, le: 1, count: 0 },
  ], 'the +Inf bucket is left out while nothing is past the last bound');
  h.observe({ tool: 'bash' }, 7);
  t.same(ui.perBucket(ui.histogram(await metricsAsJson(r), 'lat_seconds')).at(-1), { from: 1, le: Infinity, count: 1 });
  t.ok(Math.abs(ui.quantile(0.5, between)! - 0.055) < 1e-12, 'the median of two in (10, 100] ms: the middle of the bucket');
});
