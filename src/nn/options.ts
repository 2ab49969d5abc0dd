// Checking option objects: a misspelt option (`new AdamW(ps, { weight_decay: 0.1 })`) would
// otherwise be ignored and its default used in silence.
// Promise: knownOptions throws one line naming the class, the unknown key and the known ones.

/**
 * Throws unless every key of `opts` is one of `known`. `known` is written as an object with
 * one `true` per option, `satisfies Record<keyof Options, true>`, so the compiler keeps the
 * list and the options interface the same.
 */
export function knownOptions(where: string, opts: object, known: Record<string, true>): void {
  for (const key of Object.keys(opts)) {
    if (!Object.hasOwn(known, key)) throw new Error(`${where}: unknown option '${key}' (known: ${Object.keys(known).join(', ')})`);
  }
}
