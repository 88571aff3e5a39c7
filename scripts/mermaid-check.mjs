// Parses Mermaid diagrams with the real mermaid package (in a jsdom window, since
// mermaid expects a DOM). Usage: node check.mjs FILE...; each FILE holds one diagram.
// Prints `FILE: ok (TYPE)` or `FILE: error: …` per file; exits 1 if any fails.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const parsed = await mermaid.parse(readFileSync(file, "utf8"));
    console.log(`${file}: ok (${parsed.diagramType})`);
  } catch (error) {
    failed += 1;
    console.log(`${file}: error: ${String(error?.message ?? error)}`);
  }
}
process.exit(failed ? 1 : 0);
