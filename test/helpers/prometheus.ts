/**
 * The samples of a Prometheus text exposition (what GET /metrics answers), for tests that check
 * other views of the same registry against it. Only the sample lines are read; `# HELP` and
 * `# TYPE` lines are skipped.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(LABEL)) labels[key!] = JSON.parse(`"${value}"`) as string;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** A sample's name and labels as one string, labels sorted: the same series reads the same. */
export function seriesKey(name: string, labels: Record<string, string | number>): string {
  const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
  return `${name}{${sorted.map(([k, v]) => `${k}="${String(v)}"`).join(',')}}`;
}

/** The samples of one metric (by sample name), by their labels as a key. */
export function valuesOf(samples: readonly Sample[], name: string, key: (labels: Record<string, string>) => string): Map<string, number> {
  return new Map(samples.filter((s) => s.name === name).map((s) => [key(s.labels), s.value]));
}
