/**
 * Issue 10, item by item, read from the pipeline files themselves: least
 * privilege (previews never hold deploy credentials, deployments run only for
 * main, each workspace's state its own), Databricks authentication that
 * survives a long up, pinned actions and runtimes, Dependabot, no shared cache
 * in privileged jobs, the exact change that deploys, a broken Dockerfile
 * failing the pull request, the base image imported once, drift detection,
 * PR comments and outputs in the summary: one describe block "issue 10: ..."
 * per item.
 */
import { describe, expect, it } from "vitest";
import {
  type Obj, read, load, WORKFLOWS, ADO, expandTemplate, variants, steps, shellOf, pulumiStepCommand, pipelineCommands, jobsOf, usesLogin, allJobs,
  hasIdToken, actionOf, withOf, adoSteps, adoStages, adoStage, groupsOf, nvmrc, pulumiVersion,
} from "./helpers/pipelines";

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
