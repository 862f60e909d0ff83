// Shared by the JSON readers of scripts/ci (change.js, clusters.js, job-run.js):
// read stdin whole, parse it as JSON, refuse what the command cannot take, and
// print what the command's handler returns.
"use strict";

/**
 * Runs `handler(doc)` on the JSON document read from stdin and writes its result.
 * `fail(message)` reports and exits; `accepts(doc)` says whether the document has
 * the shape the command needs (default: any JSON object); `preview` is how much of
 * unparsable input the error shows.
 */
function runOnStdinJson({ command, handler, fail, oneLine, accepts = (doc) => doc !== null && typeof doc === "object", preview = 120 }) {
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (d) => (input += d));
  process.stdin.on("end", () => {
    let doc;
    try {
      doc = JSON.parse(input);
    } catch {
      fail(`${command}: stdin is not JSON: ${oneLine(input, preview)}`);
    }
    if (!accepts(doc)) fail(`${command}: stdin is not a JSON object`);
    process.stdout.write(handler(doc));
  });
}

module.exports = { runOnStdinJson };
