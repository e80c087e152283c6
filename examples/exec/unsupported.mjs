// Answers hello, init and its first step like adagrad.mjs, then {"unsupported": ...} to every
// later step: it claims features it never lets the suite check. Its verdict must not be
// CONFORMANT ("not verified": a claimed feature none of whose tests ran).

import { ADAGRAD } from "./adagrad.mjs";
import { serve } from "./protocol.mjs";

let steps = 0;
serve({ ...ADAGRAD, name: "unsupported after the first step" }, {
  before(req) {
    if (req.op === "step" && ++steps > 1) return { unsupported: "every step after the first" };
    return undefined;
  },
});
