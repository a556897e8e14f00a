// @ts-check
/**
 * Reading the server's metrics (GET /v1/metrics, the registry GET /metrics exposes, as JSON):
 * gauges and counters by a label, histograms summed over their other labels, the difference of
 * two scrapes of a histogram, and a quantile of it interpolated within its buckets the way
 * Prometheus's histogram_quantile does. Plain functions of the answers, so they run anywhere.
 */

/**
 * @typedef {{ name: string, labels: Record<string, string | number>, value: number | null }} Sample
 * @typedef {{ metrics: { name: string, help: string, type: string, samples: Sample[] }[] }} MetricsAnswer
 * @typedef {{ le: number, count: number }} Bucket cumulative: observations ≤ le
 * @typedef {{ buckets: Bucket[], count: number, sum: number }} Histogram
 */

/**
 * Every sample named `name` (a histogram's `_bucket`, `_sum` and `_count` are samples of it).
 * @param {MetricsAnswer} answer
 * @param {string} name
 * @returns {Sample[]}
 */
export function samplesNamed(answer, name) {
  return answer.metrics.flatMap((metric) => metric.samples.filter((sample) => sample.name === name));
}

/**
 * A metric's samples summed by the value of one label (samples without it are left out).
 * @param {MetricsAnswer} answer
 * @param {string} name
 * @param {string} label
 * @param {(labels: Record<string, string | number>) => boolean} [keep]
 * @returns {Map<string, number>}
 */
export function byLabel(answer, name, label, keep = () => true) {
  /** @type {Map<string, number>} */
  const out = new Map();
  for (const sample of samplesNamed(answer, name)) {
    const key = sample.labels[label];
    if (key === undefined || !keep(sample.labels)) continue;
    out.set(String(key), (out.get(String(key)) ?? 0) + (sample.value ?? 0));
  }
  return out;
}

/**
 * A metric's samples summed over all their labels.
 * @param {MetricsAnswer} answer
 * @param {string} name
 */
export function total(answer, name) {
  return samplesNamed(answer, name).reduce((sum, sample) => sum + (sample.value ?? 0), 0);
}

/** @param {string | number} le */
function bound(le) {
  return le === '+Inf' ? Infinity : Number(le);
}

/**
 * A histogram summed over the label sets that `keep` accepts (all, by default): the latency of
 * every tool's steps as one histogram, or one family's rewards.
 * @param {MetricsAnswer} answer
 * @param {string} name the histogram's name, without `_bucket`
 * @param {(labels: Record<string, string | number>) => boolean} [keep]
 * @returns {Histogram}
 */
export function histogram(answer, name, keep = () => true) {
  /** @type {Map<number, number>} */
  const counts = new Map();
  for (const sample of samplesNamed(answer, `${name}_bucket`)) {
    if (!keep(sample.labels)) continue;
    const le = bound(sample.labels.le ?? NaN);
    counts.set(le, (counts.get(le) ?? 0) + (sample.value ?? 0));
  }
  const sumOf = (/** @type {string} */ suffix) =>
    samplesNamed(answer, `${name}_${suffix}`)
      .filter((sample) => keep(sample.labels))
      .reduce((sum, sample) => sum + (sample.value ?? 0), 0);
  return {
    buckets: [...counts].sort(([a], [b]) => a - b).map(([le, count]) => ({ le, count })),
    count: sumOf('count'),
    sum: sumOf('sum'),
  };
}

/**
 * What was observed between two scrapes of one histogram: `older` taken from `newer`. Buckets
 * the older scrape lacks (a label set seen for the first time) count from zero.
 * @param {Histogram} newer
 * @param {Histogram} older
 * @returns {Histogram}
 */
export function difference(newer, older) {
  const before = new Map(older.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: newer.buckets.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) })),
    count: newer.count - older.count,
    sum: newer.sum - older.sum,
  };
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of a histogram, interpolated linearly within the bucket it falls in,
 * as Prometheus's histogram_quantile: a bucket's observations are taken as spread evenly between
 * its lower and upper bound; the first bucket starts at 0; a quantile in the +Inf bucket is the
 * highest finite bound. Null when nothing was observed.
 * @param {number} q
 * @param {Histogram} h
 * @returns {number | null}
 */
export function quantile(q, h) {
  const buckets = h.buckets.filter((b) => !Number.isNaN(b.le));
  const observed = buckets.at(-1)?.count ?? 0;
  if (observed <= 0) return null;
  const rank = q * observed;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank && count > below) {
      if (le === Infinity) return lower;
      return lower + (le - lower) * ((rank - below) / (count - below));
    }
    if (le !== Infinity) lower = le;
    below = count;
  }
  return lower;
}

/**
 * A histogram's observations per bucket (not cumulative), each with its range: how many fell in
 * `(from, le]` (the first bucket: at most its bound). The +Inf bucket is kept only when something
 * fell past the highest finite bound.
 * @param {Histogram} h
 * @returns {{ from: number | null, le: number, count: number }[]}
 */
export function perBucket(h) {
  /** @type {{ from: number | null, le: number, count: number }[]} */
  const out = [];
  let from = /** @type {number | null} */ (null);
  let below = 0;
  for (const { le, count } of h.buckets) {
    if (le !== Infinity || count > below) out.push({ from, le, count: count - below });
    from = le;
    below = count;
  }
  return out;
}
