/**
 * Descriptions written by a model, when an OpenAI-compatible chat-completions endpoint is
 * configured (HGYM_LLM_BASE_URL, HGYM_LLM_MODEL, HGYM_LLM_API_KEY). An answer that names
 * the function, is empty, or is longer than three sentences is not used: the rule-based
 * description takes its place.
 */
import type { Describer } from './context.js';

const PROMPT = `You write task descriptions for a code-search exercise. Given a Python docstring, describe in 1 to 3 plain sentences what the function does, without naming the function, without quoting the docstring, and without code. Answer with the description only.`;

export function acceptable(text: string, names: readonly string[]): boolean {
  const t = text.trim();
  if (!t || t.length > 600) return false;
  const sentences = t.split(/(?<=[.!?])\s+/).filter(Boolean);
  if (sentences.length > 3) return false;
  return !names.some((n) => n && new RegExp(`\\b${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(t));
}

export function modelDescriber(env: NodeJS.ProcessEnv, timeoutMs = 30_000): Describer | undefined {
  const base = env.HGYM_LLM_BASE_URL;
  const model = env.HGYM_LLM_MODEL;
  if (!base || !model) return undefined;
  return async ({ docstring, kind, name, qualname }) => {
    try {
      const response = await fetch(`${base.replace(/\/+$/, '')}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(env.HGYM_LLM_API_KEY ? { authorization: `Bearer ${env.HGYM_LLM_API_KEY}` } : {}) },
        body: JSON.stringify({
          model,
          temperature: 0,
          messages: [
            { role: 'system', content: PROMPT },
            { role: 'user', content: `A Python ${kind}. Its docstring:\n\n${docstring}` },
          ],
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) return null;
      const body = (await response.json()) as { choices?: { message?: { content?: string } }[] };
      const text = body.choices?.[0]?.message?.content?.trim() ?? '';
      return acceptable(text, [name, qualname, ...qualname.split('.')]) ? text : null;
    } catch {
      return null;
    }
  };
}
