import t from 'tap';
import { describeByRule, maskNames, summary } from '../../../env/tasks/describe.js';
import { acceptable } from '../../../env/tasks/llm.js';

t.test('the summary is the first sentence of the first paragraph, on one line', async (t) => {
  t.equal(summary('Return the sum\nof x and y. More.\n\nDetails.'), 'Return the sum of x and y.');
  t.equal(summary('No period here'), 'No period here');
});

t.test('rewording by rule: imperative to third person, never the docstring verbatim', async (t) => {
  const cases: [string, string][] = [
    ['Return the number of nodes.', 'The function returns the number of nodes.'],
    ['Compute the shortest path.', 'The function computes the shortest path.'],
    ['Apply fn to x.', 'The function applies fn to x.'],
    ['Copy the graph.', 'The function copies the graph.'],
    ['Returns True when empty.', 'The function returns True when empty.'],
    ['Helper for parsing headers.', 'The function is documented as: helper for parsing headers.'],
  ];
  for (const [doc, expected] of cases) {
    const described = describeByRule(doc, 'function', []);
    t.equal(described, expected);
    t.not(described, doc);
  }
});

t.test('masking hides code-like names everywhere and word-like names only where written as code', async (t) => {
  t.equal(maskNames('Calls is_tree, then `is_tree()`.', ['is_tree']), 'Calls this function, then this function.');
  t.equal(maskNames('Compute the area; see `area` and area().', ['area']), 'Compute the area; see this function and this function.');
  t.equal(maskNames('Uses Graph.copy and copy.', ['Graph.copy']), 'Uses this function and copy.');
  t.notMatch(describeByRule('Return is_tree for `G`.', 'function', ['is_tree']), /is_tree/);
});

t.test('a model answer is used only when short and free of the name', async (t) => {
  t.ok(acceptable('It sums two numbers.', ['add']));
  t.notOk(acceptable('The add function sums two numbers.', ['add']));
  t.notOk(acceptable('', ['add']));
  t.notOk(acceptable('One. Two. Three. Four.', ['add']));
});
