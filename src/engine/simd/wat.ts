/** Helpers for writing WebAssembly text in template strings (kernels.wat.ts, winograd.wat.ts). */

/** A counted loop: for (var = 0; var < limit; var++) body. Labels are derived from the variable's name. */
export const forRange = (v: string, limit: string, body: string) => `
    (local.set ${v} (i32.const 0))
    (block ${v}_done (loop ${v}_next
      (br_if ${v}_done (i32.ge_u (local.get ${v}) ${limit}))${body}
      (local.set ${v} (i32.add (local.get ${v}) (i32.const 1)))
      (br ${v}_next)))`;
