// Printing helpers shared by the tour's snippets: numbers rounded to 4 decimals, so the
// output pasted in docs/tour.md is the same on every machine.
import type { Tensor } from '../../src/index.ts';

/** A number with 4 decimals (−0 printed as 0). */
export function num(x: number): string {
  const s = x.toFixed(4);
  return s === '-0.0000' ? '0.0000' : s;
}

/** A tensor's numbers as nested lists, 4 decimals each. */
export function show(t: Tensor | null): string {
  if (t === null) return 'null';
  const walk = (x: unknown): string => (Array.isArray(x) ? `[${x.map(walk).join(', ')}]` : num(x as number));
  return walk(t.tolist());
}
