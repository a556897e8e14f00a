/**
 * The code of a Python file with its comments and docstrings set aside: two versions with
 * the same skeleton differ only in comments and docstrings. Structure is part of the
 * skeleton (named nodes open and close), so moving a statement into or out of a block is a
 * change even when the tokens read the same.
 */
import { findDocstring } from '../analysis/docstring.js';
import type { Tree } from '../analysis/parse.js';
import type { PythonReading } from '../analysis/python-text.js';

function docstringStarts(tree: Tree, source: string): Set<number> {
  const starts = new Set<number>();
  const moduleDoc = findDocstring(tree.rootNode, source);
  if (moduleDoc) starts.add(moduleDoc.span.startIndex);
  for (const def of tree.rootNode.descendantsOfType(['function_definition', 'class_definition'])) {
    const body = def.childForFieldName('body');
    const doc = body ? findDocstring(body, source) : null;
    if (doc) starts.add(doc.span.startIndex);
  }
  return starts;
}

/** The skeleton of a file as Python reads it, or null when that does not parse (which no grader accepts). */
export function codeSkeleton(reading: PythonReading): string | null {
  const { parsed, text: source } = reading;
  if ('error' in parsed) return null;
  const docs = docstringStarts(parsed.tree, source);
  const out: string[] = [];
  const cursor = parsed.tree.walk();
  for (;;) {
    const type = cursor.nodeType;
    const named = cursor.nodeIsNamed;
    const skip = type === 'comment' || (type === 'expression_statement' && docs.has(cursor.startIndex));
    if (!skip) {
      const start = cursor.startIndex;
      const end = cursor.endIndex;
      // Moving the cursor tells a leaf from a parent without making a node object.
      if (cursor.gotoFirstChild()) {
        if (named) out.push(`(${type}`);
        continue;
      }
      out.push(named ? `${type}:${source.slice(start, end)}` : type);
    }
    // Leave this node: close named parents as they finish.
    for (;;) {
      if (cursor.gotoNextSibling()) break;
      if (!cursor.gotoParent()) return out.join(' ');
      if (cursor.nodeIsNamed) out.push(')');
    }
  }
}
