/**
 * The scripts in scripts/ci the pipelines share, against fake `pulumi` and
 * `az` commands that record how they were called: stack-secrets.sh,
 * state-login.sh, databricks-auth.sh, tool-versions.sh here; the deployment
 * scripts and lib.sh's stack_workspace in test/ci-*.test.ts.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nvmrc, pulumiVersion } from "./helpers/pipelines";
import { ROOT } from "./helpers/record";

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
