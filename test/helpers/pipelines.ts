/**
 * For the tests of the pipelines (test/pipelines*.test.ts): the pipeline files
 * read and listed (GitHub workflows, Azure DevOps pipelines and templates, the
 * scripts in scripts/ci), Azure DevOps templates expanded per parameter value,
 * their steps, shell text and commands found, the commands README.md and
 * docs/gitops.md document and the matcher between the two, and finders for
 * jobs, actions, stages and variable groups.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "vitest";
import { parse } from "yaml";
import { ROOT } from "./record";

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
export const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");
export const load = (rel: string) => parse(read(rel)) as Obj;
export const list = (dir: string, re: RegExp) =>
  fs.existsSync(path.join(ROOT, dir)) ? fs.readdirSync(path.join(ROOT, dir)).filter((f) => re.test(f)).map((f) => `${dir}/${f}`) : [];

export const WORKFLOWS = list(".github/workflows", /\.ya?ml$/);
export const ADO = ["azure-pipelines.yml", ...list(".azure-pipelines", /\.ya?ml$/)];
export const SCRIPTS = list("scripts/ci", /\.sh$/);
const DOCS = ["README.md", "docs/gitops.md"];
export const ADO_ONLY_SCRIPT = "scripts/ci/tool-versions.sh";

// ---------------------------------------------------------------------------
// Reading pipeline files

/** Azure Pipelines template expressions this test evaluates: enough for our templates, loud otherwise. */
function evaluateCondition(expr: string, params: Obj): boolean {
  const e = expr.trim();
  const and = /^and\((.*)\)$/.exec(e);
  if (and) {
    // Split the arguments at top-level commas.
    const args: string[] = [];
    let depth = 0;
    let current = "";
    for (const ch of and[1]) {
      if (ch === "," && depth === 0) {
        args.push(current);
        current = "";
        continue;
      }
      depth += ch === "(" ? 1 : ch === ")" ? -1 : 0;
      current += ch;
    }
    args.push(current);
    return args.map((a) => evaluateCondition(a, params)).every(Boolean);
  }
  let m = /^(eq|ne)\(parameters\.(\w+),\s*'([^']*)'\)$/.exec(e);
  if (m) return (String(params[m[2]]) === m[3]) === (m[1] === "eq");
  m = /^parameters\.(\w+)$/.exec(e);
  if (m) return params[m[1]] === true || params[m[1]] === "true";
  throw new Error(`template condition this test cannot evaluate: ${expr}`);
}

/** Expands `${{ parameters.x }}` and `${{ if }}`/`${{ else }}` insertions for one set of parameter values. */
export function expandTemplate(node: unknown, params: Obj): unknown {
  const sub = (s: string) => s.replace(/\$\{\{\s*parameters\.(\w+)\s*\}\}/g, (all, name: string) => (name in params ? String(params[name]) : all));
  if (typeof node === "string") return sub(node);
  if (Array.isArray(node)) {
    const out: unknown[] = [];
    let last: boolean | undefined;
    for (const item of node) {
      const key = isObj(item) && Object.keys(item).length === 1 ? Object.keys(item)[0] : "";
      const cond = /^\$\{\{\s*if (.*)\}\}$/.exec(key);
      const isElse = /^\$\{\{\s*else\s*\}\}$/.test(key);
      if (cond || isElse) {
        const take = cond ? (last = evaluateCondition(cond[1], params)) : !last;
        if (take) out.push(...(expandTemplate((item as Obj)[key], params) as unknown[]));
      } else out.push(expandTemplate(item, params));
    }
    return out;
  }
  if (isObj(node)) {
    const out: Obj = {};
    let last: boolean | undefined;
    for (const [key, value] of Object.entries(node)) {
      const cond = /^\$\{\{\s*if (.*)\}\}$/.exec(key);
      if (cond || /^\$\{\{\s*else\s*\}\}$/.test(key)) {
        const take = cond ? (last = evaluateCondition(cond[1], params)) : !last;
        if (take) Object.assign(out, expandTemplate(value, params));
      } else out[sub(key)] = expandTemplate(value, params);
    }
    return out;
  }
  return node;
}

/** A pipeline file once per combination of its template parameters' allowed values. */
export function variants(file: string): unknown[] {
  const doc = load(file);
  const declared = Array.isArray(doc.parameters) ? (doc.parameters as Obj[]) : [];
  let combos: Obj[] = [{}];
  for (const p of declared) {
    const name = String(p.name);
    const values: unknown[] = Array.isArray(p.values) ? p.values : p.type === "boolean" ? [true, false] : [p.default ?? `<${name}>`];
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [name]: v })));
  }
  return combos.map((c) => expandTemplate(doc, c));
}

/** Every step in a (expanded) pipeline document, wherever it is nested. */
export function steps(doc: unknown, out: Obj[] = []): Obj[] {
  if (Array.isArray(doc)) doc.forEach((d) => steps(d, out));
  else if (isObj(doc)) {
    if (Array.isArray(doc.steps)) for (const s of doc.steps) if (isObj(s)) out.push(s);
    Object.values(doc).forEach((v) => steps(v, out));
  }
  return out;
}

/** Shell text a step runs: GitHub `run`, Azure DevOps `script`/`bash`, AzureCLI `inlineScript`. */
export function shellOf(step: Obj): string {
  const inputs = isObj(step.inputs) ? step.inputs : {};
  return [step.run, step.script, step.bash, inputs.inlineScript].filter((x): x is string => typeof x === "string").join("\n");
}

const TOOLS = /^(npm|pulumi|docker|bash|az)\b/;

/** The commands in shell text: segments between shell separators that start with a tool we document. */
export function commandsIn(shell: string): string[] {
  const out: string[] = [];
  for (const raw of shell.split("\n")) {
    const line = raw
      .replace(/(^|\s)#.*$/, "") // comments
      .replace(/\$\{\{[^}]*\}\}/g, "$TEMPLATE") // template expressions are values
      .replace(/\$\(([\w.]+)\)/g, "$$$1") // so are Azure DevOps macros $(NAME)
      .trim();
    for (let seg of line.split(/\s*(?:&&|\|\||[|;()]|\bthen\b|\bdo\b|\belse\b)\s*/)) {
      seg = seg.replace(/\s+\d?>>?\s*\S+/g, "").replace(/\s+<<<\s*\S+/g, "").trim();
      if (TOOLS.test(seg)) out.push(seg);
    }
  }
  return out;
}

/** The command a Pulumi step runs: pulumi/actions (GitHub) or the Pulumi@1 task (Azure DevOps). */
export function pulumiStepCommand(step: Obj): string | undefined {
  const command = pulumiStepCommandRaw(step);
  return command?.replace(/\$\{\{[^}]*\}\}/g, "$TEMPLATE");
}
function pulumiStepCommandRaw(step: Obj): string | undefined {
  if (typeof step.uses === "string" && step.uses.startsWith("pulumi/actions@") && isObj(step.with) && step.with.command) {
    const w = step.with;
    const packs = String(w.policyPacks ?? "").split(/[\n,]/).map((p) => p.trim()).filter(Boolean);
    const on = (v: unknown) => v === true || v === "true";
    return [
      `pulumi ${String(w.command)} --stack ${String(w["stack-name"])}`,
      w.command === "up" ? "--yes" : "", // the action never prompts
      on(w.refresh) ? "--refresh" : "",
      on(w["expect-no-changes"]) ? "--expect-no-changes" : "",
      on(w.diff) ? "--diff" : "",
      ...packs.map((p) => `--policy-pack ${p}`),
    ].filter(Boolean).join(" ");
  }
  if (step.task === "Pulumi@1" && isObj(step.inputs) && step.inputs.command) {
    const i = step.inputs;
    return `pulumi ${String(i.command)} --stack ${String(i.stack)} ${String(i.args ?? "")}`.trim();
  }
  return undefined;
}

function commandsOfStep(step: Obj): string[] {
  const pulumi = pulumiStepCommand(step);
  return [...commandsIn(shellOf(step)), ...(pulumi ? [pulumi] : [])];
}

interface Found {
  file: string;
  command: string;
}
export function pipelineCommands(files: string[]): Found[] {
  const all: Found[] = [];
  for (const file of files) for (const doc of variants(file)) for (const step of steps(doc)) for (const command of commandsOfStep(step)) all.push({ file, command });
  return all;
}

/** Commands in the fenced shell blocks of a Markdown text. */
export function fencedCommands(markdown: string): string[] {
  return [...markdown.matchAll(/```(?:bash|sh|shell)\n([\s\S]*?)```/g)].flatMap((m) => commandsIn(m[1]));
}
export const documentedCommands = () => DOCS.flatMap((d) => fencedCommands(read(d)));

/** docs/gitops.md, section "Commands the pipelines run". */
export function pipelineSection(): string {
  const doc = read("docs/gitops.md");
  const start = doc.indexOf("### Commands the pipelines run");
  expect(start, "docs/gitops.md has a section 'Commands the pipelines run'").toBeGreaterThan(-1);
  const end = doc.indexOf("\n## ", start);
  return doc.slice(start, end === -1 ? undefined : end);
}

export const tokens = (c: string) => c.match(/<[^>]*>\S*|"[^"]*"|\S+/g) ?? [];
const placeholder = (t: string) => t.includes("<") || t.includes("$");
/** A pipeline command matches a documented one token by token; placeholders (`<x>`, `$X`) match anything. */
export function matches(pipeline: string, documented: string): boolean {
  const [a, b] = [tokens(pipeline), tokens(documented)];
  return a.length === b.length && a.every((t, i) => t === b[i] || placeholder(t) || placeholder(b[i]));
}

/** Walks a parsed document, calling back with each string and the keys above it. */
export function walkStrings(node: unknown, visit: (s: string, keys: string[]) => void, keys: string[] = []): void {
  if (typeof node === "string") visit(node, keys);
  else if (Array.isArray(node)) node.forEach((n) => walkStrings(n, visit, keys));
  else if (isObj(node)) for (const [k, v] of Object.entries(node)) walkStrings(v, visit, [...keys, k]);
}

export const jobsOf = (file: string) => (load(file).jobs ?? {}) as Record<string, Obj>;
export const usesLogin = (job: Obj) => steps(job).some((s) => String(s.uses ?? "").startsWith("azure/login@"));

/** Every job of every workflow, with its file. */
export const allJobs = () => WORKFLOWS.flatMap((file) => Object.entries(jobsOf(file)).map(([name, job]) => ({ file, name, job })));
/** A job that receives an OIDC token, itself or through the reusable workflow it calls. */
export const hasIdToken = (job: Obj) => ((job.permissions ?? {}) as Obj)["id-token"] === "write";
/** `uses:` of a step, without the ref. */
export const actionOf = (step: Obj) => String(step.uses ?? "").split("@")[0];
export const withOf = (step: Obj) => (isObj(step.with) ? step.with : {});
/** The Azure DevOps template for one set of parameter values, expanded. */
export const adoSteps = (params: Obj) => steps(expandTemplate(load(".azure-pipelines/pulumi-steps.yml"), { image: false, approvedChange: false, azureConnection: "c", ...params }));
export const adoStages = () => load("azure-pipelines.yml").stages as Obj[];
export const adoStage = (name: string) => adoStages().find((s) => s.stage === name)!;
export const groupsOf = (job: Obj) => ((job.variables ?? []) as Obj[]).filter((v) => isObj(v) && v.group).map((v) => String(v.group));
export const nvmrc = () => read(".nvmrc").trim();
export const pulumiVersion = () => read(".devcontainer/pulumi-version").trim();
