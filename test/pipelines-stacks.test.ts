/**
 * The two kinds of stack in the pipelines, read from the pipeline files and
 * the committed stack files:
 * - issue 12: the platform pipelines deploy only platform stacks
 *   (dcs:kind: platform) with the workspace-admin identities, the team
 *   pipelines only team stacks (dcs:platform.stack) without them, platform
 *   before team wherever both appear: describe block "issue 12: ...";
 * - issue 13's smoke job: both CI systems run scripts/ci/run-smoke-job.sh
 *   right after the cluster check of every team-stack deployment, never for a
 *   platform stack: describe block "issue 13: ...".
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  type Obj, isObj, read, load, WORKFLOWS, ADO, steps, shellOf, pipelineCommands, fencedCommands, pipelineSection, walkStrings, jobsOf, actionOf,
  adoSteps, groupsOf,
} from "./helpers/pipelines";
import { ROOT } from "./helpers/record";

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
