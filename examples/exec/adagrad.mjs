// A conformant Adagrad (torch 2.13 semantics, spec R1) behind the subprocess protocol.
//
// Run it with: adagrad-conformance check --exec "node examples/exec/adagrad.mjs"
// Arithmetic is float64; every stored value is rounded to the parameter's dtype.
// The hostile examples (slow.mjs, stderr_bytes.mjs, ...) import ADAGRAD and misbehave around it.

import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { serve } from "./protocol.mjs";

export const ADAGRAD = {
  name: "JavaScript Adagrad (examples/exec/adagrad.mjs)",
  features: ["numerics-float64", "numerics-float32", "numerics-float16", "numerics-bfloat16", "hyperparameters",
    "golden", "non-finite", "missing-grads", "lr-schedule", "shapes"],
  // One element: returns the new sum and a function of the stored (rounded) sum giving the new
  // param, because torch divides by the accumulator as stored in the parameter's dtype.
  update(p, g, s, t, h) {
    const clr = h.lr / (1 + (t - 1) * h.lr_decay);
    if (h.maximize) g = -g;
    if (h.weight_decay !== 0) g = g + h.weight_decay * p;
    const sum = s + g * g;
    return [(stored) => p - (clr * g) / (Math.sqrt(stored) + h.eps), sum];
  },
};

if (import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) serve(ADAGRAD); // run, not imported
