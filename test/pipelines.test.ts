/**
 * The pipelines (GitHub Actions, Azure DevOps) as files:
 * - every pipeline file parses and pins its actions; yamllint passes on every
 *   YAML file, shellcheck on every script and every inline shell block; the
 *   devcontainer gives the tools the pipelines use;
 * - the pipelines run only commands README.md or docs/gitops.md document, and
 *   scripts and build contexts that exist; docs/gitops.md lists only commands
 *   the pipelines run (both read from the files); both CI systems run the
 *   same ones;
 * - secrets reach steps only by name (env:, with:, a reusable workflow's
 *   secrets:), are never printed or expanded into a shell script, and are set
 *   for later steps only as secrets (masked first on GitHub); the images' own
 *   pull secrets go wherever the pull secret goes; no Azure client secret.
 * The rest of the pipelines' tests, by concept: test/pipelines-deploy.test.ts
 * (the pull-request path, the deployments), test/pipelines-issue10.test.ts,
 * test/pipelines-stacks.test.ts (issues 12 and 13) and
 * test/pipelines-scripts.test.ts (the scripts in scripts/ci); the readers they
 * share are in test/helpers/pipelines.ts.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  type Obj, read, load, list, WORKFLOWS, ADO, SCRIPTS, ADO_ONLY_SCRIPT, expandTemplate, variants, steps, shellOf, commandsIn, pulumiStepCommand,
  pipelineCommands, fencedCommands, documentedCommands, pipelineSection, tokens, matches, walkStrings, jobsOf, actionOf,
} from "./helpers/pipelines";
import { ROOT } from "./helpers/record";

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
