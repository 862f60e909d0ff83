/**
 * `npm start`: shows what a stack would deploy, with no cloud account.
 *
 *   npm start                                  render the dev stack
 *   npm start -- --stack prod                  render Pulumi.prod.yaml
 *   npm start -- --out out/dev.json            also write JSON (+ out/dev.md report)
 *   npm start -- --diff base/dev.json          print what changed since that rendering
 *
 * It runs the same entry `pulumi up` runs (stacks/index.ts) against a
 * recording engine; see engine.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { renderStack, RenderError } from "./engine";
import { diffRenderings, diffToMarkdown, toJson, toMarkdown, toSummary } from "./report";

const USAGE = `Usage: npm start -- [--stack NAME] [--out FILE.json] [--markdown FILE.md] [--diff OLD.json] [--quiet]

Renders a stack's desired state offline from Pulumi.<stack>.yaml: no cloud account,
no Pulumi CLI. Secrets the stack file lacks are replaced by marked placeholders.

  --stack NAME       stack to render (default: dev)
  --out FILE         write the rendering as deterministic JSON, and a Markdown
                     report with a Mermaid graph beside it (FILE with .md)
  --markdown FILE    write the Markdown report here instead
  --diff OLD.json    print what changed between OLD.json and this rendering
  --quiet            print no summary (errors and --diff output still print)

Exit status: 0 rendered; 1 the stack cannot be rendered (bad configuration;
nothing written); 2 bad usage; 3 rendered, but a mandatory guardrail of
policy/ is violated (files are still written).
  --help             this text`;

/** Runs the command line; returns the exit code. */
export async function main(argv: string[], root = path.resolve(__dirname, "..", "..")): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        stack: { type: "string", default: "dev" },
        out: { type: "string" },
        markdown: { type: "string" },
        diff: { type: "string" },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const stack = args.stack ?? "dev";
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) {
    process.stderr.write(`--stack: "${stack}" is not a stack name\n`);
    return 2;
  }
  let before: Parameters<typeof diffRenderings>[0] | undefined;
  if (args.diff) {
    try {
      before = JSON.parse(fs.readFileSync(args.diff, "utf8"));
    } catch (e) {
      process.stderr.write(`--diff: cannot read ${args.diff}: ${(e as Error).message}\n`);
      return 2;
    }
  }

  let rendering;
  try {
    rendering = await renderStack({ stack, projectRoot: root });
  } catch (e) {
    const message = e instanceof RenderError || e instanceof Error ? e.message : String(e);
    process.stderr.write(`error: stack ${stack} cannot be rendered; nothing was written.\n${message}\n`);
    return 1;
  }

  const json = toJson(rendering);
  if (!args.quiet) process.stdout.write(toSummary(JSON.parse(json)));
  const markdownFile = args.markdown ?? (args.out ? args.out.replace(/\.json$/i, "") + ".md" : undefined);
  if (args.out) {
    fs.mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
    fs.writeFileSync(args.out, json);
  }
  if (markdownFile) {
    fs.mkdirSync(path.dirname(path.resolve(markdownFile)), { recursive: true });
    fs.writeFileSync(markdownFile, toMarkdown(JSON.parse(json)));
  }
  if (before) process.stdout.write(diffToMarkdown(diffRenderings(before, JSON.parse(json)), stack));
  const mandatory = rendering.findings.filter((f) => f.enforcement === "mandatory");
  if (mandatory.length > 0) {
    process.stderr.write(`error: ${mandatory.length} mandatory guardrail violation(s):\n${mandatory.map((f) => `  [${f.policy}] ${f.message}`).join("\n")}\n`);
    return 3;
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
