/**
 * Small semantic mutations of one function, for injected-bug issues: each is a text edit of
 * the function's body that still parses. Which of them change behaviour, and how, is for the
 * repository's tests to tell (run in a sandbox).
 */
import { parsePython, type SyntaxNode } from '../analysis/parse.js';
import type { Definition } from '../analysis/types.js';

export const MUTATION_KINDS = ['flip_comparison', 'shift_boundary', 'change_constant', 'invert_condition', 'drop_statement', 'swap_arguments', 'swap_boolean'] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

export interface Mutation {
  kind: MutationKind;
  /** 1-based line of the change. */
  line: number;
  startIndex: number;
  endIndex: number;
  replacement: string;
  /** What changed, for logs only: an issue never says it. */
  summary: string;
}

const FLIP: Record<string, string> = { '<': '>=', '>=': '<', '>': '<=', '<=': '>', '==': '!=', '!=': '==', in: 'not in', 'not in': 'in', is: 'is not', 'is not': 'is' };
const SHIFT: Record<string, string> = { '<': '<=', '<=': '<', '>': '>=', '>=': '>' };

function at(node: SyntaxNode, replacement: string, kind: MutationKind, summary: string): Mutation {
  return { kind, line: node.startPosition.row + 1, startIndex: node.startIndex, endIndex: node.endIndex, replacement, summary };
}

/** Statements that may be dropped: plain expressions and assignments, never a block's only statement or a docstring. */
function droppable(node: SyntaxNode): boolean {
  if (node.type !== 'expression_statement') return false;
  const child = node.firstNamedChild;
  if (!child || child.type === 'string') return false;
  const block = node.parent;
  return block?.type === 'block' && block.namedChildren.filter((c) => c.type !== 'comment').length > 1;
}

/** Every mutation of the kinds above inside the body of `def` (a function or method). */
export function mutationsOf(source: string, def: Definition): Mutation[] {
  const parsed = parsePython(source);
  if ('error' in parsed) return [];
  const body = parsed.tree.rootNode.descendantForIndex(def.body.startIndex, def.body.endIndex - 1);
  const block = body.type === 'block' ? body : body.parent?.type === 'block' ? body.parent : body;
  const out: Mutation[] = [];
  for (const node of block.descendantsOfType(['comparison_operator', 'integer', 'if_statement', 'expression_statement', 'call', 'boolean_operator'])) {
    if (node.startIndex < def.body.startIndex || node.endIndex > def.body.endIndex) continue;
    switch (node.type) {
      case 'comparison_operator': {
        // Only simple comparisons (a OP b): the operator is every child between the two operands.
        if (node.namedChildCount !== 2) break;
        const [left, right] = [node.namedChildren[0]!, node.namedChildren[1]!];
        const op = source.slice(left.endIndex, right.startIndex).trim().replace(/\s+/g, ' ');
        const text = (o: string) => `${left.text} ${o} ${right.text}`;
        if (FLIP[op]) out.push(at(node, text(FLIP[op]!), 'flip_comparison', `${op} became ${FLIP[op]}`));
        if (SHIFT[op]) out.push(at(node, text(SHIFT[op]!), 'shift_boundary', `${op} became ${SHIFT[op]}`));
        break;
      }
      case 'integer': {
        const value = Number(node.text.replace(/_/g, ''));
        if (Number.isSafeInteger(value) && /^\d[\d_]*$/.test(node.text)) out.push(at(node, String(value + 1), 'change_constant', `${node.text} became ${value + 1}`));
        break;
      }
      case 'if_statement': {
        const cond = node.childForFieldName('condition');
        if (cond) out.push(at(cond, `not (${cond.text})`, 'invert_condition', 'the condition was negated'));
        break;
      }
      case 'expression_statement':
        if (droppable(node)) out.push(at(node, 'pass', 'drop_statement', `dropped: ${node.text.split('\n')[0]}`));
        break;
      case 'call': {
        const args = node.childForFieldName('arguments');
        const positional = args?.namedChildren.filter((a) => a.type !== 'keyword_argument' && a.type !== 'comment') ?? [];
        const [a, b] = positional;
        if (a && b && a.type !== 'list_splat' && b.type !== 'list_splat' && a.text !== b.text) {
          const text = source.slice(args!.startIndex, args!.endIndex);
          const swapped =
            text.slice(0, a.startIndex - args!.startIndex) + b.text + text.slice(a.endIndex - args!.startIndex, b.startIndex - args!.startIndex) + a.text + text.slice(b.endIndex - args!.startIndex);
          out.push(at(args!, swapped, 'swap_arguments', `the first two arguments of ${node.childForFieldName('function')?.text ?? 'a call'} were swapped`));
        }
        break;
      }
      case 'boolean_operator': {
        const [l, r] = [node.childForFieldName('left'), node.childForFieldName('right')];
        const op = l && r ? source.slice(l.endIndex, r.startIndex).trim() : '';
        if (l && r && (op === 'and' || op === 'or')) out.push(at(node, `${l.text} ${op === 'and' ? 'or' : 'and'} ${r.text}`, 'swap_boolean', `${op} became ${op === 'and' ? 'or' : 'and'}`));
        break;
      }
    }
  }
  return out;
}

/** The source with the mutation applied, or null when the result does not parse. */
export function applyMutation(source: string, m: Mutation): string | null {
  const mutated = source.slice(0, m.startIndex) + m.replacement + source.slice(m.endIndex);
  return 'error' in parsePython(mutated) ? null : mutated;
}
