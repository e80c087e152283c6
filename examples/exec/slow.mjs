// The conformant Adagrad of adagrad.mjs, answering every request after a delay: a slow but
// correct program must get its right verdict (the program's time is bounded by --exec-timeout
// per answer and --exec-budget for the run, not by the per-test --timeout).
//
// Run it with: adagrad-conformance check --exec "node examples/exec/slow.mjs 2" --only missing-grads
// (the argument is the delay in seconds, default 2).

import { ADAGRAD } from "./adagrad.mjs";
import { serve } from "./protocol.mjs";

const delaySeconds = Number(process.argv[2] ?? 2);
serve({ ...ADAGRAD, name: `adagrad.mjs answering after ${delaySeconds} s` }, { delaySeconds });
