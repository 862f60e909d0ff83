/**
 * The pipelines (GitHub Actions, Azure DevOps) and their shared scripts:
 * - every pipeline file parses, yamllint passes on every YAML file, shellcheck
 *   on every script and every inline shell block;
 * - the pipelines run only commands README.md or docs/gitops.md document, and
 *   docs/gitops.md lists only commands the pipelines run (both read from the
 *   files); both CI systems run the same ones;
 * - no secret is ever printed or expanded into a shell script, the
 *   pull-request path needs none (and really runs without any);
 * - triggers, concurrency, environment protection, OIDC permissions, the
 *   order of the steps around `pulumi up` are as docs/gitops.md describes, the
 *   same on both systems;
 * - each rule of issue 10 (least privilege, pinned runtimes, the exact change
 *   that deploys), read from the workflow files themselves: describe blocks
 *   "issue 10: ...";
 * - issue 12's two kinds of stack: the platform pipelines deploy only platform
 *   stacks (dcs:kind: platform) with the workspace-admin identities, the team
 *   pipelines only team stacks (dcs:platform.stack) without them, platform
 *   before team wherever both appear: describe block "issue 12: ...";
 * - issue 13's smoke job: both CI systems run scripts/ci/run-smoke-job.sh
 *   right after the cluster check of every team-stack deployment, never for a
 *   platform stack: describe block "issue 13: ...";
 * - the scripts in scripts/ci behave, against fake `pulumi` and `az` commands
 *   (stack-secrets.sh, state-login.sh, databricks-auth.sh, tool-versions.sh
 *   here; the deployment scripts and lib.sh's stack_workspace in
 *   test/ci-scripts.test.ts).
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "./helpers/record";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");
const load = (rel: string) => parse(read(rel)) as Obj;
const list = (dir: string, re: RegExp) =>
  fs.existsSync(path.join(ROOT, dir)) ? fs.readdirSync(path.join(ROOT, dir)).filter((f) => re.test(f)).map((f) => `${dir}/${f}`) : [];

const WORKFLOWS = list(".github/workflows", /\.ya?ml$/);
const ADO = ["azure-pipelines.yml", ...list(".azure-pipelines", /\.ya?ml$/)];
const SCRIPTS = list("scripts/ci", /\.sh$/);
const DOCS = ["README.md", "docs/gitops.md"];
const ADO_ONLY_SCRIPT = "scripts/ci/tool-versions.sh";

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
function variants(file: string): unknown[] {
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
function steps(doc: unknown, out: Obj[] = []): Obj[] {
  if (Array.isArray(doc)) doc.forEach((d) => steps(d, out));
  else if (isObj(doc)) {
    if (Array.isArray(doc.steps)) for (const s of doc.steps) if (isObj(s)) out.push(s);
    Object.values(doc).forEach((v) => steps(v, out));
  }
  return out;
}

/** Shell text a step runs: GitHub `run`, Azure DevOps `script`/`bash`, AzureCLI `inlineScript`. */
function shellOf(step: Obj): string {
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
function pipelineCommands(files: string[]): Found[] {
  const all: Found[] = [];
  for (const file of files) for (const doc of variants(file)) for (const step of steps(doc)) for (const command of commandsOfStep(step)) all.push({ file, command });
  return all;
}

/** Commands in the fenced shell blocks of a Markdown text. */
function fencedCommands(markdown: string): string[] {
  return [...markdown.matchAll(/```(?:bash|sh|shell)\n([\s\S]*?)```/g)].flatMap((m) => commandsIn(m[1]));
}
const documentedCommands = () => DOCS.flatMap((d) => fencedCommands(read(d)));

/** docs/gitops.md, section "Commands the pipelines run". */
function pipelineSection(): string {
  const doc = read("docs/gitops.md");
  const start = doc.indexOf("### Commands the pipelines run");
  expect(start, "docs/gitops.md has a section 'Commands the pipelines run'").toBeGreaterThan(-1);
  const end = doc.indexOf("\n## ", start);
  return doc.slice(start, end === -1 ? undefined : end);
}

const tokens = (c: string) => c.match(/<[^>]*>\S*|"[^"]*"|\S+/g) ?? [];
const placeholder = (t: string) => t.includes("<") || t.includes("$");
/** A pipeline command matches a documented one token by token; placeholders (`<x>`, `$X`) match anything. */
export function matches(pipeline: string, documented: string): boolean {
  const [a, b] = [tokens(pipeline), tokens(documented)];
  return a.length === b.length && a.every((t, i) => t === b[i] || placeholder(t) || placeholder(b[i]));
}

/** Walks a parsed document, calling back with each string and the keys above it. */
function walkStrings(node: unknown, visit: (s: string, keys: string[]) => void, keys: string[] = []): void {
  if (typeof node === "string") visit(node, keys);
  else if (Array.isArray(node)) node.forEach((n) => walkStrings(n, visit, keys));
  else if (isObj(node)) for (const [k, v] of Object.entries(node)) walkStrings(v, visit, [...keys, k]);
}

const jobsOf = (file: string) => (load(file).jobs ?? {}) as Record<string, Obj>;
const usesLogin = (job: Obj) => steps(job).some((s) => String(s.uses ?? "").startsWith("azure/login@"));

/** Every job of every workflow, with its file. */
const allJobs = () => WORKFLOWS.flatMap((file) => Object.entries(jobsOf(file)).map(([name, job]) => ({ file, name, job })));
/** A job that receives an OIDC token, itself or through the reusable workflow it calls. */
const hasIdToken = (job: Obj) => ((job.permissions ?? {}) as Obj)["id-token"] === "write";
/** `uses:` of a step, without the ref. */
const actionOf = (step: Obj) => String(step.uses ?? "").split("@")[0];
const withOf = (step: Obj) => (isObj(step.with) ? step.with : {});
/** The Azure DevOps template for one set of parameter values, expanded. */
const adoSteps = (params: Obj) => steps(expandTemplate(load(".azure-pipelines/pulumi-steps.yml"), { image: false, approvedChange: false, azureConnection: "c", ...params }));
const adoStages = () => load("azure-pipelines.yml").stages as Obj[];
const adoStage = (name: string) => adoStages().find((s) => s.stage === name)!;
const groupsOf = (job: Obj) => ((job.variables ?? []) as Obj[]).filter((v) => isObj(v) && v.group).map((v) => String(v.group));
const nvmrc = () => read(".nvmrc").trim();
const pulumiVersion = () => read(".devcontainer/pulumi-version").trim();

// ---------------------------------------------------------------------------

describe("pipeline files", () => {
  it("exist and parse: GitHub workflows, Azure DevOps pipelines and templates", () => {
    expect(WORKFLOWS).toEqual(
      expect.arrayContaining([".github/workflows/pull-request.yml", ".github/workflows/deploy.yml", ".github/workflows/deploy-stack.yml", ".github/workflows/platform.yml", ".github/workflows/drift.yml"]),
    );
    expect(ADO).toEqual(expect.arrayContaining(["azure-pipelines.yml", ".azure-pipelines/pulumi-steps.yml", ".azure-pipelines/platform.yml", ".azure-pipelines/drift.yml"]));
    for (const file of [...WORKFLOWS, ...ADO]) {
      expect(load(file), file).toBeTypeOf("object");
      const callsOnly = Object.values(jobsOf(file)).length > 0 && Object.values(jobsOf(file)).every((j) => typeof j.uses === "string");
      if (!callsOnly) expect(steps(variants(file)).length, `${file} has steps`).toBeGreaterThan(0);
    }
  });

  it("pin every action to a release or a commit, never to a branch; reusable workflows are local", () => {
    for (const file of WORKFLOWS) {
      for (const step of steps(load(file))) {
        if (typeof step.uses === "string") expect(step.uses, file).toMatch(/@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/);
      }
      for (const job of Object.values(jobsOf(file))) if (typeof job.uses === "string") expect(job.uses, `${file}: reusable workflows are local`).toMatch(/^\.\/\.github\/workflows\//);
    }
  });

  it("run only commands that README.md or docs/gitops.md document", () => {
    const documented = documentedCommands();
    const found = pipelineCommands([...WORKFLOWS, ...ADO]);
    expect(found.length).toBeGreaterThan(20);
    const undocumented = found.filter(({ command }) => !documented.some((d) => matches(command, d)));
    expect(undocumented).toEqual([]);
    for (const needed of ["npm ci", "npm test", "pulumi login"]) expect(found.map((f) => f.command)).toContain(needed);
  });

  it("run scripts and build contexts that exist in the repository", () => {
    const found = pipelineCommands([...WORKFLOWS, ...ADO]).map((f) => f.command);
    const scripts = found.filter((c) => c.startsWith("bash ")).map((c) => tokens(c)[1]);
    expect(scripts.length).toBeGreaterThan(4);
    for (const script of scripts) expect(fs.existsSync(path.join(ROOT, script)), script).toBe(true);
    for (const build of found.filter((c) => c.startsWith("docker build "))) expect(fs.existsSync(path.join(ROOT, tokens(build).at(-1)!, "Dockerfile")), build).toBe(true);
  });

  it("and docs/gitops.md lists only commands some pipeline runs", () => {
    const listed = fencedCommands(pipelineSection());
    expect(listed.length).toBeGreaterThan(8);
    const run = pipelineCommands([...WORKFLOWS, ...ADO]).map((f) => f.command);
    expect(listed.filter((d) => !run.some((c) => matches(c, d)))).toEqual([]);
  });

  it("both CI systems run the same documented commands (Azure DevOps adds its tool-version hand-off)", () => {
    const listed = fencedCommands(pipelineSection());
    const used = (files: string[]) => new Set(pipelineCommands(files).flatMap(({ command }) => listed.filter((d) => matches(command, d))));
    const github = used(WORKFLOWS);
    const ado = used(ADO);
    const adoOnly = [...ado].filter((c) => !github.has(c));
    expect(adoOnly).toEqual([`bash ${ADO_ONLY_SCRIPT}`]);
    expect([...github].filter((c) => !ado.has(c))).toEqual([]);
  });

  it("the command matcher is strict about what differs", () => {
    expect(matches('pulumi up --stack "$STACK" --yes --policy-pack policy', "pulumi up --stack <stack> --yes --policy-pack policy")).toBe(true);
    expect(matches("pulumi up --stack dev --yes", "pulumi up --stack <stack> --yes --policy-pack policy")).toBe(false);
    expect(matches("npm run lint", "npm test")).toBe(false);
    expect(commandsIn('if [ -n "$r" ]; then az acr login --name "$r" || echo no; fi')).toEqual(['az acr login --name "$r"']);
    expect(commandsIn('bash x.sh "$(Agent.TempDirectory)/a" >"$f" || s=$?')).toEqual(['bash x.sh "$Agent.TempDirectory/a"']);
    expect(pulumiStepCommand({ uses: "pulumi/actions@v7", with: { command: "preview", "stack-name": "dev", diff: true, policyPacks: "policy" } })).toBe(
      "pulumi preview --stack dev --diff --policy-pack policy",
    );
    expect(pulumiStepCommand({ uses: "pulumi/actions@v7", with: { command: "up", "stack-name": "dev", refresh: true, diff: true, policyPacks: "policy" } })).toBe(
      "pulumi up --stack dev --yes --refresh --diff --policy-pack policy",
    );
    expect(pulumiStepCommand({ uses: "pulumi/actions@v7" })).toBeUndefined();
    const tpl = { steps: [{ "${{ if parameters.image }}": [{ bash: "docker build x" }] }, { task: "t", inputs: { "${{ if eq(parameters.c, 'up') }}": { args: "--yes" }, "${{ else }}": { args: "--diff" } } }] };
    expect(expandTemplate(tpl, { image: false, c: "up" })).toEqual({ steps: [{ task: "t", inputs: { args: "--yes" } }] });
    expect(expandTemplate(tpl, { image: true, c: "preview" })).toEqual({ steps: [{ bash: "docker build x" }, { task: "t", inputs: { args: "--diff" } }] });
    const both = { steps: [{ "${{ if and(parameters.image, eq(parameters.c, 'up')) }}": [{ bash: "check" }] }] };
    expect(expandTemplate(both, { image: true, c: "up" })).toEqual({ steps: [{ bash: "check" }] });
    expect(expandTemplate(both, { image: true, c: "preview" })).toEqual({ steps: [] });
    expect(expandTemplate(both, { image: false, c: "up" })).toEqual({ steps: [] });
  });
});

describe("secrets", () => {
  const SECRETISH = /(TOKEN|SECRET|PASSPHRASE|PASSWORD)/i;

  it("reach GitHub steps only through env:, with: or a reusable workflow's secrets:", () => {
    for (const file of WORKFLOWS) {
      walkStrings(load(file), (s, keys) => {
        if (/\$\{\{[^}]*\bsecrets\./.test(s)) expect(keys.some((k) => k === "env" || k === "with" || k === "secrets"), `${file}: ${keys.join(".")}`).toBe(true);
      });
      expect(read(file), `${file}: secrets are passed by name`).not.toMatch(/secrets:\s*inherit/);
    }
  });

  it("are never expanded into a shell script nor printed by one", () => {
    for (const file of [...WORKFLOWS, ...ADO]) {
      for (const step of steps(variants(file))) {
        const shell = shellOf(step);
        // GitHub: no ${{ }} at all in run: (also rules out script injection); values come in through env:.
        if (WORKFLOWS.includes(file)) expect(shell, `${file}: expression inside run:`).not.toMatch(/\$\{\{/);
        // Azure DevOps: no macro of a secret-like variable inside a script; map it with env: instead.
        for (const m of shell.matchAll(/\$\(([\w.]+)\)/g)) expect(m[1], `${file}: $(${m[1]}) in a script`).not.toMatch(SECRETISH);
      }
    }
    for (const [file, text] of [...WORKFLOWS, ...ADO].flatMap((f) => steps(variants(f)).map((s) => [f, shellOf(s)] as const)).concat(SCRIPTS.map((f) => [f, read(f)] as const))) {
      expect(text, `${file} prints a secret`).not.toMatch(/\b(echo|printf|cat)\b[^\n|;&]*\$\{?!?\w*(token|secret|passphrase|password)/i);
      expect(text, `${file} traces commands`).not.toMatch(/set -\w*x|--debug\b|--verbose\b/);
    }
  });

  it("set for later steps only as secret variables (Azure DevOps) or masked first (GitHub)", () => {
    const lib = read("scripts/ci/lib.sh");
    const secretFn = lib.slice(lib.indexOf("ci_set_secret() {"), lib.indexOf("\n}\n", lib.indexOf("ci_set_secret() {")));
    expect(secretFn).toMatch(/::add-mask::%s[\s\S]*GITHUB_ENV/);
    expect(secretFn.indexOf("::add-mask::")).toBeLessThan(secretFn.indexOf('>>"$GITHUB_ENV"'));
    expect(secretFn).toContain("issecret=true");
    for (const file of SCRIPTS) {
      const text = read(file);
      expect(text, file).not.toMatch(/(set_var|ci_set_env)\s+\w*(TOKEN|SECRET|PASSPHRASE|PASSWORD)/);
      for (const m of text.matchAll(/##vso\[task\.setvariable variable=([^;\]]+)([^\]]*)\]/g)) {
        if (SECRETISH.test(m[1])) expect(m[2], `${file}: ${m[1]}`).toContain("issecret=true");
      }
    }
  });

  it("the images' own pull secrets (DCS_IMAGE_PULL_SECRETS) go wherever the pull secret goes, to stack-secrets.sh", () => {
    let passed = 0;
    for (const file of [...WORKFLOWS, ...ADO]) {
      const text = read(file);
      const pull = [...text.matchAll(/^( +)DCS_PULL_CLIENT_SECRET:.*\n/gm)];
      for (const m of pull) {
        // Right after it, at the same indentation: the same env:, secrets: or workflow_call declaration.
        const next = text.slice(m.index + m[0].length).split("\n").filter((l) => !/^ +required: false$/.test(l))[0];
        expect(next, `${file}: ${m[0].trim()}`).toMatch(new RegExp(`^${m[1]}DCS_IMAGE_PULL_SECRETS:`));
        passed++;
      }
      expect((text.match(/DCS_IMAGE_PULL_SECRETS:/g) ?? []).length, file).toBe(pull.length);
    }
    expect(passed).toBeGreaterThan(6);
    expect(read("scripts/ci/stack-secrets.sh")).toMatch(/DCS_IMAGE_PULL_SECRETS  ->  dcs:imagePullSecrets\.<image>/);
  });

  it("do not include an Azure client secret: OIDC and workload identity federation only", () => {
    for (const file of [...WORKFLOWS, ...ADO, ...SCRIPTS]) expect(read(file), file).not.toMatch(/client-secret|AZURE_CLIENT_SECRET|ARM_CLIENT_SECRET|servicePrincipalKey|\bcreds:/);
    for (const file of WORKFLOWS) {
      for (const step of steps(load(file)).filter((s) => actionOf(s) === "azure/login")) {
        expect(Object.keys(step.with as Obj).sort(), file).toEqual(["client-id", "subscription-id", "tenant-id"]);
        for (const v of Object.values(step.with as Obj)) expect(String(v), file).toMatch(/^\$\{\{ vars\.AZURE_\w+ \}\}$/);
      }
    }
  });
});

describe("the pull-request path needs no secret", () => {
  const pr = load(".github/workflows/pull-request.yml");
  const jobs = jobsOf(".github/workflows/pull-request.yml");
  const offline = Object.entries(jobs).filter(([, job]) => steps(job).some((s) => /npm test|render-diff\.sh|smoke-build\.sh/.test(shellOf(s))));

  it("GitHub: only pull_request and the merge queue trigger it (never pull_request_target), with read-only contents", () => {
    expect(Object.keys(pr.on as Obj)).toEqual(["pull_request", "merge_group"]);
    expect((pr.on as Obj).pull_request).toEqual({ branches: ["main"] });
    expect(pr.permissions).toEqual({ contents: "read" });
    for (const file of WORKFLOWS) expect(Object.keys((load(file).on ?? {}) as Obj), file).not.toContain("pull_request_target");
  });

  it("GitHub: the jobs that test, render and smoke-build reference no secret, no variable and get no OIDC token", () => {
    expect(offline.map(([name]) => name).sort()).toEqual(["render", "smoke-build", "test"]);
    for (const [name, job] of offline) {
      expect(JSON.stringify(job), name).not.toMatch(/secrets\.|id-token|vars\./);
      expect(job.permissions, name).toBeUndefined();
      expect(job.if, `${name} also runs in the merge queue and for forks`).toBeUndefined();
    }
    const render = jobs.render;
    expect((render.strategy as Obj).matrix).toEqual({ stack: ["platform-dev", "platform-prod", "dev", "prod"] });
    const renderShell = steps(render).map(shellOf).join("\n");
    expect(renderShell).toMatch(/render-diff\.sh "\$STACK" "\$BASE_SHA" "out\/\$STACK" \| tee -a "\$GITHUB_STEP_SUMMARY"/);
    expect(steps(render).find((s) => shellOf(s).includes("render-diff"))!.env).toMatchObject({ BASE_SHA: "${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}" });
    expect(steps(render).some((s) => withOf(s)["fetch-depth"] === 0), "full history: the base revision is in the clone").toBe(true);
  });

  it("GitHub: the preview runs only where the credentials job finds a preview identity (never for forks, nor Dependabot)", () => {
    const { credentials, preview } = jobs;
    expect(preview.needs).toEqual(["test", "render", "smoke-build", "credentials"]);
    expect(preview.if).toBe("needs.credentials.outputs.available == 'true'");
    expect(credentials.if).toBe("github.event_name == 'pull_request'");
    const env = steps(credentials)[0].env as Obj;
    expect(env.SAME_REPOSITORY).toBe("${{ github.event.pull_request.head.repo.full_name == github.repository }}");
    expect(env.DEPENDABOT).toBe("${{ github.actor == 'dependabot[bot]' || github.event.pull_request.user.login == 'dependabot[bot]' }}");
    expect(env.PREVIEW_CLIENT_ID).toBe("${{ vars.AZURE_PREVIEW_CLIENT_ID }}");
    expect(shellOf(steps(credentials)[0])).toMatch(/SAME_REPOSITORY" == true && "\$DEPENDABOT" != true/);
    expect(JSON.stringify(credentials)).not.toMatch(/secrets\./);
    expect((preview.strategy as Obj).matrix).toEqual({ stack: ["platform-dev", "platform-prod", "dev", "prod"] });
    const action = steps(preview).find((s) => pulumiStepCommand(s))!;
    expect(action.with).toMatchObject({ command: "preview", "comment-on-pr": true, diff: true, policyPacks: "policy" });
  });

  it("Azure DevOps: the test, render and smoke-build jobs map no secret, use no service connection and no variable group; forks skip the preview", () => {
    const prStage = adoStage("pull_request");
    expect(String(prStage.condition)).toBe("eq(variables['Build.Reason'], 'PullRequest')");
    const jobs = prStage.jobs as Obj[];
    for (const name of ["test", "render", "smoke_build"]) {
      const job = jobs.find((j) => j.job === name)!;
      expect(JSON.stringify(job), name).not.toMatch(/TOKEN|PASSPHRASE|SECRET|azureSubscription|template|group/);
    }
    const preview = jobs.find((j) => j.job === "preview")!;
    expect(String(preview.condition)).toContain("ne(variables['System.PullRequest.IsFork'], 'True')");
  });

  it("really runs without any: render-diff.sh in an environment holding nothing but PATH", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-render-diff-"));
    try {
      const r = spawnSync("bash", ["scripts/ci/render-diff.sh", "dev", "HEAD", out], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: out }, encoding: "utf8", timeout: 90_000 });
      expect(r.stderr).toMatch(/rendering dev at HEAD/);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^### Stack `dev`/);
      for (const f of ["base.json", "head.json", "head.md", "diff.md"]) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("deployments", () => {
  it("GitHub: pushes to main deploy dev, then prod behind the prod environment; the platform stacks, platform-dev then platform-prod, behind the platform admins' environments", () => {
    const deploy = load(".github/workflows/deploy.yml");
    expect(Object.keys(deploy.on as Obj).sort()).toEqual(["push", "workflow_dispatch"]);
    expect(((deploy.on as Obj).push as Obj).branches).toEqual(["main"]);
    const jobs = jobsOf(".github/workflows/deploy.yml");
    expect(jobs.dev.with).toEqual({ stack: "dev", environment: "dev" });
    expect(jobs.prod.with).toEqual({ stack: "prod", environment: "prod", "approved-change": "approved-change-prod" });
    expect(jobs.prod.needs).toEqual(["dev", "prod-preview"]);
    const platform = load(".github/workflows/platform.yml");
    expect(Object.keys(platform.on as Obj).sort()).toEqual(["push", "workflow_dispatch"]);
    expect(((platform.on as Obj).push as Obj).branches).toEqual(["main"]);
    expect(((platform.on as Obj).push as Obj).paths).toEqual(expect.arrayContaining(["Pulumi.platform-dev.yaml", "Pulumi.platform-prod.yaml"]));
    const platformJobs = jobsOf(".github/workflows/platform.yml");
    expect(platformJobs["platform-dev"].with).toEqual({ stack: "platform-dev", environment: "platform-admin-dev", image: false });
    expect(platformJobs["platform-prod"].with).toEqual({ stack: "platform-prod", environment: "platform-admin-prod", image: false });
    expect(platformJobs["platform-prod"].needs).toEqual(["platform-dev"]);
    // A platform stack holds no secret: only the passphrase of its state reaches its deployment.
    for (const job of Object.values(platformJobs)) expect(job.secrets).toEqual({ PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" });
    const up = jobsOf(".github/workflows/deploy-stack.yml").up;
    expect(up.environment).toBe("${{ inputs.environment }}");
    const docs = read("docs/gitops.md");
    expect(docs).toMatch(/required\s+reviewers/i);
    expect(docs).toMatch(/Settings > Environments/);
  });

  it("GitHub: one deployment per stack at a time, never cancelled; previews in groups of their own", () => {
    const up = jobsOf(".github/workflows/deploy-stack.yml").up;
    expect(up.concurrency).toEqual({ group: "pulumi-${{ inputs.stack }}", "cancel-in-progress": false });
    const preview = jobsOf(".github/workflows/pull-request.yml").preview;
    expect((preview.concurrency as Obj)["cancel-in-progress"]).toBe(true);
    expect(String((preview.concurrency as Obj).group)).not.toMatch(/^pulumi-/);
  });

  it("GitHub: least privilege; an OIDC token only for the jobs that log in to Azure, each as the identity its role names", () => {
    for (const { file, name, job } of allJobs()) {
      const wf = load(file);
      expect(wf.permissions, `${file}: workflow-level permissions`).toEqual({ contents: "read" });
      const perms = (job.permissions ?? {}) as Obj;
      if (usesLogin(job)) {
        expect(perms["id-token"], `${file}/${name}`).toBe("write");
        const env = job.env as Obj;
        expect(env.ARM_USE_OIDC, `${file}/${name}`).toBe("true");
        // The deploy identity only in a job of an environment; other jobs log in as the preview or verify identity.
        const identity = job.environment ? "${{ vars.AZURE_CLIENT_ID }}" : name === "preview" ? "${{ vars.AZURE_PREVIEW_CLIENT_ID }}" : "${{ vars.AZURE_VERIFY_CLIENT_ID }}";
        expect(env.ARM_CLIENT_ID, `${file}/${name}`).toBe(identity);
        expect(withOf(steps(job).find((s) => actionOf(s) === "azure/login")!)["client-id"], `${file}/${name}`).toBe(identity);
      } else if (job.uses === "./.github/workflows/deploy-stack.yml") {
        expect(perms, `${file}/${name} grants the reusable workflow what it asks`).toEqual({ contents: "read", "id-token": "write" });
      } else {
        expect(perms["id-token"], `${file}/${name}`).toBeUndefined();
      }
      const writes = Object.entries(perms).filter(([, v]) => v === "write").map(([k]) => k).sort();
      expect(writes.filter((k) => k !== "id-token"), `${file}/${name}`).toEqual(name === "preview" ? ["pull-requests"] : []);
    }
  });

  it("GitHub: login, state and Databricks first; registry, base import and smoke build before the snapshot; the approved change checked right before pulumi up; clusters checked and outputs shown after it", () => {
    const up = jobsOf(".github/workflows/deploy-stack.yml").up;
    const all = steps(up);
    const order = all.map((s) => `${shellOf(s)} ${String(s.uses ?? "")} ${pulumiStepCommand(s) ?? ""}`);
    const at = (re: RegExp) => {
      const i = order.findIndex((s) => re.test(s));
      expect(i, String(re)).toBeGreaterThan(-1);
      return i;
    };
    const sequence = [
      /databricks\/setup-cli@/,
      /azure\/login@/,
      /pulumi\/auth-actions@/,
      /state-login\.sh "\$STACK" write\nbash scripts\/ci\/databricks-auth\.sh "\$STACK"/,
      /stack-secrets\.sh "\$STACK"\s/,
      /^bash scripts\/ci\/registry-login\.sh "\$STACK"\nbash scripts\/ci\/import-base\.sh "\$STACK"/,
      /^bash scripts\/ci\/smoke-build\.sh "\$STACK" /,
      /^bash scripts\/ci\/check-clusters\.sh snapshot "\$STACK" "\$RUNNER_TEMP\/clusters-\$STACK\.tsv"/,
      /actions\/download-artifact@/,
      /^bash scripts\/ci\/preview-change\.sh check "\$STACK" "\$RUNNER_TEMP\/approved-change\/change\.json"/,
      /pulumi up --stack \$TEMPLATE --yes --refresh --diff --policy-pack policy/,
      /^bash scripts\/ci\/check-clusters\.sh verify "\$STACK" "\$RUNNER_TEMP\/clusters-\$STACK\.tsv"/,
      /^bash scripts\/ci\/run-smoke-job\.sh "\$STACK" /,
      /^bash scripts\/ci\/outputs-summary\.sh "\$STACK" \| tee -a "\$GITHUB_STEP_SUMMARY"/,
    ].map(at);
    expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    expect(at(/pulumi\/actions@\S+ $/), "the Pulumi CLI is installed before the first pulumi command").toBeLessThan(at(/stack-secrets\.sh/));
    // Only stacks with an image build it, prepare a registry and have clusters to check.
    for (const re of [/smoke-build\.sh/, /setup-cli@/, /registry-login\.sh/, /check-clusters\.sh snapshot/, /check-clusters\.sh verify/, /run-smoke-job\.sh/]) expect(all[at(re)].if, String(re)).toBe("inputs.image");
    for (const re of [/download-artifact@/, /preview-change\.sh check/]) expect(all[at(re)].if, String(re)).toBe("inputs.approved-change != ''");
    // The steps that run pulumi get the passphrase (state credentials are job-wide, from state-login.sh and auth-actions).
    for (const re of [/registry-login\.sh/, /check-clusters\.sh snapshot/, /preview-change\.sh check/, /pulumi up --stack/, /check-clusters\.sh verify/, /run-smoke-job\.sh/, /outputs-summary\.sh/]) {
      expect(all[at(re)].env, String(re)).toEqual({ PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" });
    }
  });

  it("build the image only through smoke-build.sh (the program's build arguments), never with a docker build of their own", () => {
    const found = pipelineCommands([...WORKFLOWS, ...ADO]).map((f) => f.command);
    expect(found.filter((c) => c.startsWith("docker "))).toEqual([]);
    expect(found.filter((c) => /smoke-test\.sh/.test(c))).toEqual([]);
    expect(found).toContain('bash scripts/ci/smoke-build.sh "$STACK"');
  });

  it("install the same pinned Databricks CLI on both systems", () => {
    const action = steps(load(".github/workflows/deploy-stack.yml")).find((s) => actionOf(s) === "databricks/setup-cli");
    const version = /# v(\d+\.\d+\.\d+)$/m.exec(read(".github/workflows/deploy-stack.yml").split("\n").find((l) => l.includes("databricks/setup-cli@")) ?? "")?.[1];
    expect(action, "the action is used").toBeDefined();
    expect(version, "the pinned commit names its release").toBeDefined();
    const ado = adoSteps({ command: "up", image: true }).map(shellOf).join("\n");
    expect(ado).toContain(`curl -fsSL https://raw.githubusercontent.com/databricks/setup-cli/v${version}/install.sh | sudo sh`);
    expect(read("docs/gitops.md")).toContain(`v${version}`);
  });

  it("Azure DevOps: PR stage, dev on main, prod previewed then behind dcs-prod's approval; sequential locks; compile-time service connections", () => {
    const ado = load("azure-pipelines.yml");
    expect((ado.trigger as Obj).branches).toEqual({ include: ["main"] });
    expect((ado.pr as Obj).branches).toEqual({ include: ["main"] });
    expect(ado.lockBehavior).toBe("sequential");
    expect(adoStages().map((s) => s.stage)).toEqual(["pull_request", "deploy_dev", "preview_prod", "deploy_prod"]);
    const [dev, prod] = [adoStage("deploy_dev"), adoStage("deploy_prod")];
    for (const stage of [dev, prod, adoStage("preview_prod")]) expect(String(stage.condition)).toContain("eq(variables['Build.SourceBranch'], 'refs/heads/main')");
    expect(prod.dependsOn).toEqual(["deploy_dev", "preview_prod"]);
    expect(String(prod.condition)).toMatch(/^and\(succeeded\(\)/);
    expect(((dev.jobs as Obj[])[0] as Obj).environment).toBe("dcs-dev");
    expect(((prod.jobs as Obj[])[0] as Obj).environment).toBe("dcs-prod");
    for (const stage of [dev, prod]) expect(((stage.jobs as Obj[])[0] as Obj).deployment).toBeDefined();
    const platform = load(".azure-pipelines/platform.yml");
    expect(platform.pr).toBe("none");
    expect(platform.lockBehavior).toBe("sequential");
    expect(((platform.trigger as Obj).branches as Obj).include).toEqual(["main"]);
    const platformStages = platform.stages as Obj[];
    expect(platformStages.map((st) => st.stage)).toEqual(["platform_dev", "platform_prod"]);
    expect(platformStages[1].dependsOn).toEqual(["platform_dev"]);
    expect(String(platformStages[1].condition)).toMatch(/^and\(succeeded\(\)/);
    expect(platformStages.map((st) => ((st.jobs as Obj[])[0] as Obj).environment)).toEqual(["dcs-platform-admin-dev", "dcs-platform-admin-prod"]);
    // The same trigger as GitHub's platform.yml (Azure DevOps filters by path prefix: a folder stands for folder/**).
    const ghPaths = ((load(".github/workflows/platform.yml").on as Obj).push as Obj).paths as string[];
    expect(((platform.trigger as Obj).paths as Obj).include).toEqual(ghPaths.map((p) => p.replace(/\/\*\*$/, "")));
    for (const file of ADO) {
      walkStrings(load(file), (s, keys) => {
        if (keys.at(-1) === "azureSubscription") expect(s, `${file}: service connections resolve at compile time`).toMatch(/^\$\{\{ parameters\.\w+ \}\}$/);
      });
    }
    expect(read("docs/gitops.md")).toMatch(/Approvals\*\* check/);
  });

  it("Azure DevOps: the Pulumi task previews and deploys with the policy pack, in the same order as GitHub", () => {
    for (const command of ["preview", "up"]) {
      const all = adoSteps({ command, image: command === "up", approvedChange: command === "up" });
      const runs = all.map(pulumiStepCommand).filter(Boolean);
      expect(runs).toEqual([`pulumi ${command} --stack $(STACK) ${command === "up" ? "--yes --refresh " : ""}--diff --policy-pack policy`]);
      const order = all.map((s) => `${shellOf(s)} ${String(s.task ?? "")} ${pulumiStepCommand(s) ?? ""}`);
      const at = (re: RegExp) => order.findIndex((s) => re.test(s));
      expect(at(/stack-secrets\.sh/)).toBeGreaterThan(at(/state-login\.sh/));
      expect(at(/pulumi (preview|up) --stack/)).toBeGreaterThan(at(/stack-secrets\.sh/));
      if (command === "preview") {
        for (const re of [/smoke-build\.sh/, /registry-login\.sh/, /import-base\.sh/, /check-clusters\.sh/, /run-smoke-job\.sh/, /setup-cli/, /outputs-summary/]) expect(at(re), `preview runs no ${re}`).toBe(-1);
        continue;
      }
      const sequence = [
        /setup-cli\/v[\d.]+\/install\.sh \| sudo sh/,
        /state-login\.sh "\$STACK" write\nbash scripts\/ci\/databricks-auth\.sh "\$STACK"/,
        /stack-secrets\.sh "\$STACK"\s/,
        /^bash scripts\/ci\/registry-login\.sh "\$STACK"\nbash scripts\/ci\/import-base\.sh "\$STACK"\s+AzureCLI@2/,
        /^bash scripts\/ci\/smoke-build\.sh "\$STACK" /,
        /^bash scripts\/ci\/check-clusters\.sh snapshot "\$STACK" "\$AGENT_TEMPDIRECTORY\/clusters-\$STACK\.tsv"/,
        /DownloadPipelineArtifact@2/,
        /preview-change\.sh check "\$STACK"/,
        /pulumi up --stack/,
        /^bash scripts\/ci\/check-clusters\.sh verify "\$STACK" "\$AGENT_TEMPDIRECTORY\/clusters-\$STACK\.tsv"/,
        /^bash scripts\/ci\/run-smoke-job\.sh "\$STACK" /,
        /outputs-summary\.sh "\$STACK"/,
      ].map(at);
      for (const i of sequence) expect(i).toBeGreaterThan(-1);
      expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
      // Secret variables reach scripts only through env: the state's and Databricks' credentials.
      for (const re of [/registry-login\.sh/, /check-clusters\.sh snapshot/, /preview-change\.sh check/, /check-clusters\.sh verify/, /run-smoke-job\.sh/]) {
        expect(all[at(re)].env, String(re)).toEqual({
          PULUMI_ACCESS_TOKEN: "$(PULUMI_ACCESS_TOKEN)",
          PULUMI_CONFIG_PASSPHRASE: "$(PULUMI_CONFIG_PASSPHRASE)",
          AZURE_STORAGE_SAS_TOKEN: "$(AZURE_STORAGE_SAS_TOKEN)",
          DATABRICKS_TOKEN: "$(DATABRICKS_TOKEN)",
        });
      }
    }
    // An image stack's preview (never used today) would still not touch its clusters.
    const previewWithImage = adoSteps({ command: "preview", image: true }).map(shellOf).join("\n");
    expect(previewWithImage).not.toMatch(/check-clusters\.sh|run-smoke-job\.sh|setup-cli|registry-login|import-base/);
  });
});

// ---------------------------------------------------------------------------
// Issue 10, item by item, read from the pipeline files.

describe("issue 10: previews never hold deploy credentials (item 1)", () => {
  const DEPLOY_SECRETS = /DCS_PUSH_CLIENT_SECRET/;

  it("GitHub: deploy secrets and the deploy identity only in jobs of an environment; read jobs take read credentials", () => {
    for (const { file, name, job } of allJobs()) {
      const text = JSON.stringify(job);
      if (job.environment || job.uses === "./.github/workflows/deploy-stack.yml") continue;
      expect(text, `${file}/${name} holds the push secret`).not.toMatch(DEPLOY_SECRETS);
      expect(text, `${file}/${name} logs in as the deploy identity`).not.toContain("vars.AZURE_CLIENT_ID");
      expect(text, `${file}/${name} asks for a deploy team's token`).not.toContain("vars.PULUMI_TEAM }}");
      if (!usesLogin(job)) continue;
      const shell = steps(job).map(shellOf).join("\n");
      expect(shell, `${file}/${name}`).toMatch(/state-login\.sh "\$STACK" read\b/);
      expect(shell, `${file}/${name}`).not.toMatch(/state-login\.sh "\$STACK" write/);
      expect(shell, `${file}/${name}`).toMatch(/stack-secrets\.sh "\$STACK" --preview/);
      const auth = steps(job).find((s) => actionOf(s) === "pulumi/auth-actions")!;
      expect(withOf(auth), `${file}/${name}`).toMatchObject({ "requested-token-type": "urn:pulumi:token-type:access_token:team", scope: "team:${{ vars.PULUMI_READ_TEAM }}" });
    }
    // The deployment job: write access, the environment's team, the push secret.
    const up = jobsOf(".github/workflows/deploy-stack.yml").up;
    expect(steps(up).map(shellOf).join("\n")).toMatch(/state-login\.sh "\$STACK" write/);
    expect(withOf(steps(up).find((s) => actionOf(s) === "pulumi/auth-actions")!).scope).toBe("team:${{ vars.PULUMI_TEAM }}");
    expect(JSON.stringify(up)).toMatch(DEPLOY_SECRETS);
  });

  it("Azure DevOps: read jobs get the read variable group and a read-only state credential; deploy groups only in deployment jobs of an environment", () => {
    const jobsIn = (file: string) => {
      const doc = load(file);
      const stages = (doc.stages as Obj[] | undefined) ?? [{ jobs: doc.jobs }];
      return stages.flatMap((s) => (s.jobs as Obj[]).map((j) => ({ file, stage: String(s.stage ?? ""), job: j })));
    };
    const all = ADO.filter((f) => f !== ".azure-pipelines/pulumi-steps.yml").flatMap(jobsIn);
    expect(all.length).toBeGreaterThan(6);
    for (const { file, stage, job } of all) {
      const groups = groupsOf(job);
      const who = `${file}/${stage}/${String(job.job ?? job.deployment)}`;
      if (job.deployment) {
        expect(job.environment, who).toBeDefined();
        expect(groups, who).toHaveLength(1);
        expect(groups[0], who).toMatch(/^dcs-platform-(dev|prod|admin-dev|admin-prod)$/);
      } else {
        expect(groups.every((g) => g === "dcs-platform-read"), `${who}: ${groups.join(", ")}`).toBe(true);
      }
    }
    expect(read("azure-pipelines.yml")).not.toMatch(/^variables:\n(\s+-[^\n]*\n)*\s+- group:/m);
    for (const command of ["preview", "record", "drift"]) {
      const shell = adoSteps({ command, image: true }).map(shellOf).join("\n");
      expect(shell, command).toMatch(/state-login\.sh "\$STACK" read\b/);
      expect(shell, command).toMatch(/stack-secrets\.sh "\$STACK" --preview/);
      expect(JSON.stringify(adoSteps({ command, image: true })), command).not.toMatch(DEPLOY_SECRETS);
    }
    const up = adoSteps({ command: "up", image: true });
    expect(up.map(shellOf).join("\n")).toMatch(/state-login\.sh "\$STACK" write/);
  });

  it("docs/gitops.md lists every identity with its roles and why, on both systems", () => {
    const docs = read("docs/gitops.md");
    const table = docs.slice(docs.indexOf("## Identities"), docs.indexOf("\n## ", docs.indexOf("## Identities") + 5));
    for (const identity of ["preview", "verify", "deploy (dev)", "deploy (prod)", "platform admin (platform-dev)", "platform admin (platform-prod)"]) expect(table, identity).toContain(`| ${identity} |`);
    for (const right of ["Reader", "Storage Blob Data Reader", "Storage Blob Data Contributor", "AcrPush", "Stack Read", "Stack Write", "MANAGE", "CAN_USE"]) expect(table, right).toContain(right);
    for (const name of [
      "AZURE_PREVIEW_CLIENT_ID",
      "AZURE_VERIFY_CLIENT_ID",
      "PULUMI_READ_TEAM",
      "PULUMI_TEAM",
      "dcs-platform-read",
      "dcs-platform-preview",
      "dcs-platform-verify",
      "dcs-platform-dev",
      "dcs-platform-prod",
      "dcs-platform-admin-dev",
      "dcs-platform-admin-prod",
      "platform-admin-dev",
      "platform-admin-prod",
    ]) {
      expect(docs, name).toContain(name);
    }
  });
});

describe("issue 10: deployments run only for main; prod state apart from dev's (item 2)", () => {
  it("GitHub: every job that names or calls an environment, and every job that reads with the verify identity, checks the ref", () => {
    const gated = allJobs().filter(({ job }) => job.environment || job.uses === "./.github/workflows/deploy-stack.yml" || JSON.stringify(job).includes("AZURE_VERIFY_CLIENT_ID"));
    expect(gated.length).toBeGreaterThanOrEqual(6);
    for (const { file, name, job } of gated) expect(String(job.if), `${file}/${name}`).toContain("github.ref == 'refs/heads/main'");
    // workflow_dispatch exists, and cannot bypass the check.
    expect(Object.keys(load(".github/workflows/deploy.yml").on as Obj)).toContain("workflow_dispatch");
  });

  it("Azure DevOps: every stage or job with a deploy credential runs on main only", () => {
    for (const stage of adoStages().filter((s) => s.stage !== "pull_request")) expect(String(stage.condition), String(stage.stage)).toContain("eq(variables['Build.SourceBranch'], 'refs/heads/main')");
    for (const stage of load(".azure-pipelines/platform.yml").stages as Obj[]) expect(String(stage.condition)).toContain("eq(variables['Build.SourceBranch'], 'refs/heads/main')");
    for (const job of load(".azure-pipelines/drift.yml").jobs as Obj[]) expect(String(job.condition)).toContain("eq(variables['Build.SourceBranch'], 'refs/heads/main')");
    const docs = read("docs/gitops.md");
    expect(docs).toMatch(/Branch control/);
  });

  it("each workspace's state is its own: the backend URL takes {platform} (a team stack shares its platform stack's backend), and each deployment writes only its own stack", () => {
    const lib = read("scripts/ci/lib.sh");
    expect(lib).toMatch(/backend_url\(\) \{[\s\S]*\$\{url\/\/\\\{stack\\\}\/\$1\}/);
    expect(lib).toMatch(/backend_url\(\) \{[\s\S]*\$\{url\/\/\\\{platform\\\}\//);
    const docs = read("docs/gitops.md");
    expect(docs).toContain("azblob://pulumi-{platform}?storage_account=");
    expect(docs).toMatch(/Stack Write[^|\n]*only/);
  });
});

describe("issue 10: Databricks authentication survives a long up (item 3)", () => {
  it("GitHub: every job that logs in hands Databricks the SDK's own OIDC exchange, right after the login; never the Azure CLI session", () => {
    for (const { file, name, job } of allJobs().filter(({ job }) => usesLogin(job))) {
      expect(JSON.stringify(job), `${file}/${name}`).not.toContain("azure-cli");
      const all = steps(job);
      const login = all.findIndex((s) => actionOf(s) === "azure/login");
      const auth = all.findIndex((s) => /databricks-auth\.sh "\$STACK"/.test(shellOf(s)));
      expect(auth, `${file}/${name}`).toBeGreaterThan(login);
      expect(auth - login, `${file}/${name}: nothing slow between the login and the token-minting scripts`).toBeLessThanOrEqual(2);
      expect(hasIdToken(job), `${file}/${name}: github-oidc-azure requests its own OIDC token`).toBe(true);
    }
    expect(read("scripts/ci/databricks-auth.sh")).toMatch(/ci_set_env DATABRICKS_AUTH_TYPE github-oidc-azure/);
  });

  it("Azure DevOps: a Databricks token minted by the service connection right before every step that talks to Databricks", () => {
    const all = adoSteps({ command: "up", image: true, approvedChange: true });
    const talks = (s: Obj) => /check-clusters\.sh|run-smoke-job\.sh|preview-change\.sh/.test(shellOf(s)) || pulumiStepCommand(s) !== undefined;
    const mints = (s: Obj) => s.task === "AzureCLI@2" && /databricks-auth\.sh/.test(shellOf(s));
    const databricksSteps = all.map((s, i) => [s, i] as const).filter(([s]) => talks(s));
    expect(databricksSteps.length).toBe(5);
    for (const [step, i] of databricksSteps) {
      // The step itself is an AzureCLI@2 task logging in afresh, or a mint comes at most two steps before it.
      const previous = all.slice(Math.max(0, i - 2), i);
      expect(step.task === "AzureCLI@2" || previous.some(mints), `${shellOf(step) || String(pulumiStepCommand(step))}`).toBe(true);
    }
    expect(Number(((adoStage("deploy_prod").jobs as Obj[])[0] as Obj).timeoutInMinutes)).toBeLessThanOrEqual(60);
  });
});

describe("issue 10: pinned actions, Dependabot, no shared cache in privileged jobs (item 4)", () => {
  it("every action of a job that receives id-token: write is pinned to a full commit SHA, with its release as a comment", () => {
    let pinned = 0;
    for (const file of WORKFLOWS) {
      const lines = read(file).split("\n");
      for (const [name, job] of Object.entries(jobsOf(file))) {
        const privileged = hasIdToken(job) || (file.endsWith("deploy-stack.yml") && name === "up");
        if (!privileged) continue;
        for (const step of steps(job).filter((s) => typeof s.uses === "string")) {
          expect(step.uses, `${file}/${name}`).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
          expect(lines.some((l) => l.includes(`uses: ${String(step.uses)} # v`)), `${file}: ${String(step.uses)} names its release`).toBe(true);
          pinned++;
        }
      }
    }
    expect(pinned).toBeGreaterThan(20);
    // One SHA per action everywhere.
    const shas = new Map<string, Set<string>>();
    for (const file of WORKFLOWS) for (const s of steps(load(file)).filter((x) => typeof x.uses === "string")) {
      const [action, ref] = String(s.uses).split("@");
      shas.set(action, (shas.get(action) ?? new Set()).add(ref));
    }
    for (const [action, refs] of shas) expect([...refs], action).toHaveLength(1);
  });

  it("Dependabot keeps the actions and npm packages current, and its pull requests never reach a preview", () => {
    const dependabot = load(".github/dependabot.yml");
    expect(((dependabot.updates as Obj[]) ?? []).map((u) => u["package-ecosystem"]).sort()).toEqual(["github-actions", "npm"]);
    const credentials = jobsOf(".github/workflows/pull-request.yml").credentials;
    expect(JSON.stringify(credentials)).toContain("dependabot[bot]");
  });

  it("privileged jobs use no dependency cache (GitHub: package-manager-cache false, no cache:; Azure DevOps: no Cache task)", () => {
    for (const { file, name, job } of allJobs().filter(({ job, file, name }) => hasIdToken(job) || (file.endsWith("deploy-stack.yml") && name === "up"))) {
      for (const setup of steps(job).filter((s) => actionOf(s) === "actions/setup-node")) {
        expect(withOf(setup)["package-manager-cache"], `${file}/${name}`).toBe(false);
        expect(withOf(setup).cache, `${file}/${name}`).toBeUndefined();
      }
      expect(steps(job).some((s) => actionOf(s) === "actions/cache"), `${file}/${name}`).toBe(false);
    }
    for (const file of ADO) for (const step of steps(variants(file))) expect(String(step.task ?? ""), file).not.toMatch(/^Cache@/);
  });
});

describe("issue 10: supported and pinned runtimes (items 5 and 6)", () => {
  it(".nvmrc names the current Node LTS major; engines, the devcontainer and every pipeline follow it", () => {
    expect(nvmrc()).toMatch(/^\d+$/);
    expect(Number(nvmrc())).toBeGreaterThanOrEqual(24);
    expect((JSON.parse(read("package.json")) as Obj).engines).toEqual({ node: `>=${nvmrc()}` });
    expect(read(".devcontainer/Dockerfile")).toMatch(new RegExp(`^FROM mcr\\.microsoft\\.com/devcontainers/typescript-node:${nvmrc()}-bookworm$`, "m"));
    for (const file of WORKFLOWS) {
      for (const setup of steps(load(file)).filter((s) => actionOf(s) === "actions/setup-node")) {
        expect(withOf(setup)["node-version-file"], file).toBe(".nvmrc");
        expect(withOf(setup)["node-version"], file).toBeUndefined();
      }
    }
    for (const file of ADO) {
      const all = steps(variants(file));
      expect(all.some((s) => String(s.task ?? "").startsWith("NodeTool@")), file).toBe(false);
      all.forEach((s, i) => {
        if (s.task !== "UseNode@1") return;
        expect((s.inputs as Obj).version, file).toBe("$(NODE_VERSION)");
        expect(all.slice(0, i).some((p) => shellOf(p) === "bash scripts/ci/tool-versions.sh"), `${file}: tool-versions.sh before UseNode@1`).toBe(true);
      });
    }
    // The suite itself still runs on an older Node where a machine has only that (this one has Node 20).
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(20);
  });

  it("the Pulumi CLI version lives in .devcontainer/pulumi-version, equals the SDK's, and every install reads it", () => {
    const sdk = (JSON.parse(read("node_modules/@pulumi/pulumi/package.json")) as Obj).version;
    expect(pulumiVersion()).toBe(sdk);
    for (const file of WORKFLOWS) {
      for (const action of steps(load(file)).filter((s) => actionOf(s) === "pulumi/actions")) {
        expect(withOf(action)["pulumi-version-file"], file).toBe(".devcontainer/pulumi-version");
        expect(withOf(action)["pulumi-version"], file).toBeUndefined();
      }
    }
    const installs = adoSteps({ command: "up" }).filter((s) => s.task === "Pulumi@1");
    expect((installs[0].inputs as Obj).versionSpec).toBe("$(PULUMI_VERSION)");
    expect((installs[0].inputs as Obj).command, "the first Pulumi@1 task installs the CLI for the job").toBeUndefined();
    expect(read("scripts/ci/tool-versions.sh")).toContain(".devcontainer/pulumi-version");
    const dockerfile = read(".devcontainer/Dockerfile");
    expect(dockerfile).toMatch(/^COPY pulumi-version /m);
    expect(dockerfile).toMatch(/get\.pulumi\.com\/releases\/sdk\/pulumi-v\$\{version\}-linux-/);
    expect(dockerfile).not.toMatch(/PULUMI_VERSION=\d/);
  });
});

describe("issue 10: the exact change that deploys (item 7)", () => {
  it("GitHub: the approver's run shows prod's preview of this commit, and the deployment refuses any other change", () => {
    const { "prod-preview": preview, prod } = jobsOf(".github/workflows/deploy.yml");
    const shell = steps(preview).map(shellOf).join("\n");
    expect(shell).toContain('bash scripts/ci/preview-change.sh record "$STACK" "$RUNNER_TEMP/approved-change/change.json" | tee -a "$GITHUB_STEP_SUMMARY"');
    expect((preview.env as Obj).STACK).toBe("prod");
    expect(preview.environment, "the preview runs before, not behind, the approval").toBeUndefined();
    const upload = steps(preview).find((s) => actionOf(s) === "actions/upload-artifact")!;
    expect(withOf(upload)).toMatchObject({ name: "approved-change-prod", "if-no-files-found": "error" });
    expect(prod.needs).toContain("prod-preview");
    expect((prod.with as Obj)["approved-change"]).toBe("approved-change-prod");
    const up = jobsOf(".github/workflows/deploy-stack.yml").up;
    const download = steps(up).find((s) => actionOf(s) === "actions/download-artifact")!;
    expect(withOf(download)).toEqual({ name: "${{ inputs.approved-change }}", path: "${{ runner.temp }}/approved-change" });
  });

  it("Azure DevOps: stage preview_prod publishes the change and its fingerprint; deploy_prod checks it after the approval", () => {
    const record = ((adoStage("preview_prod").jobs as Obj[])[0] as Obj);
    expect(groupsOf(record)).toEqual(["dcs-platform-read"]);
    const recordSteps = steps(expandTemplate(record, {}));
    expect(JSON.stringify(recordSteps)).toContain('"command":"record"');
    const recorded = adoSteps({ command: "record" });
    expect(recorded.map(shellOf).join("\n")).toMatch(/preview-change\.sh record "\$STACK" .*uploadsummary/s);
    expect(recorded.find((s) => s.task === "PublishPipelineArtifact@1")!.inputs).toMatchObject({ artifact: "approved-change-$(STACK)" });
    const prodJob = ((adoStage("deploy_prod").jobs as Obj[])[0] as Obj);
    expect(JSON.stringify(prodJob)).toContain('"approvedChange":true');
    const up = adoSteps({ command: "up", image: true, approvedChange: true });
    expect(up.find((s) => s.task === "DownloadPipelineArtifact@2")!.inputs).toMatchObject({ artifactName: "approved-change-$(STACK)" });
    expect(adoSteps({ command: "up", image: true }).some((s) => /preview-change\.sh check/.test(shellOf(s))), "dev deploys without an approval to match").toBe(false);
  });

  it("update plans are not used (experimental in the pinned CLI); docs say why, and name the merge queue", () => {
    const docs = read("docs/gitops.md");
    expect(docs).toMatch(/--save-plan/);
    expect(docs).toMatch(/PULUMI_EXPERIMENTAL/);
    expect(docs).toMatch(/merge queue/i);
    expect(docs).toMatch(/Immediately when main is updated/);
    for (const file of WORKFLOWS) for (const a of steps(load(file)).filter((s) => actionOf(s) === "pulumi/actions")) expect(withOf(a).plan, file).toBeUndefined();
  });
});

describe("issue 10: a broken Dockerfile fails the pull request (item 8)", () => {
  it("GitHub and Azure DevOps build and smoke-test the image of dev and prod in the pull request, from Docker Hub, without credentials", () => {
    const job = jobsOf(".github/workflows/pull-request.yml")["smoke-build"];
    expect((job.strategy as Obj).matrix).toEqual({ stack: ["dev", "prod"] });
    expect(steps(job).map(shellOf)).toContain('bash scripts/ci/smoke-build.sh "$STACK" --base-from-docker-hub');
    const ado = ((adoStage("pull_request").jobs as Obj[]).find((j) => j.job === "smoke_build")!);
    expect(Object.keys(((ado.strategy as Obj).matrix as Obj))).toEqual(["dev", "prod"]);
    expect(steps(ado).map(shellOf)).toContain('bash scripts/ci/smoke-build.sh "$STACK" --base-from-docker-hub');
    expect(((adoStage("pull_request").jobs as Obj[]).find((j) => j.job === "preview")!).dependsOn).toContain("smoke_build");
  });
});

describe("issue 10: builds reuse work across runners (item 9)", () => {
  it("deployments import the base once into the stack's registry before building, on both systems", () => {
    const gh = steps(jobsOf(".github/workflows/deploy-stack.yml").up).map(shellOf);
    const ado = adoSteps({ command: "up", image: true }).map(shellOf);
    for (const all of [gh, ado]) {
      const imported = all.findIndex((s) => s.includes('bash scripts/ci/import-base.sh "$STACK"'));
      const login = all.findIndex((s) => s.includes('bash scripts/ci/registry-login.sh "$STACK"'));
      const built = all.findIndex((s) => s.startsWith('bash scripts/ci/smoke-build.sh "$STACK"'));
      expect(login).toBeGreaterThan(-1);
      expect(imported).toBe(login);
      expect(built).toBeGreaterThan(imported);
      expect(all[built]).not.toContain("--base-from-docker-hub");
    }
  });
});

describe("issue 10: drift is detected; up refreshes first (item 10)", () => {
  it("GitHub: a scheduled workflow checks every stack with the read-only verify identity", () => {
    const drift = load(".github/workflows/drift.yml");
    expect(Object.keys(drift.on as Obj).sort()).toEqual(["schedule", "workflow_dispatch"]);
    const job = jobsOf(".github/workflows/drift.yml").drift;
    expect((job.strategy as Obj).matrix).toEqual({ stack: ["platform-dev", "platform-prod", "dev", "prod"] });
    expect(steps(job).map(shellOf)).toContain('bash scripts/ci/preview-change.sh drift "$STACK" | tee -a "$GITHUB_STEP_SUMMARY"');
    expect(read("scripts/ci/preview-change.sh")).toContain("pulumi preview --stack \"$stack\" --refresh --expect-no-changes --json --policy-pack policy");
  });

  it("Azure DevOps: a scheduled pipeline does the same", () => {
    const drift = load(".azure-pipelines/drift.yml");
    expect(drift.trigger).toBe("none");
    expect(drift.pr).toBe("none");
    expect((drift.schedules as Obj[])[0]).toMatchObject({ branches: { include: ["main"] }, always: true });
    const job = (drift.jobs as Obj[])[0];
    expect(((job.strategy as Obj).matrix as Obj)).toEqual({ platform_dev: { STACK: "platform-dev" }, platform_prod: { STACK: "platform-prod" }, dev: { STACK: "dev" }, prod: { STACK: "prod" } });
    expect(groupsOf(job)).toEqual(["dcs-platform-read"]);
    expect(adoSteps({ command: "drift" }).map(shellOf).join("\n")).toMatch(/preview-change\.sh drift "\$STACK" >"\$summary"[\s\S]*uploadsummary/);
  });

  it("every pulumi up refreshes first", () => {
    const ups = pipelineCommands([...WORKFLOWS, ...ADO]).map((f) => f.command).filter((c) => c.startsWith("pulumi up --stack"));
    expect(ups.length).toBeGreaterThanOrEqual(2);
    for (const up of ups) expect(up).toContain("--refresh");
  });
});

describe("issue 10: PR comments with the job token; outputs in the summary (item 11)", () => {
  it("Azure DevOps: the Pulumi task that comments on the pull request gets SYSTEM_ACCESSTOKEN", () => {
    const commenting = adoSteps({ command: "preview" }).filter((s) => s.task === "Pulumi@1" && (s.inputs as Obj).createPrComment);
    expect(commenting).toHaveLength(1);
    expect(commenting[0].env).toEqual({ SYSTEM_ACCESSTOKEN: "$(System.AccessToken)" });
  });

  it("both systems put the stack's outputs in the job summary after every deployment", () => {
    const gh = steps(jobsOf(".github/workflows/deploy-stack.yml").up).map(shellOf);
    expect(gh).toContain('bash scripts/ci/outputs-summary.sh "$STACK" | tee -a "$GITHUB_STEP_SUMMARY"');
    const ado = adoSteps({ command: "up" }).map(shellOf).join("\n");
    expect(ado).toMatch(/outputs-summary\.sh "\$STACK" \| tee "\$summary"\necho "##vso\[task\.uploadsummary\]\$summary"/);
  });
});

// ---------------------------------------------------------------------------
// Issue 12: two kinds of stack, each deployed by its own pipelines.

/** The committed stacks (Pulumi.<stack>.yaml in Git: temporary stack files of other tests do not count). */
function committedStacks(): string[] {
  const r = spawnSync("git", ["ls-files", "Pulumi.*.yaml"], { cwd: ROOT, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n").filter((f) => /^Pulumi\.[\w-]+\.yaml$/.test(f) && fs.existsSync(path.join(ROOT, f))).map((f) => f.slice("Pulumi.".length, -".yaml".length));
}
const stackConfig = (stack: string) => (load(`Pulumi.${stack}.yaml`).config ?? {}) as Obj;
/** A platform stack (dcs:kind: platform), a team stack (it names one in dcs:platform.stack), or a stack on its own. */
function stackKind(stack: string): "platform" | "team" | "alone" {
  const config = stackConfig(stack);
  if (config["dcs:kind"] === "platform") return "platform";
  return isObj(config["dcs:platform"]) && typeof config["dcs:platform"].stack === "string" ? "team" : "alone";
}
/** The platform stack a team stack names: the last path segment of dcs:platform.stack. */
const platformOf = (stack: string) => String((stackConfig(stack)["dcs:platform"] as Obj).stack).split("/").at(-1)!;

/** What a GitHub workflow deploys: for each job calling deploy-stack.yml, its stack and environment, in job order. */
const ghDeploys = (file: string) =>
  Object.entries(jobsOf(file))
    .filter(([, job]) => job.uses === "./.github/workflows/deploy-stack.yml")
    .map(([name, job]) => ({ name, job, stack: String((job.with as Obj).stack), environment: String((job.with as Obj).environment) }));
/** What an Azure DevOps pipeline deploys: each deployment job, its stack (variable STACK), environment, group and service connection. */
const adoDeploys = (file: string) => {
  const doc = load(file);
  const connections = Object.fromEntries(((doc.variables ?? []) as Obj[]).filter((v) => isObj(v) && v.name).map((v) => [String(v.name), String(v.value)]));
  return ((doc.stages ?? []) as Obj[]).flatMap((stage) =>
    ((stage.jobs ?? []) as Obj[])
      .filter((job) => job.deployment)
      .map((job) => {
        let connection = "";
        walkStrings(job, (v, keys) => {
          const m = /^\$\{\{ variables\.(\w+) \}\}$/.exec(v);
          if (keys.at(-1) === "azureConnection" && m) connection = m[1];
        });
        return {
          stage: String(stage.stage),
          dependsOn: (stage.dependsOn ?? []) as string[],
          stack: String((((job.variables ?? []) as Obj[]).find((v) => v.name === "STACK") ?? {}).value),
          environment: String(job.environment),
          groups: groupsOf(job),
          connection: connections[connection] ?? "",
        };
      }),
  );
};
/** The stacks a matrix lists, in order: GitHub `stack: [...]`, Azure DevOps `<key>: { STACK }`. */
function matrixStacks(job: Obj): string[] {
  const matrix = (job.strategy as Obj).matrix as Obj;
  return Array.isArray(matrix.stack) ? (matrix.stack as string[]) : Object.values(matrix).map((v) => String((v as Obj).STACK));
}
const adoJob = (file: string, name: string) => {
  const doc = load(file);
  const jobs = ((doc.stages as Obj[] | undefined) ?? [{ jobs: doc.jobs }]).flatMap((st) => st.jobs as Obj[]);
  return jobs.find((j) => j.job === name)!;
};
const PLATFORM_PIPELINES = { github: ".github/workflows/platform.yml", ado: ".azure-pipelines/platform.yml" };
const TEAM_PIPELINES = { github: ".github/workflows/deploy.yml", ado: "azure-pipelines.yml" };

describe("issue 12: platform stacks and team stacks, each deployed by its own pipelines", () => {
  it("the committed stacks are two platform stacks and two team stacks, each team stack naming a committed platform stack and no workspace of its own", () => {
    const stacks = committedStacks();
    expect(stacks.filter((st) => stackKind(st) === "platform").sort()).toEqual(["platform-dev", "platform-prod"]);
    expect(stacks.filter((st) => stackKind(st) === "team").sort()).toEqual(["dev", "prod"]);
    expect(stacks.filter((st) => stackKind(st) === "alone")).toEqual([]);
    for (const team of ["dev", "prod"]) {
      expect(platformOf(team)).toBe(`platform-${team}`);
      expect(stackConfig(team), `${team} names no workspace: its platform stack does`).not.toHaveProperty("dcs:workspace");
      expect((stackConfig(team)["dcs:containerServices"] as Obj | undefined)?.manage, `${team} never manages the switch`).not.toBe(true);
    }
    for (const platform of ["platform-dev", "platform-prod"]) expect(stackConfig(platform)).toMatchObject({ "dcs:containerServices": { manage: true } });
  });

  it("the platform pipelines deploy only platform stacks, each in an environment of its own holding that workspace's admin identity", () => {
    const gh = ghDeploys(PLATFORM_PIPELINES.github);
    expect(gh.map((d) => d.stack)).toEqual(["platform-dev", "platform-prod"]);
    for (const d of gh) {
      expect(stackKind(d.stack), d.stack).toBe("platform");
      expect(d.environment, d.stack).toBe(`platform-admin-${d.stack.replace(/^platform-/, "")}`);
      expect((d.job.with as Obj).image, `${d.stack} has no image`).toBe(false);
    }
    const ado = adoDeploys(PLATFORM_PIPELINES.ado);
    expect(ado.map((d) => d.stack)).toEqual(["platform-dev", "platform-prod"]);
    for (const d of ado) {
      expect(stackKind(d.stack), d.stack).toBe("platform");
      const admin = `dcs-platform-admin-${d.stack.replace(/^platform-/, "")}`;
      expect([d.environment, d.connection, ...d.groups], d.stack).toEqual([admin, admin, admin]);
    }
    expect(JSON.stringify(load(PLATFORM_PIPELINES.ado)), "no image: no registry, build or cluster check").not.toContain('"image":true');
  });

  it("the team pipelines deploy only team stacks; no other pipeline deploys anything", () => {
    const gh = ghDeploys(TEAM_PIPELINES.github);
    expect(gh.map((d) => d.stack)).toEqual(["dev", "prod"]);
    for (const d of gh) expect(stackKind(d.stack), d.stack).toBe("team");
    const ado = adoDeploys(TEAM_PIPELINES.ado);
    expect(ado.map((d) => d.stack)).toEqual(["dev", "prod"]);
    for (const d of ado) expect(stackKind(d.stack), d.stack).toBe("team");
    for (const file of WORKFLOWS.filter((f) => ![PLATFORM_PIPELINES.github, TEAM_PIPELINES.github].includes(f))) expect(ghDeploys(file), file).toEqual([]);
    for (const file of ADO.filter((f) => ![PLATFORM_PIPELINES.ado, TEAM_PIPELINES.ado, ".azure-pipelines/pulumi-steps.yml"].includes(f))) expect(adoDeploys(file), file).toEqual([]);
    // Every committed stack is deployed, by the pipelines of its kind, on both systems.
    const deployed = [...ghDeploys(PLATFORM_PIPELINES.github), ...gh].map((d) => d.stack).sort();
    expect(deployed).toEqual(committedStacks().sort());
    expect([...adoDeploys(PLATFORM_PIPELINES.ado), ...ado].map((d) => d.stack).sort()).toEqual(deployed);
  });

  it("no team deploy job holds a workspace-admin identity: the platform admins' environments, service connections and variable groups appear only in the platform pipelines", () => {
    const ghAdmin = ghDeploys(PLATFORM_PIPELINES.github).map((d) => d.environment);
    const adoAdmin = adoDeploys(PLATFORM_PIPELINES.ado).flatMap((d) => [d.environment, d.connection, ...d.groups]);
    expect(ghAdmin.length).toBe(2);
    for (const d of ghDeploys(TEAM_PIPELINES.github)) {
      expect(d.environment, d.stack).toBe(d.stack);
      expect(ghAdmin, d.stack).not.toContain(d.environment);
    }
    for (const file of WORKFLOWS.filter((f) => f !== PLATFORM_PIPELINES.github)) {
      for (const env of ghAdmin) expect(read(file), `${file} names ${env}`).not.toContain(env);
    }
    for (const d of adoDeploys(TEAM_PIPELINES.ado)) {
      for (const credential of [d.environment, d.connection, ...d.groups]) expect(credential, d.stack).not.toMatch(/admin/);
    }
    for (const file of ADO.filter((f) => f !== PLATFORM_PIPELINES.ado)) {
      for (const name of adoAdmin) expect(read(file), `${file} names ${name}`).not.toContain(name);
    }
    // The identity table says so too.
    const docs = read("docs/gitops.md");
    const rows = docs.split("\n").filter((l) => l.startsWith("| "));
    for (const team of ["deploy (dev)", "deploy (prod)"]) expect(rows.find((r) => r.startsWith(`| ${team} |`)), team).toMatch(/not a workspace admin/);
    for (const ws of ["dev", "prod"]) expect(rows.find((r) => r.startsWith(`| platform admin (platform-${ws}) |`)), ws).toMatch(new RegExp(`workspace admin of the ${ws} workspace, and of no other`));
  });

  it("platform before team wherever both appear: renderings, previews and drift checks list each platform stack before its team stacks; the platform stacks deploy platform-dev then platform-prod", () => {
    const lists: [string, string[]][] = [
      ["GitHub render", matrixStacks(jobsOf(".github/workflows/pull-request.yml").render)],
      ["GitHub preview", matrixStacks(jobsOf(".github/workflows/pull-request.yml").preview)],
      ["GitHub drift", matrixStacks(jobsOf(".github/workflows/drift.yml").drift)],
      ["Azure DevOps render", matrixStacks(adoJob("azure-pipelines.yml", "render"))],
      ["Azure DevOps preview", matrixStacks(adoJob("azure-pipelines.yml", "preview"))],
      ["Azure DevOps drift", matrixStacks(adoJob(".azure-pipelines/drift.yml", "drift"))],
    ];
    for (const [what, stacks] of lists) {
      expect([...stacks].sort(), `${what} covers every stack`).toEqual(committedStacks().sort());
      const lastPlatform = Math.max(...stacks.map((st, i) => (stackKind(st) === "platform" ? i : -1)));
      const firstTeam = Math.min(...stacks.map((st, i) => (stackKind(st) === "team" ? i : Infinity)));
      expect(lastPlatform, `${what}: ${stacks.join(", ")}`).toBeLessThan(firstTeam);
      for (const team of stacks.filter((st) => stackKind(st) === "team")) expect(stacks.indexOf(platformOf(team)), `${what}: ${platformOf(team)} before ${team}`).toBeLessThan(stacks.indexOf(team));
    }
    // Azure DevOps matrix keys are identifiers (letters, digits, underscores), not stack names.
    for (const job of [adoJob("azure-pipelines.yml", "render"), adoJob("azure-pipelines.yml", "preview"), adoJob(".azure-pipelines/drift.yml", "drift")]) {
      for (const key of Object.keys((job.strategy as Obj).matrix as Obj)) expect(key).toMatch(/^[A-Za-z]\w*$/);
    }
    // Within the platform pipelines, the dev workspace's stack first, as in the team pipelines.
    expect(jobsOf(PLATFORM_PIPELINES.github)["platform-prod"].needs).toEqual(["platform-dev"]);
    const ado = adoDeploys(PLATFORM_PIPELINES.ado);
    expect(ado[1].dependsOn).toEqual([ado[0].stage]);
    // The images built in pull requests are the team stacks': platform stacks have none.
    expect(matrixStacks(jobsOf(".github/workflows/pull-request.yml")["smoke-build"]).every((st) => stackKind(st) === "team")).toBe(true);
    expect(matrixStacks(adoJob("azure-pipelines.yml", "smoke_build")).every((st) => stackKind(st) === "team")).toBe(true);
  });

  it("the platform pipelines run when a platform stack file changes, on both systems; docs/gitops.md gives the order of first deployment", () => {
    const platforms = committedStacks().filter((st) => stackKind(st) === "platform");
    const ghPaths = ((load(PLATFORM_PIPELINES.github).on as Obj).push as Obj).paths as string[];
    const adoPaths = (((load(PLATFORM_PIPELINES.ado).trigger as Obj).paths as Obj).include) as string[];
    for (const platform of platforms) {
      expect(ghPaths, platform).toContain(`Pulumi.${platform}.yaml`);
      expect(adoPaths, platform).toContain(`Pulumi.${platform}.yaml`);
    }
    for (const paths of [ghPaths, adoPaths]) expect(paths.some((p) => /^Pulumi\.(dev|prod)\.yaml$/.test(p)), "a team stack file does not start the platform pipeline").toBe(false);
    const docs = read("docs/gitops.md");
    expect(docs).toMatch(/`platform-dev` before `dev`, `platform-prod` before `prod`/);
    const firstDeployments = docs.slice(docs.indexOf("### 4. The first deployments"), docs.indexOf("\n## ", docs.indexOf("### 4. The first deployments")));
    expect(firstDeployments.indexOf("Platform admins")).toBeGreaterThan(-1);
    expect(firstDeployments.indexOf("Platform admins")).toBeLessThan(firstDeployments.indexOf("The team, without workspace-admin rights"));
    expect(docs).toContain("## Two kinds of stack");
  });
});

// ---------------------------------------------------------------------------
// Issue 13, item 5: the smoke job after every team-stack deployment.

const SMOKE = 'bash scripts/ci/run-smoke-job.sh "$STACK"';

describe("issue 13: the smoke job runs after every team-stack deployment, on both systems, never for a platform stack", () => {
  /** The deployment's steps from the cluster check on, as the scripts they run (mints of a fresh token left out). */
  const after = (shells: string[]) => {
    const from = shells.findIndex((sh) => /^bash scripts\/ci\/check-clusters\.sh verify /.test(sh));
    expect(from).toBeGreaterThan(-1);
    return shells
      .slice(from)
      .filter((sh) => sh && sh !== 'bash scripts/ci/databricks-auth.sh "$STACK"')
      .map((sh) => /scripts\/ci\/[\w-]+\.sh(?: verify)?/.exec(sh)?.[0] ?? sh);
  };
  const ORDER = ["scripts/ci/check-clusters.sh verify", "scripts/ci/run-smoke-job.sh", "scripts/ci/cache-image.sh", "scripts/ci/outputs-summary.sh"];

  it("GitHub: deploy-stack.yml runs it right after the cluster check, for stacks with an image, with the passphrase and nothing else", () => {
    const all = steps(jobsOf(".github/workflows/deploy-stack.yml").up);
    expect(after(all.map(shellOf))).toEqual(ORDER);
    const smoke = all.filter((st) => shellOf(st).includes("run-smoke-job.sh"));
    expect(smoke).toHaveLength(1);
    expect(shellOf(smoke[0])).toBe(SMOKE);
    expect(smoke[0].if).toBe("inputs.image");
    expect(smoke[0].env).toEqual({ PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" });
    // The Databricks CLI it uses is installed for the same deployments.
    expect(all.find((st) => actionOf(st) === "databricks/setup-cli")!.if).toBe("inputs.image");
    // image defaults to true: the team stacks' jobs (deploy.yml) leave it so, the platform stacks' (platform.yml) turn it off.
    const input = (((load(".github/workflows/deploy-stack.yml").on as Obj).workflow_call as Obj).inputs as Obj).image as Obj;
    expect(input.default).toBe(true);
    for (const d of ghDeploys(TEAM_PIPELINES.github)) {
      expect(stackKind(d.stack), d.stack).toBe("team");
      expect((d.job.with as Obj).image, `${d.stack} runs the smoke job`).toBeUndefined();
    }
    for (const d of ghDeploys(PLATFORM_PIPELINES.github)) expect((d.job.with as Obj).image, `${d.stack} never runs it`).toBe(false);
  });

  it("Azure DevOps: pulumi-steps.yml runs it right after the cluster check with a fresh Databricks token, only in deployments with an image", () => {
    for (const approvedChange of [false, true]) {
      const all = adoSteps({ command: "up", image: true, approvedChange });
      expect(after(all.map(shellOf))).toEqual(ORDER);
      const i = all.findIndex((st) => shellOf(st) === SMOKE);
      expect(i).toBeGreaterThan(-1);
      expect(all.filter((st) => shellOf(st).includes("run-smoke-job.sh"))).toHaveLength(1);
      // The step right before mints the token it uses; the cluster check comes right before that.
      expect(all[i - 1].task).toBe("AzureCLI@2");
      expect(shellOf(all[i - 1])).toBe('bash scripts/ci/databricks-auth.sh "$STACK"');
      expect(shellOf(all[i - 2])).toMatch(/^bash scripts\/ci\/check-clusters\.sh verify /);
      expect(all[i].env).toEqual({
        PULUMI_ACCESS_TOKEN: "$(PULUMI_ACCESS_TOKEN)",
        PULUMI_CONFIG_PASSPHRASE: "$(PULUMI_CONFIG_PASSPHRASE)",
        AZURE_STORAGE_SAS_TOKEN: "$(AZURE_STORAGE_SAS_TOKEN)",
        DATABRICKS_TOKEN: "$(DATABRICKS_TOKEN)",
      });
    }
    // No image (a platform stack), or no deployment: no smoke job.
    for (const params of [{ command: "up", image: false }, { command: "preview", image: true }, { command: "record", image: true }, { command: "drift", image: true }]) {
      expect(adoSteps(params).map(shellOf).join("\n"), JSON.stringify(params)).not.toContain("run-smoke-job.sh");
    }
    // The team pipeline deploys dev and prod with an image; the platform pipeline never passes one.
    const stagesWithImage = (file: string) => {
      const found: string[] = [];
      for (const stage of (load(file).stages ?? []) as Obj[]) {
        if (JSON.stringify(stage).includes('"command":"up"') && JSON.stringify(stage).includes('"image":true')) found.push(String(stage.stage));
      }
      return found;
    };
    expect(stagesWithImage(TEAM_PIPELINES.ado)).toEqual(["deploy_dev", "deploy_prod"]);
    for (const d of adoDeploys(TEAM_PIPELINES.ado)) expect(stackKind(d.stack), d.stack).toBe("team");
    expect(stagesWithImage(PLATFORM_PIPELINES.ado)).toEqual([]);
    for (const d of adoDeploys(PLATFORM_PIPELINES.ado)) expect(stackKind(d.stack), d.stack).toBe("platform");
  });

  it("both systems: the same place in the same order, the default job smoke; docs/gitops.md lists it and says what it does", () => {
    const gh = after(steps(jobsOf(".github/workflows/deploy-stack.yml").up).map(shellOf));
    const ado = after(adoSteps({ command: "up", image: true, approvedChange: true }).map(shellOf));
    expect(gh).toEqual(ado);
    const runs = pipelineCommands([...WORKFLOWS, ...ADO]).filter((f) => f.command.includes("run-smoke-job.sh"));
    expect(new Set(runs.map((f) => f.command))).toEqual(new Set([SMOKE]));
    expect(new Set(runs.map((f) => f.file))).toEqual(new Set([".github/workflows/deploy-stack.yml", ".azure-pipelines/pulumi-steps.yml"]));
    const listed = fencedCommands(pipelineSection());
    const verify = listed.indexOf("bash scripts/ci/check-clusters.sh verify <stack> <file>");
    expect(listed[verify + 1]).toBe("bash scripts/ci/run-smoke-job.sh <stack>");
    const docs = read("docs/gitops.md");
    const deployment = docs.slice(docs.indexOf("### What a deployment runs"), docs.indexOf("### A broken Dockerfile"));
    for (const fact of ["run-smoke-job.sh <stack>", "pulumi stack output jobs --json --stack <stack>", "databricks jobs run-now <job id> --no-wait -o json", "databricks jobs get-run <run id> -o json", "databricks jobs get-run-output <task run id> -o json", "databricks jobs cancel-run <run id> --no-wait", "DCS_SMOKE_TIMEOUT", "`30m`", "DCS_SMOKE_INTERVAL_SECONDS", "DCS_SMOKE_LOG_LINES"]) {
      expect(deployment, fact).toContain(fact);
    }
    expect(deployment).toMatch(/runs steps 1, 6 and 10\./);
    // The script's defaults are the documented ones.
    const script = read("scripts/ci/run-smoke-job.sh");
    expect(script).toContain('job="${2:-smoke}"');
    expect(script).toContain('"${DCS_SMOKE_TIMEOUT:-30m}"');
    expect(script).toContain('"${DCS_SMOKE_INTERVAL_SECONDS:-30}"');
    expect(script).toContain('"${DCS_SMOKE_LOG_LINES:-40}"');
  });
});

describe("YAML, shell and the devcontainer", () => {
  const need = (tool: string) => {
    const r = spawnSync(tool, ["--version"], { encoding: "utf8" });
    expect(r.error, `${tool} must be installed (.ci/run installs it)`).toBeUndefined();
  };

  it("yamllint passes on every YAML file of the repository", () => {
    need("yamllint");
    const r = spawnSync("yamllint", ["--strict", "-c", ".yamllint.yaml", "."], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("shellcheck passes on the pipeline scripts and on every inline shell block of the pipelines", () => {
    need("shellcheck");
    const files = [...SCRIPTS, ...list(".devcontainer", /\.sh$/)].map((f) => path.join(ROOT, f));
    const r = spawnSync("shellcheck", ["-x", ...files], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout, "shellcheck scripts").toBe("");
    for (const file of [...WORKFLOWS, ...ADO]) {
      for (const step of steps(variants(file))) {
        const shell = shellOf(step);
        if (!shell) continue;
        // Azure DevOps macros are expanded before bash runs: stand in a variable for them.
        const text = `#!/usr/bin/env bash\n${shell.replace(/\$\(([\w.]+)\)/g, (_, n: string) => `\${ADO_${n.replace(/\W/g, "_")}}`)}\n`;
        const c = spawnSync("shellcheck", ["-s", "bash", "-e", "SC2154", "-"], { input: text, encoding: "utf8" });
        expect(c.stdout, `${file}: ${shell}`).toBe("");
      }
    }
  });

  it("the devcontainer gives Node of .nvmrc, the pinned Pulumi CLI, the Azure CLI and Docker, then runs npm ci", () => {
    const dc = JSON.parse(read(".devcontainer/devcontainer.json")) as Obj;
    const dockerfile = read(`.devcontainer/${String((dc.build as Obj).dockerfile)}`);
    expect(dockerfile).toMatch(/python3-distributed python3-numpy shellcheck yamllint/);
    expect((dc.build as Obj).context ?? ".", "the build context is .devcontainer, where pulumi-version is").toBe(".");
    expect(Object.keys(dc.features as Obj)).toEqual(expect.arrayContaining([expect.stringMatching(/^ghcr\.io\/devcontainers\/features\/azure-cli:\d+$/), expect.stringMatching(/^ghcr\.io\/devcontainers\/features\/docker-in-docker:\d+$/)]));
    expect(dc.postCreateCommand).toBe("npm ci");
  });
});

// ---------------------------------------------------------------------------
// The scripts, against fake commands that record how they were called.

const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-ci-scripts-"));
afterAll(() => fs.rmSync(sandbox, { recursive: true, force: true }));

/** A fake command on PATH: appends its arguments and stdin to a log, answers by its first arguments. */
function fake(dir: string, name: string, answers: Record<string, string> = {}, fails: string[] = []): string {
  const log = path.join(dir, `${name}.log`);
  const cases = Object.entries(answers).map(([args, out]) => `  "${args}"*) printf '%s\\n' '${out}' ;;`).join("\n");
  const failing = fails.map((args) => `  "${args}"*) exit 1 ;;`).join("\n");
  const body = `#!/usr/bin/env bash
printf 'ARGS %s\\n' "$*" >>'${log}'
if [[ ! -t 0 ]]; then printf 'STDIN %s\\n' "$(cat)" >>'${log}'; fi
case "$*" in
${failing}
${cases}
  *) ;;
esac
`;
  fs.writeFileSync(path.join(dir, name), body, { mode: 0o755 });
  return log;
}

/** Runs a script with only PATH, HOME and the given variables: no CI variables leak in from the machine. */
function runScript(script: string, args: string[], env: Record<string, string>, bin: string): SpawnSyncReturns<string> {
  return spawnSync("bash", [script, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    input: "",
    env: { PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: sandbox, ...env },
  });
}
const logOf = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
const binDir = () => fs.mkdtempSync(path.join(sandbox, "bin-"));
const githubEnv = () => {
  const file = path.join(fs.mkdtempSync(path.join(sandbox, "gh-")), "env");
  fs.writeFileSync(file, "");
  return { file, env: { GITHUB_ACTIONS: "true", GITHUB_ENV: file } };
};

describe("scripts/ci", () => {
  it("stack-secrets.sh encrypts the pipeline's secrets into the stack through stdin, never argv, and prints none", () => {
    const bin = binDir();
    const log = fake(bin, "pulumi");
    const r = runScript("scripts/ci/stack-secrets.sh", ["dev"], { DCS_PULL_CLIENT_SECRET: "s3cr3t-pull", DCS_PUSH_CLIENT_SECRET: "$(DCS_PUSH_CLIENT_SECRET)" }, bin);
    expect(r.status, r.stderr).toBe(0);
    expect(logOf(log)).toBe("ARGS config set --secret --stack dev dcs:pullClientSecret\nSTDIN s3cr3t-pull\n");
    expect(r.stdout + r.stderr).not.toContain("s3cr3t");
    expect(r.stdout).toContain("dcs:pullClientSecret set from DCS_PULL_CLIENT_SECRET");
    const none = runScript("scripts/ci/stack-secrets.sh", ["dev"], {}, binDir());
    expect(none.status).toBe(0);
    expect(none.stdout).toBe("");
    const prod = binDir();
    const prodLog = fake(prod, "pulumi");
    expect(runScript("scripts/ci/stack-secrets.sh", ["prod"], { DCS_PUSH_CLIENT_SECRET: "s3cr3t-push" }, prod).status).toBe(0);
    expect(logOf(prodLog)).toBe("ARGS config set --secret --stack prod dcs:pushClientSecret\nSTDIN s3cr3t-push\n");
    expect(runScript("scripts/ci/stack-secrets.sh", ["prod", "--deploy"], {}, binDir()).status).toBe(2);
  });

  it("stack-secrets.sh --preview never takes the push secret: a placeholder for a servicePrincipal stack, nothing for the others", () => {
    const bin = binDir();
    const log = fake(bin, "pulumi");
    const env = { DCS_PULL_CLIENT_SECRET: "s3cr3t-pull", DCS_PUSH_CLIENT_SECRET: "s3cr3t-push" };
    const r = runScript("scripts/ci/stack-secrets.sh", ["prod", "--preview"], env, bin);
    expect(r.status, r.stderr).toBe(0);
    expect(logOf(log)).toBe(
      "ARGS config set --secret --stack prod dcs:pullClientSecret\nSTDIN s3cr3t-pull\nARGS config set --secret --stack prod dcs:pushClientSecret\nSTDIN preview-placeholder-not-a-credential\n",
    );
    expect(logOf(log)).not.toContain("s3cr3t-push");
    const devBin = binDir();
    const devLog = fake(devBin, "pulumi");
    expect(runScript("scripts/ci/stack-secrets.sh", ["dev", "--preview"], env, devBin).status).toBe(0);
    expect(logOf(devLog)).toBe("ARGS config set --secret --stack dev dcs:pullClientSecret\nSTDIN s3cr3t-pull\n");
  });

  it("stack-secrets.sh sets nothing for a platform stack, whose configuration refuses both secrets, even where the job holds them", () => {
    for (const args of [["platform-dev"], ["platform-prod", "--preview"]]) {
      const bin = binDir();
      const log = fake(bin, "pulumi");
      const r = runScript("scripts/ci/stack-secrets.sh", args, { DCS_PULL_CLIENT_SECRET: "s3cr3t-pull", DCS_PUSH_CLIENT_SECRET: "s3cr3t-push" }, bin);
      expect(r.status, r.stderr).toBe(0);
      expect(logOf(log), args.join(" ")).toBe("");
      expect(r.stdout).toBe(`stack-secrets: ${args[0]} is a platform stack (dcs:kind: platform), which takes no secrets; nothing to set\n`);
    }
  });

  it("state-login.sh: the workspace's container ({platform}), a read-only SAS for read, a writing one for write, only as a secret", () => {
    for (const [access, permissions] of [["read", "rl"], ["write", "racwdl"]] as const) {
      const bin = binDir();
      const log = fake(bin, "az", { "storage container generate-sas": "sv=2024&sig=abc" });
      const gh = githubEnv();
      const r = runScript("scripts/ci/state-login.sh", ["prod", access], { ...gh.env, PULUMI_BACKEND_URL: "azblob://pulumi-{platform}?storage_account=dcsstate" }, bin);
      expect(r.status, r.stderr).toBe(0);
      expect(logOf(log)).toMatch(new RegExp(`ARGS storage container generate-sas --account-name dcsstate --name pulumi-platform-prod --permissions ${permissions} --expiry \\S+ --auth-mode login --as-user --https-only --output tsv`));
      const written = fs.readFileSync(gh.file, "utf8").split("\n");
      expect(written).toContain("PULUMI_BACKEND_URL=azblob://pulumi-platform-prod?storage_account=dcsstate");
      expect(written).toContain("AZURE_STORAGE_ACCOUNT=dcsstate");
      expect(written).toContain("AZURE_STORAGE_SAS_TOKEN=sv=2024&sig=abc");
      // Masked before it is written, and printed nowhere else.
      expect(r.stdout.split("\n").filter((l) => l.includes("sv=2024&sig=abc"))).toEqual(["::add-mask::sv=2024&sig=abc"]);
    }
    const ado = binDir();
    fake(ado, "az", { "storage container generate-sas": "sv=ado" });
    const adoRun = runScript("scripts/ci/state-login.sh", ["dev", "read"], { TF_BUILD: "True", PULUMI_BACKEND_URL: "azblob://pulumi-{platform}?storage_account=dcsstate" }, ado);
    expect(adoRun.stdout.split("\n")).toEqual(
      expect.arrayContaining(["##vso[task.setvariable variable=PULUMI_BACKEND_URL]azblob://pulumi-platform-dev?storage_account=dcsstate", "##vso[task.setvariable variable=AZURE_STORAGE_SAS_TOKEN;issecret=true]sv=ado"]),
    );
    // A platform stack's container is its own name's: the one its team stacks share.
    const platformRun = runScript("scripts/ci/state-login.sh", ["platform-dev", "write"], { TF_BUILD: "True", PULUMI_BACKEND_URL: "azblob://pulumi-{platform}?storage_account=dcsstate" }, ado);
    expect(platformRun.stdout.split("\n")).toContain("##vso[task.setvariable variable=PULUMI_BACKEND_URL]azblob://pulumi-platform-dev?storage_account=dcsstate");
    // Pulumi Cloud: nothing to mint; the URL is Pulumi Cloud's when none is set.
    const cloud = binDir();
    const cloudLog = fake(cloud, "az");
    const gh = githubEnv();
    expect(runScript("scripts/ci/state-login.sh", ["dev", "write"], { ...gh.env }, cloud).status).toBe(0);
    expect(logOf(cloudLog)).toBe("");
    expect(fs.readFileSync(gh.file, "utf8")).toBe("PULUMI_BACKEND_URL=https://api.pulumi.com\n");
    expect(runScript("scripts/ci/state-login.sh", ["dev", "admin"], {}, cloud).status).toBe(2);
  });

  it("state-login.sh refuses a self-managed backend that puts a team stack apart from its platform stack (its StackReference could not read it)", () => {
    for (const stack of ["dev", "prod"]) {
      const bin = binDir();
      const log = fake(bin, "az", { "storage container generate-sas": "sv=2024&sig=abc" });
      const gh = githubEnv();
      const r = runScript("scripts/ci/state-login.sh", [stack, "read"], { ...gh.env, PULUMI_BACKEND_URL: "azblob://pulumi-{stack}?storage_account=dcsstate" }, bin);
      expect(r.status, stack).toBe(1);
      expect(r.stderr).toContain(
        `stack ${stack} reads platform stack organization/dcs-platform/platform-${stack} through a StackReference, which a self-managed backend resolves only within itself, but PULUMI_BACKEND_URL puts them in two (azblob://pulumi-${stack}?storage_account=dcsstate, azblob://pulumi-platform-${stack}?storage_account=dcsstate): use {platform} instead of {stack}`,
      );
      expect(logOf(log), "no credential is minted").toBe("");
      expect(fs.readFileSync(gh.file, "utf8")).toBe("");
    }
    // {stack} still suits a stack that reads no platform stack; one container for all suits every stack.
    for (const [stack, url] of [["platform-prod", "azblob://pulumi-{stack}?storage_account=dcsstate"], ["dev", "azblob://dcs-state?storage_account=dcsstate"]]) {
      const bin = binDir();
      fake(bin, "az", { "storage container generate-sas": "sv=2024&sig=abc" });
      expect(runScript("scripts/ci/state-login.sh", [stack, "read"], { ...githubEnv().env, PULUMI_BACKEND_URL: url }, bin).status, `${stack} ${url}`).toBe(0);
    }
  });

  it("databricks-auth.sh: GitHub hands Databricks the SDK's own OIDC exchange (github-oidc-azure), no token minted; Azure DevOps a fresh Entra token as a secret", () => {
    const bin = binDir();
    const log = fake(bin, "az", { "resource show": "adb-42.1.azuredatabricks.net", "account get-access-token": "entra-token-123" });
    const gh = githubEnv();
    const oidc = { ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.example/", ARM_CLIENT_ID: "client", ARM_TENANT_ID: "tenant" };
    // prod has no dcs:workspace: the workspace is platform-prod's, named by its resource id.
    const r = runScript("scripts/ci/databricks-auth.sh", ["prod"], { ...gh.env, ...oidc }, bin);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(gh.file, "utf8")).toBe("DATABRICKS_HOST=https://adb-42.1.azuredatabricks.net\nDATABRICKS_AUTH_TYPE=github-oidc-azure\n");
    expect(logOf(log)).toContain("ARGS resource show --ids /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-databricks-prod/providers/Microsoft.Databricks/workspaces/dbw-hydrology-prod");
    expect(logOf(log)).not.toContain("get-access-token");
    expect(r.stdout).toContain("databricks-auth: workspace https://adb-42.1.azuredatabricks.net (of platform stack organization/dcs-platform/platform-prod of stack prod)");
    // The platform stack itself: the same workspace, from its own dcs:workspace.
    const platformGh = githubEnv();
    const platform = runScript("scripts/ci/databricks-auth.sh", ["platform-prod"], { ...platformGh.env, ...oidc }, bin);
    expect(platform.status, platform.stderr).toBe(0);
    expect(fs.readFileSync(platformGh.file, "utf8")).toBe("DATABRICKS_HOST=https://adb-42.1.azuredatabricks.net\nDATABRICKS_AUTH_TYPE=github-oidc-azure\n");
    expect(platform.stdout).toContain("(of stack platform-prod)");
    // Without the job's OIDC token the GitHub path fails instead of falling back to the CLI session.
    expect(runScript("scripts/ci/databricks-auth.sh", ["dev"], { ...githubEnv().env }, bin).status).toBe(1);
    const ado = binDir();
    const adoLog = fake(ado, "az", { "account get-access-token": "entra-token-123" });
    const a = runScript("scripts/ci/databricks-auth.sh", ["dev"], { TF_BUILD: "True" }, ado);
    expect(a.status, a.stderr).toBe(0);
    const lines = a.stdout.split("\n");
    // dev's workspace is platform-dev's URL: nothing to ask Azure.
    expect(lines).toContain("##vso[task.setvariable variable=DATABRICKS_HOST]https://adb-1234567890123456.7.azuredatabricks.net");
    expect(lines).toContain("##vso[task.setvariable variable=DATABRICKS_AUTH_TYPE]pat");
    expect(lines).toContain("##vso[task.setvariable variable=DATABRICKS_TOKEN;issecret=true]entra-token-123");
    expect(lines.filter((l) => l.includes("entra-token-123")).every((l) => l.includes("issecret=true"))).toBe(true);
    expect(logOf(adoLog).split("\n").filter((l) => l.startsWith("ARGS"))).toEqual(["ARGS account get-access-token --resource 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d --query accessToken --output tsv"]);
  });

  it("tool-versions.sh hands Azure DevOps the versions of .nvmrc and .devcontainer/pulumi-version", () => {
    const r = runScript("scripts/ci/tool-versions.sh", [], { TF_BUILD: "True" }, binDir());
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split("\n")).toEqual(
      expect.arrayContaining([`##vso[task.setvariable variable=NODE_VERSION]${nvmrc()}`, `##vso[task.setvariable variable=PULUMI_VERSION]${pulumiVersion()}`]),
    );
  });
});
