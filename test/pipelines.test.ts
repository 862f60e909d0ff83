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
 *   build-and-smoke-test-before-push order and the registry and cluster steps
 *   around `pulumi up` are as docs/gitops.md describes, the same on both systems;
 * - the scripts in scripts/ci behave, against fake `pulumi` and `az` commands
 *   (registry-login.sh, smoke-build.sh and check-clusters.sh: test/ci-scripts.test.ts).
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
const ADO_ONLY_SCRIPT = "scripts/ci/azure-devops-env.sh";

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
    return [
      `pulumi ${String(w.command)} --stack ${String(w["stack-name"])}`,
      w.command === "up" ? "--yes" : "", // the action never prompts
      w.diff === true || w.diff === "true" ? "--diff" : "",
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

// ---------------------------------------------------------------------------

describe("pipeline files", () => {
  it("exist and parse: GitHub workflows, Azure DevOps pipelines and templates", () => {
    expect(WORKFLOWS).toEqual(expect.arrayContaining([".github/workflows/pull-request.yml", ".github/workflows/deploy.yml", ".github/workflows/deploy-stack.yml", ".github/workflows/platform-admin.yml"]));
    expect(ADO).toEqual(expect.arrayContaining(["azure-pipelines.yml", ".azure-pipelines/pulumi-steps.yml", ".azure-pipelines/platform-admin.yml"]));
    for (const file of [...WORKFLOWS, ...ADO]) {
      expect(load(file), file).toBeTypeOf("object");
      const callsOnly = Object.values(jobsOf(file)).length > 0 && Object.values(jobsOf(file)).every((j) => typeof j.uses === "string");
      if (!callsOnly) expect(steps(variants(file)).length, `${file} has steps`).toBeGreaterThan(0);
    }
  });

  it("pin every action to a major version (or a commit), never to a branch", () => {
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

  it("both CI systems run the same documented commands (Azure DevOps adds its credential hand-off)", () => {
    const listed = fencedCommands(pipelineSection());
    const used = (files: string[]) => new Set(pipelineCommands(files).flatMap(({ command }) => listed.filter((d) => matches(command, d))));
    const github = used(WORKFLOWS);
    const ado = used(ADO);
    const adoOnly = [...ado].filter((c) => !github.has(c));
    expect(adoOnly).toEqual([`bash ${ADO_ONLY_SCRIPT} <stack>`]);
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

  it("set for later Azure DevOps steps only as secret variables", () => {
    for (const file of SCRIPTS) {
      const text = read(file);
      expect(text, file).not.toMatch(/set_var\s+\w*(TOKEN|SECRET|PASSPHRASE|PASSWORD)/);
      for (const m of text.matchAll(/##vso\[task\.setvariable variable=([^;\]]+)([^\]]*)\]/g)) {
        if (SECRETISH.test(m[1])) expect(m[2], `${file}: ${m[1]}`).toContain("issecret=true");
      }
    }
  });

  it("do not include an Azure client secret: OIDC and workload identity federation only", () => {
    for (const file of [...WORKFLOWS, ...ADO, ...SCRIPTS]) expect(read(file), file).not.toMatch(/client-secret|AZURE_CLIENT_SECRET|ARM_CLIENT_SECRET|servicePrincipalKey|\bcreds:/);
    for (const file of WORKFLOWS) {
      for (const step of steps(load(file)).filter((s) => String(s.uses ?? "").startsWith("azure/login@"))) {
        expect(Object.keys(step.with as Obj).sort(), file).toEqual(["client-id", "subscription-id", "tenant-id"]);
        for (const v of Object.values(step.with as Obj)) expect(String(v), file).toMatch(/^\$\{\{ vars\.AZURE_\w+ \}\}$/);
      }
    }
  });
});

describe("the pull-request path needs no secret", () => {
  const pr = load(".github/workflows/pull-request.yml");
  const jobs = jobsOf(".github/workflows/pull-request.yml");
  const offline = Object.entries(jobs).filter(([, job]) => steps(job).some((s) => /npm test|render-diff\.sh/.test(shellOf(s))));

  it("GitHub: only pull_request triggers it (never pull_request_target), with read-only contents", () => {
    expect(Object.keys(pr.on as Obj)).toEqual(["pull_request"]);
    expect((pr.on as Obj).pull_request).toEqual({ branches: ["main"] });
    expect(pr.permissions).toEqual({ contents: "read" });
    for (const file of WORKFLOWS) expect(Object.keys((load(file).on ?? {}) as Obj), file).not.toContain("pull_request_target");
  });

  it("GitHub: the jobs that test and render reference no secret and get no OIDC token", () => {
    expect(offline.map(([name]) => name).sort()).toEqual(["render", "test"]);
    for (const [name, job] of offline) {
      expect(JSON.stringify(job), name).not.toMatch(/secrets\.|id-token|vars\./);
      expect(job.permissions, name).toBeUndefined();
    }
    const render = jobs.render;
    expect((render.strategy as Obj).matrix).toEqual({ stack: ["dev", "prod", "admin"] });
    const renderShell = steps(render).map(shellOf).join("\n");
    expect(renderShell).toMatch(/render-diff\.sh "\$STACK" "\$BASE_SHA" "out\/\$STACK" \| tee -a "\$GITHUB_STEP_SUMMARY"/);
    expect(steps(render).some((s) => (s.with as Obj | undefined)?.["fetch-depth"] === 0), "full history: the base revision is in the clone").toBe(true);
  });

  it("GitHub: the preview runs only where the credentials job finds credentials (never for forks)", () => {
    const { credentials, preview } = jobs;
    expect(preview.needs).toEqual(["test", "render", "credentials"]);
    expect(preview.if).toBe("needs.credentials.outputs.available == 'true'");
    const env = steps(credentials)[0].env as Obj;
    expect(env.SAME_REPOSITORY).toBe("${{ github.event.pull_request.head.repo.full_name == github.repository }}");
    expect(env.HAS_PULUMI_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN != '' }}");
    expect(shellOf(steps(credentials)[0])).toMatch(/SAME_REPOSITORY" == true/);
    expect((preview.strategy as Obj).matrix).toEqual({ stack: ["dev", "prod"] });
    const action = steps(preview).find((s) => pulumiStepCommand(s))!;
    expect(action.with).toMatchObject({ command: "preview", "comment-on-pr": true, diff: true, policyPacks: "policy" });
  });

  it("Azure DevOps: the render job maps no secret and uses no service connection; forks skip the preview", () => {
    const stages = load("azure-pipelines.yml").stages as Obj[];
    const prStage = stages.find((s) => s.stage === "pull_request")!;
    expect(String(prStage.condition)).toBe("eq(variables['Build.Reason'], 'PullRequest')");
    const jobs = prStage.jobs as Obj[];
    for (const name of ["test", "render"]) {
      const job = jobs.find((j) => j.job === name)!;
      expect(JSON.stringify(job), name).not.toMatch(/TOKEN|PASSPHRASE|SECRET|azureSubscription|template/);
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
  it("GitHub: pushes to main deploy dev, then prod behind the prod environment; the admin stack behind platform-admin", () => {
    const deploy = load(".github/workflows/deploy.yml");
    expect(Object.keys(deploy.on as Obj).sort()).toEqual(["push", "workflow_dispatch"]);
    expect(((deploy.on as Obj).push as Obj).branches).toEqual(["main"]);
    const jobs = jobsOf(".github/workflows/deploy.yml");
    expect(jobs.dev.with).toEqual({ stack: "dev", environment: "dev" });
    expect(jobs.prod.with).toEqual({ stack: "prod", environment: "prod" });
    expect(jobs.prod.needs).toBe("dev");
    const admin = load(".github/workflows/platform-admin.yml");
    expect((admin.on as Obj).push).toEqual({ branches: ["main"], paths: ["Pulumi.admin.yaml"] });
    const adminJob = Object.values(jobsOf(".github/workflows/platform-admin.yml"))[0];
    expect(adminJob.with).toMatchObject({ environment: "platform-admin", image: false });
    const choices = ((((admin.on as Obj).workflow_dispatch as Obj).inputs as Obj).stack as Obj).options as string[];
    for (const stack of choices) expect(load(`Pulumi.${stack}.yaml`).config, `${stack} is container-services-only`).toMatchObject({ "dcs:containerServices": { manage: true, only: true } });
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

  it("GitHub: least privilege; an OIDC token only for the jobs that log in to Azure", () => {
    for (const file of WORKFLOWS) {
      const wf = load(file);
      expect(wf.permissions, `${file}: workflow-level permissions`).toEqual({ contents: "read" });
      for (const [name, job] of Object.entries(jobsOf(file))) {
        const perms = (job.permissions ?? {}) as Obj;
        if (usesLogin(job)) {
          expect(perms["id-token"], `${file}/${name}`).toBe("write");
          expect((job.env as Obj).ARM_USE_OIDC, `${file}/${name}`).toBe("true");
          expect((job.env as Obj).ARM_CLIENT_ID, `${file}/${name}`).toBe("${{ vars.AZURE_CLIENT_ID }}");
        } else if (job.uses === "./.github/workflows/deploy-stack.yml") {
          expect(perms, `${file}/${name} grants the reusable workflow what it asks`).toEqual({ contents: "read", "id-token": "write" });
        } else {
          expect(perms["id-token"], `${file}/${name}`).toBeUndefined();
        }
        const writes = Object.entries(perms).filter(([, v]) => v === "write").map(([k]) => k).sort();
        expect(writes.filter((k) => k !== "id-token"), `${file}/${name}`).toEqual(name === "preview" ? ["pull-requests"] : []);
      }
    }
  });

  it("GitHub: image built and smoke-tested before any login; registry ready and clusters recorded before pulumi up, checked after it", () => {
    const up = jobsOf(".github/workflows/deploy-stack.yml").up;
    const all = steps(up);
    const order = all.map((s) => `${shellOf(s)} ${String(s.uses ?? "")} ${pulumiStepCommand(s) ?? ""}`);
    const at = (re: RegExp) => {
      const i = order.findIndex((s) => re.test(s));
      expect(i, String(re)).toBeGreaterThan(-1);
      return i;
    };
    const sequence = [
      /^bash scripts\/ci\/smoke-build\.sh "\$STACK"/,
      /databricks\/setup-cli@/,
      /azure\/login@/,
      /stack-secrets\.sh "\$STACK"/,
      /^bash scripts\/ci\/registry-login\.sh "\$STACK"/,
      /^bash scripts\/ci\/check-clusters\.sh snapshot "\$STACK" "\$RUNNER_TEMP\/clusters-\$STACK\.tsv"/,
      /pulumi up --stack/,
      /^bash scripts\/ci\/check-clusters\.sh verify "\$STACK" "\$RUNNER_TEMP\/clusters-\$STACK\.tsv"/,
    ].map(at);
    expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    expect(at(/pulumi\/actions@v7 $/), "the Pulumi CLI is installed before the first pulumi command").toBeLessThan(at(/stack-secrets\.sh/));
    // Only stacks with an image build it, log in to a registry and have clusters to check.
    for (const re of [/smoke-build\.sh/, /setup-cli@/, /registry-login\.sh/, /check-clusters\.sh/]) expect(all[at(re)].if, String(re)).toBe("inputs.image");
    // The bootstrap (a targeted pulumi up) and the checks read the state: they get what the main up gets.
    for (const re of [/registry-login\.sh/, /check-clusters\.sh snapshot/, /check-clusters\.sh verify/]) {
      expect(all[at(re)].env, String(re)).toEqual({ PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}", PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" });
    }
  });

  it("build the image only through smoke-build.sh (the program's build arguments), never with a docker build of their own", () => {
    const found = pipelineCommands([...WORKFLOWS, ...ADO]).map((f) => f.command);
    expect(found.filter((c) => c.startsWith("docker "))).toEqual([]);
    expect(found.filter((c) => /smoke-test\.sh/.test(c))).toEqual([]);
    expect(found).toContain('bash scripts/ci/smoke-build.sh "$STACK"');
  });

  it("install the same pinned Databricks CLI on both systems", () => {
    const action = steps(load(".github/workflows/deploy-stack.yml")).find((s) => String(s.uses ?? "").startsWith("databricks/setup-cli@"));
    const version = /@v(\d+\.\d+\.\d+)$/.exec(String(action?.uses))?.[1];
    expect(version, "the action is pinned to a release").toBeDefined();
    const ado = steps(expandTemplate(load(".azure-pipelines/pulumi-steps.yml"), { command: "up", image: true, azureConnection: "c" })).map(shellOf).join("\n");
    expect(ado).toContain(`curl -fsSL https://raw.githubusercontent.com/databricks/setup-cli/v${version}/install.sh | sudo sh`);
    expect(read("docs/gitops.md")).toContain(`v${version}`);
  });

  it("Azure DevOps: PR stage, dev on main, prod behind dcs-prod's approval; sequential locks; compile-time service connections", () => {
    const ado = load("azure-pipelines.yml");
    expect((ado.trigger as Obj).branches).toEqual({ include: ["main"] });
    expect((ado.pr as Obj).branches).toEqual({ include: ["main"] });
    expect(ado.lockBehavior).toBe("sequential");
    const stages = ado.stages as Obj[];
    expect(stages.map((s) => s.stage)).toEqual(["pull_request", "deploy_dev", "deploy_prod"]);
    const [, dev, prod] = stages;
    for (const stage of [dev, prod]) expect(String(stage.condition)).toContain("eq(variables['Build.SourceBranch'], 'refs/heads/main')");
    expect(prod.dependsOn).toBe("deploy_dev");
    expect(String(prod.condition)).toMatch(/^and\(succeeded\(\)/);
    expect(((dev.jobs as Obj[])[0] as Obj).environment).toBe("dcs-dev");
    expect(((prod.jobs as Obj[])[0] as Obj).environment).toBe("dcs-prod");
    for (const stage of [dev, prod]) expect(((stage.jobs as Obj[])[0] as Obj).deployment).toBeDefined();
    const admin = load(".azure-pipelines/platform-admin.yml");
    expect(admin.pr).toBe("none");
    expect(admin.lockBehavior).toBe("sequential");
    expect(JSON.stringify(admin.stages)).toContain('"environment":"dcs-platform-admin"');
    for (const file of ADO) {
      walkStrings(load(file), (s, keys) => {
        if (keys.at(-1) === "azureSubscription") expect(s, `${file}: service connections resolve at compile time`).toMatch(/^\$\{\{ parameters\.\w+ \}\}$/);
      });
    }
    expect(read("docs/gitops.md")).toMatch(/Approvals\*\* check/);
  });

  it("Azure DevOps: the Pulumi task previews and deploys with the policy pack, in the same order as GitHub", () => {
    const [preview, up] = ["preview", "up"].map((command) => expandTemplate(load(".azure-pipelines/pulumi-steps.yml"), { command, image: command === "up", azureConnection: "c" }));
    for (const [doc, command] of [[preview, "preview"], [up, "up"]] as const) {
      const all = steps(doc);
      const runs = all.map(pulumiStepCommand).filter(Boolean);
      expect(runs).toEqual([`pulumi ${command} --stack $(STACK) ${command === "up" ? "--yes " : ""}--diff --policy-pack policy`]);
      const order = all.map((s) => `${shellOf(s)} ${String(s.task ?? "")} ${pulumiStepCommand(s) ?? ""}`);
      const at = (re: RegExp) => order.findIndex((s) => re.test(s));
      expect(at(/stack-secrets\.sh/)).toBeGreaterThan(at(/azure-devops-env\.sh/));
      expect(at(/pulumi (preview|up) --stack/)).toBeGreaterThan(at(/stack-secrets\.sh/));
      if (command === "preview") {
        for (const re of [/smoke-build\.sh/, /registry-login\.sh/, /check-clusters\.sh/, /setup-cli/]) expect(at(re), `preview runs no ${re}`).toBe(-1);
        continue;
      }
      const sequence = [
        /^bash scripts\/ci\/smoke-build\.sh "\$STACK"/,
        /setup-cli\/v[\d.]+\/install\.sh \| sudo sh/,
        /azure-devops-env\.sh/,
        /stack-secrets\.sh/,
        /^bash scripts\/ci\/registry-login\.sh "\$STACK" AzureCLI@2/,
        /^bash scripts\/ci\/check-clusters\.sh snapshot "\$STACK" "\$AGENT_TEMPDIRECTORY\/clusters-\$STACK\.tsv"/,
        /pulumi up --stack/,
        /^bash scripts\/ci\/check-clusters\.sh verify "\$STACK" "\$AGENT_TEMPDIRECTORY\/clusters-\$STACK\.tsv"/,
      ].map(at);
      for (const i of sequence) expect(i).toBeGreaterThan(-1);
      expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
      expect(at(/AzureCLI@2/), "nothing logs in before the image is built and smoke-tested").toBeGreaterThan(at(/smoke-build\.sh/));
      // Secret variables reach scripts only through env: the targeted up and the checks get the state's and Databricks' credentials.
      for (const re of [/registry-login\.sh/, /check-clusters\.sh snapshot/, /check-clusters\.sh verify/]) {
        expect(all[at(re)].env, String(re)).toEqual({
          PULUMI_ACCESS_TOKEN: "$(PULUMI_ACCESS_TOKEN)",
          PULUMI_CONFIG_PASSPHRASE: "$(PULUMI_CONFIG_PASSPHRASE)",
          AZURE_STORAGE_SAS_TOKEN: "$(AZURE_STORAGE_SAS_TOKEN)",
          DATABRICKS_TOKEN: "$(DATABRICKS_TOKEN)",
        });
      }
    }
    // An image stack's preview (never used today) would still not touch its clusters.
    const previewWithImage = steps(expandTemplate(load(".azure-pipelines/pulumi-steps.yml"), { command: "preview", image: true, azureConnection: "c" })).map(shellOf).join("\n");
    expect(previewWithImage).not.toMatch(/check-clusters\.sh|setup-cli/);
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

  it("the devcontainer gives Node 20, the Pulumi CLI, the Azure CLI and Docker, then runs npm ci", () => {
    const dc = JSON.parse(read(".devcontainer/devcontainer.json")) as Obj;
    const dockerfile = read(`.devcontainer/${String((dc.build as Obj).dockerfile)}`);
    expect(dockerfile).toMatch(/^FROM mcr\.microsoft\.com\/devcontainers\/typescript-node:\S*-20-/m);
    expect(dockerfile).toMatch(/get\.pulumi\.com\/releases\/sdk\/pulumi-v\$\{PULUMI_VERSION\}-linux-/);
    expect(dockerfile).toMatch(/python3-distributed python3-numpy shellcheck yamllint/);
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

function runScript(script: string, args: string[], env: Record<string, string>, bin: string): SpawnSyncReturns<string> {
  return spawnSync("bash", [script, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    input: "",
    env: { PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: sandbox, ...env },
  });
}
const logOf = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");

describe("scripts/ci", () => {
  it("stack-secrets.sh encrypts the pipeline's secrets into the stack through stdin, never argv, and prints none", () => {
    const bin = fs.mkdtempSync(path.join(sandbox, "bin-"));
    const log = fake(bin, "pulumi");
    const r = runScript("scripts/ci/stack-secrets.sh", ["dev"], { DCS_PULL_CLIENT_SECRET: "s3cr3t-pull", DCS_PUSH_CLIENT_SECRET: "$(DCS_PUSH_CLIENT_SECRET)" }, bin);
    expect(r.status, r.stderr).toBe(0);
    expect(logOf(log)).toBe("ARGS config set --secret --stack dev dcs:pullClientSecret\nSTDIN s3cr3t-pull\n");
    expect(r.stdout + r.stderr).not.toContain("s3cr3t");
    expect(r.stdout).toContain("dcs:pullClientSecret set from DCS_PULL_CLIENT_SECRET");
    const none = runScript("scripts/ci/stack-secrets.sh", ["prod"], {}, fs.mkdtempSync(path.join(sandbox, "bin-")));
    expect(none.status).toBe(0);
    expect(none.stdout).toBe("");
  });

  it("azure-devops-env.sh hands on a Databricks token and a state SAS only as secret variables", () => {
    const bin = fs.mkdtempSync(path.join(sandbox, "bin-"));
    const log = fake(bin, "az", {
      "resource show": "adb-42.1.azuredatabricks.net",
      "account get-access-token": "entra-token-123",
      "storage container generate-sas": "sv=2024&sig=abc",
    });
    const r = runScript("scripts/ci/azure-devops-env.sh", ["prod"], { TF_BUILD: "True", PULUMI_BACKEND_URL: "azblob://state?storage_account=dcsstate" }, bin);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines).toContain("##vso[task.setvariable variable=DATABRICKS_HOST]https://adb-42.1.azuredatabricks.net");
    expect(lines).toContain("##vso[task.setvariable variable=DATABRICKS_AUTH_TYPE]pat");
    expect(lines).toContain("##vso[task.setvariable variable=DATABRICKS_TOKEN;issecret=true]entra-token-123");
    expect(lines).toContain("##vso[task.setvariable variable=AZURE_STORAGE_ACCOUNT]dcsstate");
    expect(lines).toContain("##vso[task.setvariable variable=AZURE_STORAGE_SAS_TOKEN;issecret=true]sv=2024&sig=abc");
    for (const secret of ["entra-token-123", "sv=2024&sig=abc"]) expect(lines.filter((l) => l.includes(secret)).every((l) => l.includes("issecret=true"))).toBe(true);
    const calls = logOf(log);
    expect(calls).toContain("ARGS resource show --ids /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-databricks-prod/providers/Microsoft.Databricks/workspaces/dbw-hydrology-prod");
    expect(calls).toContain("ARGS account get-access-token --resource 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d");
    expect(calls).toMatch(/ARGS storage container generate-sas --account-name dcsstate --name state .*--auth-mode login --as-user/);
    // A stack named by URL needs no lookup; Pulumi Cloud needs no SAS.
    const devBin = fs.mkdtempSync(path.join(sandbox, "bin-"));
    const devLog = fake(devBin, "az", { "account get-access-token": "t" });
    const dev = runScript("scripts/ci/azure-devops-env.sh", ["dev"], { PULUMI_BACKEND_URL: "https://api.pulumi.com" }, devBin);
    expect(dev.status, dev.stderr).toBe(0);
    expect(dev.stdout).toContain("variable=DATABRICKS_HOST]https://adb-1234567890123456.7.azuredatabricks.net");
    expect(logOf(devLog)).not.toMatch(/resource show|generate-sas/);
  });
});
