import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { factsOnThread, IDLE_MS } from '../../../env/tasks/facts-thread.js';
import { forgetFacts, pythonFacts, WARM_CPU_SHARE, WARM_QUIET_MS, warmFacts } from '../../../env/tasks/python-facts.js';

const TEXT = `def area(w, h):
    return w * h


class Box:
    def volume(self):
        return 1
`;

t.beforeEach(() => forgetFacts());

t.test('the facts of a file: skeleton, definitions by qualname, and no distrust for plain Python', async (t) => {
  const facts = pythonFacts('geo.py', TEXT);
  t.equal(facts.distrust, null);
  t.type(facts.skeleton, 'string');
  t.same([...facts.definitions.keys()].sort(), ['Box', 'Box.volume', 'area']);
  t.equal(facts.definitions.get('area')?.file, 'geo.py');
});

t.test('a cached text gives the same facts as a fresh parse, and definitions follow the path', async (t) => {
  const first = pythonFacts('geo.py', TEXT);
  const again = pythonFacts('geo.py', TEXT);
  t.equal(again.skeleton, first.skeleton);
  t.equal(again.definitions, first.definitions, 'served from the cache');
  const elsewhere = pythonFacts('pkg/geo.py', TEXT);
  t.equal(elsewhere.definitions.get('area')?.file, 'pkg/geo.py', 'another path is analysed for its own definitions');
  forgetFacts();
  const fresh = pythonFacts('geo.py', TEXT);
  t.not(fresh.definitions, first.definitions);
  t.same([...fresh.definitions.values()], [...first.definitions.values()]);
});

t.test('facts are of the text as Python reads it, cached or not', async (t) => {
  const utf7 = '# -*- coding: utf-7 -*-\n' + TEXT;
  t.type(pythonFacts('geo.py', utf7).distrust, 'string', 'a coding that decodes otherwise is distrusted');
  t.type(pythonFacts('geo.py', utf7).distrust, 'string', 'and so from the cache');
  const hidden = TEXT.replace('return 1', 'return 1  # note\rimport os');
  t.equal(pythonFacts('geo.py', hidden).distrust, null);
  t.not(pythonFacts('geo.py', hidden).skeleton, pythonFacts('geo.py', TEXT).skeleton, 'code after a lone CR is code');
});

t.test('texts that do not parse have no skeleton and no definitions', async (t) => {
  const facts = pythonFacts('bad.py', 'def (:\n');
  t.equal(facts.skeleton, null);
  t.equal(facts.definitions.size, 0);
});

t.test('the cache stays within its budget: old texts are dropped and recomputed alike', async (t) => {
  // Each text is about 0.9 MB (under the parser's limit); the budget is 16 MiB of text.
  const big = (i: number) => `def f_${i}():\n    pass\n` + `y = ${'1'.repeat(1000)}\n`.repeat(900);
  const first = pythonFacts('big.py', big(0));
  for (let i = 1; i <= 20; i += 1) pythonFacts('big.py', big(i));
  const again = pythonFacts('big.py', big(0));
  t.not(again.definitions, first.definitions, 'the oldest text was evicted');
  t.same([...again.definitions.keys()], ['f_0']);
});

t.test('warming computes facts ahead of time and never throws', async (t) => {
  const reads: string[] = [];
  await warmFacts(['geo.py', 'README.md', 'gone.py', 'broken.py', 'geo.py'], async (path) => {
    reads.push(path);
    if (path === 'gone.py') return null;
    if (path === 'broken.py') throw new Error('unreadable');
    return TEXT;
  });
  t.same(reads, ['geo.py', 'gone.py', 'broken.py'], 'each Python file read once; other files skipped');
  const warmed = pythonFacts('geo.py', TEXT);
  t.equal(pythonFacts('geo.py', TEXT).definitions, warmed.definitions);
});

t.test('warming waits until none has been asked for a while: a burst of resets goes first', async (t) => {
  const readAt = new Map<string, number>();
  const read = async (path: string) => {
    readAt.set(path, Date.now());
    return `def ${path.replace('.py', '')}():\n    return 1\n`;
  };
  const first = warmFacts(['a.py'], read);
  await new Promise((resolve) => setTimeout(resolve, WARM_QUIET_MS / 2));
  const lastAskedAt = Date.now();
  const second = warmFacts(['b.py'], read);
  await Promise.all([first, second]);
  t.ok(readAt.get('a.py')! - lastAskedAt >= WARM_QUIET_MS - 5, 'the first file waited for the quiet after the second request');
  t.ok(readAt.get('b.py')! >= readAt.get('a.py')!, 'then files are warmed in the order asked');
  t.equal(pythonFacts('a.py', await read('a.py')).definitions.size, 1);
  // Asked for now (grading, bench/tasks.ts), it waits for nothing, even right after another ask.
  void warmFacts(['d.py'], read);
  const asked = Date.now();
  await warmFacts(['c.py'], read, 'now');
  t.ok(readAt.get('c.py')! - asked < WARM_QUIET_MS, 'warmed without waiting for a quiet');
  t.notOk(readAt.has('d.py'), 'while the queued one still waits');
});

t.test('warming paces itself: after a file, it waits for longer than the file took', async (t) => {
  const READ_MS = 60;
  const readAt: number[] = [];
  const read = async (path: string) => {
    readAt.push(performance.now());
    await new Promise((resolve) => setTimeout(resolve, READ_MS));
    return `def ${path.replace('.py', '')}():\n    return 2\n`;
  };
  await warmFacts(['p.py', 'q.py', 'r.py'], read);
  t.equal(readAt.length, 3);
  // Each file took at least READ_MS; the next starts no sooner than that over WARM_CPU_SHARE.
  const gaps = readAt.slice(1).map((at, i) => at - readAt[i]!);
  for (const gap of gaps) t.ok(gap >= READ_MS / WARM_CPU_SHARE - 5, `${Math.round(gap)} ms from one file to the next`);
});

t.test('warmed facts are those pythonFacts computes, texts Python reads otherwise included', async (t) => {
  const texts: Record<string, string> = {
    plain: TEXT,
    crlf: TEXT.replace(/\n/g, '\r\n'),
    bom: `\uFEFF${TEXT}`,
    'lone CR': TEXT.replace('return 1', 'return 1  # note\rimport os'),
    utf7: `# -*- coding: utf-7 -*-\n${TEXT}`,
    'syntax error': 'def (:\n',
  };
  // 'now' computes in turns of the event loop; 'quiet' on the low-priority thread.
  for (const when of ['now', 'quiet'] as const) {
    for (const [name, text] of Object.entries(texts)) {
      forgetFacts();
      const computed = pythonFacts('pkg/geo.py', text);
      forgetFacts();
      await warmFacts(['pkg/geo.py'], async () => text, when);
      const warmed = pythonFacts('pkg/geo.py', text);
      t.same(
        [warmed.distrust, warmed.skeleton, [...warmed.definitions.entries()], warmed.timedOut],
        [computed.distrust, computed.skeleton, [...computed.definitions.entries()], computed.timedOut],
        `${name} (${when})`,
      );
    }
  }
});

t.test("the quiet warm-up computes on a thread of the lowest CPU priority, leaving the event loop's alone", async (t) => {
  const answer = await factsOnThread('pkg/geo.py', TEXT);
  forgetFacts();
  const here = pythonFacts('pkg/geo.py', TEXT);
  t.same(answer, { timedOut: false, distrust: here.distrust, skeleton: here.skeleton, definitions: [...here.definitions] });
  // Field 19 of a thread's stat line is its nice value (16 after the command's closing parenthesis).
  const nice = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
  const threads = readdirSync('/proc/self/task');
  t.equal(nice(String(process.pid)), 0, 'the event loop keeps its priority');
  t.ok(threads.some((tid) => nice(tid) === 19), 'a thread at nice 19');
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS + 1_000));
  t.notOk(readdirSync('/proc/self/task').some((tid) => nice(tid) === 19), 'it ends once it has had nothing to do');
  t.same(await factsOnThread('pkg/geo.py', TEXT), answer, 'and a later warm-up starts another');
});

t.test('a file is warmed over several turns of the event loop, not in one', async (t) => {
  const big = `def f():\n    pass\n` + `x = [${'1, '.repeat(200)}]\n`.repeat(300);
  let turns = 0;
  let counting = true;
  const count = () => {
    if (!counting) return;
    turns += 1;
    setImmediate(count);
  };
  setImmediate(count);
  await warmFacts(['big.py'], async () => big, 'now');
  counting = false;
  t.ok(turns >= 4, `other work ran in between (${turns} turns)`);
  t.same([...pythonFacts('big.py', big).definitions.keys()], ['f']);
});
