/** Prometheus metrics of one server (its own registry, so several apps in a process do not mix). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SandboxPool } from '../env/sandbox.js';
import type { MetricsAnswer } from '../schemas/metrics.js';

const LATENCY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];

export function createMetrics(pool: SandboxPool | null, running: () => Map<string, number>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hgym_process_' });
  const metrics = {
    registry,
    episodesTotal: new Counter({ name: 'hgym_episodes_total', help: 'Episodes started, by task', labelNames: ['task'], registers: [registry] }),
    episodesActive: new Gauge({
      name: 'hgym_episodes_active',
      help: 'Episodes running now, by task',
      labelNames: ['task'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [task, n] of running()) this.set({ task }, n);
      },
    }),
    stepSeconds: new Histogram({ name: 'hgym_step_seconds', help: 'Step latency, by tool', labelNames: ['tool'], buckets: LATENCY_BUCKETS, registers: [registry] }),
    resetSeconds: new Histogram({ name: 'hgym_reset_seconds', help: 'Reset latency, by task', labelNames: ['task'], buckets: LATENCY_BUCKETS, registers: [registry] }),
    workspacesTotal: new Counter({
      name: 'hgym_workspaces_total',
      help: "Workspaces given at reset, by how: finished from the repository's base laid out ahead in the sandbox (stage), laid out from the base the sandbox holds (base), or sent whole (archive)",
      labelNames: ['from'],
      registers: [registry],
    }),
    rewards: new Histogram({ name: 'hgym_episode_reward', help: 'Rewards of graded episodes, by task', labelNames: ['task'], buckets: [0, 0.25, 0.5, 0.75, 0.99, 1], registers: [registry] }),
    errorsTotal: new Counter({ name: 'hgym_errors_total', help: 'Error answers, by code', labelNames: ['code'], registers: [registry] }),
  };
  new Gauge({
    name: 'hgym_pool_sandboxes',
    help: 'Sandboxes of the pool, by state (warm, starting, leased)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      if (!pool) return;
      const s = pool.stats();
      this.set({ state: 'warm' }, s.warm);
      this.set({ state: 'starting' }, s.starting);
      this.set({ state: 'leased' }, s.leased);
    },
  });
  new Gauge({
    name: 'hgym_pool_events',
    help: 'Sandboxes created, lost and failed to start since the pool started',
    labelNames: ['event'],
    registers: [registry],
    collect() {
      if (!pool) return;
      const s = pool.stats();
      this.set({ event: 'created' }, s.created);
      this.set({ event: 'lost' }, s.lost);
      this.set({ event: 'failed' }, s.failed);
    },
  });
  // Per engine: one series per engine and key of its stats (state or event).
  const perEngine = (name: string, help: string, label: 'state' | 'event', keys: readonly ('warm' | 'starting' | 'leased' | 'created' | 'lost' | 'failed')[]) =>
    new Gauge({
      name,
      help,
      labelNames: ['engine', label],
      registers: [registry],
      collect() {
        this.reset();
        for (const [engine, e] of Object.entries(pool?.stats().engines ?? {})) for (const key of keys) this.set({ engine, [label]: key }, e[key]);
      },
    });
  perEngine('hgym_pool_engine_sandboxes', 'Sandboxes of the pool on each container engine, by state (warm, starting, leased)', 'state', ['warm', 'starting', 'leased']);
  perEngine('hgym_pool_engine_events', 'Sandboxes created, lost and failed to start on each container engine since the pool started', 'event', ['created', 'lost', 'failed']);
  new Gauge({
    name: 'hgym_pool_engine_up',
    help: 'Whether each container engine answers (1) or is down (0)',
    labelNames: ['engine'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [engine, e] of Object.entries(pool?.stats().engines ?? {})) this.set({ engine }, e.up ? 1 : 0);
    },
  });
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The registry as JSON (GET /v1/metrics): the metrics GET /metrics writes as text, collected the
 * same way, with each sample named as the text names it (`_bucket`, `_sum`, `_count`).
 */
export async function metricsAsJson(registry: Registry): Promise<MetricsAnswer> {
  const metrics = await registry.getMetricsAsJSON();
  return {
    metrics: metrics.map((metric) => ({
      name: metric.name,
      help: metric.help,
      // prom-client's types call it an enum; the value is the text format's type name.
      type: String(metric.type) as MetricsAnswer['metrics'][number]['type'],
      samples: metric.values.map((sample) => ({
        name: (sample as { metricName?: string }).metricName ?? metric.name,
        labels: sample.labels as Record<string, string | number>,
        value: Number.isFinite(sample.value) ? sample.value : null,
      })),
    })),
  };
}
