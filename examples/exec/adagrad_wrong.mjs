// A deliberately WRONG Adagrad: eps inside the square root, sqrt(s + eps), as optax and Keras
// write it. The suite must fail it, naming the features where it shows.
//
// Run it with: adagrad-conformance check --exec "node examples/exec/adagrad_wrong.mjs"

import { serve } from "./protocol.mjs";

serve({
  name: "JavaScript Adagrad with eps inside the square root (examples/exec/adagrad_wrong.mjs)",
  features: ["numerics-float64", "numerics-float32", "hyperparameters", "golden", "non-finite", "missing-grads"],
  update(p, g, s, t, h) {
    const clr = h.lr / (1 + (t - 1) * h.lr_decay);
    if (h.maximize) g = -g;
    if (h.weight_decay !== 0) g = g + h.weight_decay * p;
    const sum = s + g * g;
    return [(stored) => p - (clr * g) / Math.sqrt(stored + h.eps), sum]; // the bug: eps under the root
  },
});
