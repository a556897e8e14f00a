/**
 * Task descriptions of a function, derived from its removed docstring without a model:
 * the summary sentence, reworded by rule (imperative verbs to third person, the subject
 * made explicit, the function's own name masked when asked), so the text is never the
 * docstring pasted. With an OpenAI-compatible endpoint configured, a model writes it instead.
 */

/** The first sentence of the first paragraph, on one line. */
export function summary(docstring: string): string {
  const para = docstring.split(/\n\s*\n/)[0]!.replace(/\s+/g, ' ').trim();
  const m = /^(.+?[.!?])(\s|$)/.exec(para);
  return (m ? m[1]! : para).trim();
}

const NOT_VERBS = new Set(['this', 'the', 'a', 'an', 'if', 'it', 'helper', 'internal', 'utility', 'private', 'base', 'new', 'same', 'used', 'called', 'deprecated', 'alias', 'shortcut', 'wrapper', 'decorator', 'mixin', 'class', 'function', 'method', 'like', 'as']);

function thirdPerson(verb: string): string {
  const lower = verb.toLowerCase();
  if (/(s|sh|ch|x|z|o)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text;
}

/**
 * Replaces the names in `hidden` by a phrase. A name that looks like code (an underscore,
 * a capital after the first letter, a digit, a dot) is masked wherever it stands; a name
 * that is also an English word ("area") only where it is written as code (in backticks or
 * called), so "computes the area" keeps its sense.
 */
export function maskNames(text: string, hidden: readonly string[], replacement = 'this function'): string {
  let out = text;
  for (const name of hidden) {
    if (!name) continue;
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const codeLike = /[_.0-9]|.[A-Z]/.test(name);
    const pattern = codeLike ? `\`{0,2}\\b${escaped}\\b(\\(\\))?\`{0,2}` : `\`{1,2}${escaped}(\\(\\))?\`{1,2}|\\b${escaped}\\(\\)`;
    out = out.replace(new RegExp(pattern, 'g'), replacement);
  }
  return out;
}

/** What the definition does, by rule from its docstring's summary. */
export function describeByRule(docstring: string, kind: 'function' | 'method', hidden: readonly string[]): string {
  let s = maskNames(summary(docstring), hidden, `this ${kind}`).replace(/[.!?]+$/, '');
  const subject = `The ${kind}`;
  const [first = '', ...rest] = s.split(' ');
  const word = first.replace(/[^A-Za-z]/g, '');
  let sentence: string;
  if (/^[A-Z][a-z]+$/.test(word) && !NOT_VERBS.has(word.toLowerCase()) && !/(ed|ing|s)$/.test(word.toLowerCase())) {
    // "Return the sum of x." -> "The function returns the sum of x."
    sentence = `${subject} ${thirdPerson(word)} ${rest.join(' ')}`;
  } else if (/^[A-Z][a-z]+s$/.test(word) && !NOT_VERBS.has(word.toLowerCase())) {
    // "Returns the sum." -> "The function returns the sum."
    sentence = `${subject} ${lowerFirst(s)}`;
  } else {
    // A noun phrase or anything else: "Helper for parsing X." -> "The function is described as: helper for parsing X."
    sentence = `${subject} is documented as: ${lowerFirst(s)}`;
  }
  s = sentence.trim().replace(/\s+/g, ' ');
  return `${s}.`;
}
