// A hostile program: answers hello, then never answers again; ignores SIGTERM (and SIGINT,
// SIGHUP) and starts a child that does the same and outlives it unless its process group is
// killed. check must end with exit 1 and leave neither alive (the driver SIGKILLs the group).

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const stubborn = "for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {}); setInterval(() => {}, 1 << 30);";
for (const s of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(s, () => {});
spawn(process.execPath, ["-e", stubborn], { stdio: "ignore" });

createInterface({ input: process.stdin }).on("line", (line) => {
  if (JSON.parse(line).op === "hello") {
    process.stdout.write(JSON.stringify({ name: "ignores SIGTERM, hangs after hello", features: ["numerics-float64"] }) + "\n");
  } // everything else: silence
});
setInterval(() => {}, 1 << 30); // stay alive, also when stdin closes
