/** Helpers for writing WebAssembly text in template strings (kernels.wat.ts, winograd.wat.ts). */

/** A counted loop: for (var = 0; var < limit; var++) body. Labels are derived from the variable's name. */
export const forRange = (v: string, limit: string, body: string) => forFromTo(v, '(i32.const 0)', limit, body);

/** A counted loop from a start: for (var = from; var < limit; var++) body. */
export const forFromTo = (v: string, from: string, limit: string, body: string) => `
    (local.set ${v} ${from})
    (block ${v}_done (loop ${v}_next
      (br_if ${v}_done (i32.ge_u (local.get ${v}) ${limit}))${body}
      (local.set ${v} (i32.add (local.get ${v}) (i32.const 1)))
      (br ${v}_next)))`;
