/**
 * The pull-request path and the deployments, on both CI systems (GitHub
 * Actions, Azure DevOps), read from the pipeline files:
 * - the pull-request path needs no secret (and really runs without any:
 *   render-diff.sh with nothing but PATH); the preview runs only where a
 *   preview identity is available, never for forks nor Dependabot;
 * - triggers, concurrency, environment protection, OIDC permissions, the
 *   order of the steps around `pulumi up` are as docs/gitops.md describes, the
 *   same on both systems; the image is built only through smoke-build.sh; the
 *   same pinned Databricks CLI on both.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  type Obj, read, load, WORKFLOWS, ADO, steps, shellOf, pulumiStepCommand, pipelineCommands, walkStrings, jobsOf, usesLogin, allJobs, actionOf, withOf,
  adoSteps, adoStages, adoStage,
} from "./helpers/pipelines";
import { ROOT } from "./helpers/record";

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
