/**
 * The pipeline files: they parse, they run exactly the commands the docs
 * document (both read from the files), they never print a secret, the
 * pull-request path needs none, and deployments are ordered, gated and
 * serialized as described in docs/gitops.md.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "./helpers/record";

type Obj = Record<string, unknown>;
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");
const load = (rel: string) => parse(read(rel)) as Obj;
const WORKFLOWS = fs.readdirSync(path.join(ROOT, ".github", "workflows")).map((f) => `.github/workflows/${f}`);
const ADO = ["azure-pipelines.yml", ".azure-pipelines/deploy-steps.yml"];
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Every step of a parsed pipeline document, wherever it is nested. */
function steps(doc: unknown, out: Obj[] = []): Obj[] {
  if (Array.isArray(doc)) doc.forEach((d) => steps(d, out));
  else if (isObj(doc)) {
    if (Array.isArray(doc.steps)) for (const s of doc.steps) if (isObj(s)) out.push(s);
    Object.values(doc).forEach((v) => steps(v, out));
  }
  return out;
}

/** Shell text a step runs (GitHub `run`, DevOps `script`, AzureCLI `inlineScript`). */
function shellOf(step: Obj): string {
  const inputs = isObj(step.inputs) ? step.inputs : {};
  return [step.run, step.script, inputs.inlineScript].filter((x): x is string => typeof x === "string").join("\n");
}

const TOOLS = /^(npm|pulumi|docker|bash|az)\b/;

/** The commands in shell text: segments between separators that start with a tool we document. */
export function commandsIn(shell: string): string[] {
  const out: string[] = [];
  for (const raw of shell.split("\n")) {
    // Azure DevOps macros $(NAME) are values, not subshells.
    const line = raw.replace(/(^|\s)#.*$/, "").replace(/\$\(([\w.]+)\)/g, "$$$1").trim();
    for (let seg of line.split(/\s*(?:&&|\|\||[|;()]|\bthen\b|\bdo\b)\s*/)) {
      seg = seg.replace(/\s+\d?>>?\s*\S+/g, "").replace(/\s+2>&1/g, "").trim();
      if (TOOLS.test(seg)) out.push(seg);
    }
  }
  return out;
}

/** Pulumi task steps (Azure DevOps) as the command they run. */
function pulumiTaskCommands(step: Obj): string[] {
  if (step.task !== "Pulumi@1" || !isObj(step.inputs)) return [];
  const i = step.inputs;
  return [`pulumi ${String(i.command)} --stack ${String(i.stack)} ${String(i.args ?? "")}`.trim()];
}

function pipelineCommands(): { file: string; command: string }[] {
  const all: { file: string; command: string }[] = [];
  for (const file of [...WORKFLOWS, ...ADO]) {
    for (const step of steps(load(file))) {
      for (const command of [...commandsIn(shellOf(step)), ...pulumiTaskCommands(step)]) all.push({ file, command });
    }
  }
  return all;
}

function documentedCommands(): string[] {
  const out: string[] = [];
  for (const doc of ["README.md", "docs/gitops.md"]) {
    for (const block of read(doc).matchAll(/```(?:bash|sh)\n([\s\S]*?)```/g)) out.push(...commandsIn(block[1]));
  }
  return out;
}

const tokens = (c: string) => c.match(/<[^>]*>\S*|"[^"]*"|\S+/g) ?? [];
const placeholder = (t: string) => t.includes("<") || t.includes("$");
/** A pipeline command matches a documented one token by token; placeholders match anything. */
export function matches(pipeline: string, documented: string): boolean {
  const [a, b] = [tokens(pipeline), tokens(documented)];
  return a.length === b.length && a.every((t, i) => t === b[i] || placeholder(t) || placeholder(b[i]));
}

describe("pipeline files", () => {
  it("parse as YAML, and every action is pinned to a version", () => {
    for (const file of [...WORKFLOWS, ...ADO]) expect(load(file), file).toBeTypeOf("object");
    for (const file of WORKFLOWS) {
      for (const step of steps(load(file))) if (typeof step.uses === "string") expect(step.uses, file).toMatch(/@v\d+$/);
    }
  });

  it("run only commands the README and docs/gitops.md document", () => {
    const documented = documentedCommands();
    const found = pipelineCommands();
    expect(found.length).toBeGreaterThan(10);
    const undocumented = found.filter(({ command }) => !documented.some((d) => matches(command, d)));
    expect(undocumented).toEqual([]);
    for (const needed of ["npm ci", "npm test", "pulumi login"]) expect(found.map((f) => f.command)).toContain(needed);
  });

  it("the matcher is strict about what differs", () => {
    expect(matches('pulumi up --stack "$STACK" --yes --policy-pack policy', "pulumi up --stack <stack> --yes --policy-pack policy")).toBe(true);
    expect(matches("pulumi up --stack dev --yes", "pulumi up --stack <stack> --yes --policy-pack policy")).toBe(false);
    expect(matches("npm run lint", "npm test")).toBe(false);
    expect(commandsIn('if [ -n "$r" ]; then az acr login --name "$r" || echo no; fi')).toEqual(['az acr login --name "$r"']);
  });

  it("never print a secret: secrets reach steps only through env or inputs", () => {
    const secretNames = ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "GH_TOKEN"];
    for (const file of [...WORKFLOWS, ...ADO]) {
      for (const step of steps(load(file))) {
        const shell = shellOf(step);
        expect(shell, file).not.toMatch(/secrets\./);
        for (const name of secretNames) expect(shell, `${file}: ${name}`).not.toMatch(new RegExp(`(echo|printf|cat)[^\\n]*\\$\\{?${name}`));
        expect(shell, file).not.toMatch(/set -x|--debug/);
      }
      expect(read(file), file).not.toMatch(/client-secret|AZURE_CLIENT_SECRET|ARM_CLIENT_SECRET/);
    }
  });
});

describe("GitHub Actions", () => {
  const pr = load(".github/workflows/pull-request.yml");
  const prJobs = pr.jobs as Record<string, Obj>;

  it("on pull requests: tests, then renders dev and prod and posts the diff, with no secret at all", () => {
    expect(Object.keys(pr.on as Obj)).toEqual(["pull_request"]);
    for (const job of ["test", "render"]) expect(JSON.stringify(prJobs[job])).not.toMatch(/secrets\.|id-token/);
    expect((prJobs.render.strategy as Obj).matrix).toEqual({ stack: ["dev", "prod"] });
    expect(JSON.stringify(prJobs.render)).toMatch(/render-diff\.sh.*GITHUB_STEP_SUMMARY/);
    expect(pr.permissions).toEqual({ contents: "read" });
  });

  it("previews with the policy pack only where credentials exist, never for forks", () => {
    const preview = prJobs.preview;
    expect(String(preview.if)).toContain("github.event.pull_request.head.repo.full_name == github.repository");
    expect(preview.needs).toEqual(["test", "render"]);
    expect(preview.permissions).toMatchObject({ "id-token": "write", "pull-requests": "write" });
    expect(steps(preview).map(shellOf).join("\n")).toMatch(/pulumi preview --stack "\$STACK" --diff --policy-pack policy/);
    expect(steps(preview).map(shellOf).join("\n")).toMatch(/gh pr comment/);
  });

  it("on main: deploys dev, then prod behind the prod environment", () => {
    const deploy = load(".github/workflows/deploy.yml");
    expect((deploy.on as Obj).push).toEqual({ branches: ["main"] });
    const jobs = deploy.jobs as Record<string, Obj>;
    expect(jobs.dev.with).toEqual({ stack: "dev", environment: "dev" });
    expect(jobs.prod.with).toEqual({ stack: "prod", environment: "prod" });
    expect(jobs.prod.needs).toBe("dev");
  });

  it("serializes each stack's deployments, logs in by OIDC, and smoke-tests the image before pulumi up", () => {
    const stack = load(".github/workflows/deploy-stack.yml");
    const up = (stack.jobs as Record<string, Obj>).up;
    expect(up.concurrency).toEqual({ group: "pulumi-${{ inputs.stack }}", "cancel-in-progress": false });
    expect(up.environment).toBe("${{ inputs.environment }}");
    expect(stack.permissions).toMatchObject({ "id-token": "write" });
    expect((up.env as Obj).ARM_USE_OIDC).toBe("true");
    const order = steps(up).map((s) => `${shellOf(s)} ${String(s.uses ?? "")}`);
    const at = (re: RegExp) => order.findIndex((s) => re.test(s));
    const text = order.join("\n");
    expect(text.indexOf("bash infra/smoke-test.sh")).toBeGreaterThan(text.indexOf("docker build --platform linux/amd64"));
    expect(at(/azure\/login/)).toBeGreaterThan(at(/smoke-test\.sh/));
    expect(at(/pulumi up/)).toBeGreaterThan(at(/azure\/login/));
  });
});

describe("Azure DevOps", () => {
  const ado = load("azure-pipelines.yml");
  const stages = ado.stages as Obj[];

  it("has the same stages: pull request, deploy dev, deploy prod behind its approval environment", () => {
    expect(stages.map((s) => s.stage)).toEqual(["pull_request", "deploy_dev", "deploy_prod"]);
    expect(String(stages[0].condition)).toContain("PullRequest");
    const prod = stages[2];
    expect(prod.dependsOn).toBe("deploy_dev");
    expect(((prod.jobs as Obj[])[0] as Obj).environment).toBe("dcs-prod");
    expect(((stages[1].jobs as Obj[])[0] as Obj).environment).toBe("dcs-dev");
  });

  it("previews and deploys with the Pulumi task and the policy pack; the render job needs no secret", () => {
    const tasks = [...steps(ado), ...steps(load(".azure-pipelines/deploy-steps.yml"))].filter((s) => s.task === "Pulumi@1");
    expect(tasks.map((t) => (t.inputs as Obj).command).sort()).toEqual(["preview", "up"]);
    for (const t of tasks) expect(String((t.inputs as Obj).args)).toContain("--policy-pack policy");
    const render = ((stages[0].jobs as Obj[]).find((j) => j.job === "render") ?? {}) as Obj;
    expect(JSON.stringify(render)).not.toMatch(/ACCESS_TOKEN|PASSPHRASE|azureSubscription/);
  });
});

describe("YAML hygiene", () => {
  it("yamllint passes on every YAML file of the repository", () => {
    const r = spawnSync("yamllint", ["--strict", "-c", ".yamllint.yaml", "."], { cwd: ROOT });
    expect(r.error, "yamllint must be installed (.ci/run installs it)").toBeUndefined();
    expect(r.stdout.toString()).toBe("");
    expect(r.status).toBe(0);
  });

  it("the devcontainer gives Node 20, the Azure CLI, Docker and the Pulumi CLI in one step", () => {
    const dc = JSON.parse(read(".devcontainer/devcontainer.json"));
    expect(dc.image).toMatch(/typescript-node:.*20/);
    expect(Object.keys(dc.features)).toEqual(expect.arrayContaining([expect.stringMatching(/azure-cli/), expect.stringMatching(/docker-in-docker/)]));
    expect(read(".devcontainer/post-create.sh")).toMatch(/get\.pulumi\.com/);
    expect(spawnSync("shellcheck", [path.join(ROOT, ".devcontainer/post-create.sh"), path.join(ROOT, "scripts/ci/render-diff.sh")]).status).toBe(0);
  });
});
