// A program that answers hello and then never answers again: the suite must fail it within its
// time limit, not wait forever. Used by tests/protocols.

import { createInterface } from "node:readline";

createInterface({ input: process.stdin }).on("line", (line) => {
  if (JSON.parse(line).op === "hello") {
    process.stdout.write(JSON.stringify({ name: "hangs after hello", features: ["numerics-float64", "golden"] }) + "\n");
  } // everything else: silence
});
setInterval(() => {}, 1 << 30); // stay alive
