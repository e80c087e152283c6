// The conformant Adagrad of adagrad.mjs, logging bytes that are not UTF-8 to stderr: a log line
// of about 2 KiB per request, so a driver that stops reading stderr fills the pipe (64 KiB) and
// blocks the program within a few dozen requests. It must still be CONFORMANT.

import { ADAGRAD } from "./adagrad.mjs";
import { serve } from "./protocol.mjs";

const junk = Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.alloc(2000, 0x2e), Buffer.from("\n")]);
serve({ ...ADAGRAD, name: "adagrad.mjs with non-UTF-8 bytes on stderr" }, {
  before(req) {
    process.stderr.write(junk);
    return undefined; // adagrad.mjs answers
  },
});
