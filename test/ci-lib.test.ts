/**
 * The functions of scripts/ci/lib.sh, called in bash with the stand-in
 * commands of test/helpers/ci-standins.ts on PATH:
 *
 * - stack_workspace and backend_url: a team stack's workspace and state
 *   backend are its platform stack's (dcs:platform.stack), from the platform
 *   stack's file in the repository, or from its deployed outputs when it is
 *   kept elsewhere; databricks-auth.sh and check-clusters.sh stop before
 *   Databricks when no workspace is named;
 * - stack_images and registry_host: what import-base.sh, smoke-build.sh and
 *   cache-image.sh start from.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { calls } from "./helpers/ci-fakes";
import { ciSandbox, type Obj } from "./helpers/ci-standins";
import { ROOT } from "./helpers/record";

const { sandbox, fakes, runScript, renderedFile, tmpStack } = ciSandbox("dcs-ci-lib-");

// Where a stack's workspace and state are (issue 12). A team stack names its
// platform stack in dcs:platform.stack and has no dcs:workspace.

/** Runs a function of scripts/ci/lib.sh in bash, with the fakes on PATH. */
function libCall(fn: string, args: string[], dir: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync("bash", ["-c", `set -euo pipefail; source scripts/ci/lib.sh; ${fn} "$@"`, "lib", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    input: "",
    env: { PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: sandbox, FAKE_DIR: dir, ...env },
    timeout: 60_000,
  });
}
/** dcs:workspace of a stack file, read here independently of lib.sh. */
const workspaceOfFile = (stack: string) => (((parseYaml(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as Obj).config ?? {}) as Obj)["dcs:workspace"] as Obj;
const PLATFORM_BLOCK = /  dcs:platform:\n    stack: [^\n]*\n/;

describe("lib.sh stack_workspace: a team stack runs in its platform stack's workspace", () => {
  it("the committed stacks: dev and prod take platform-dev's URL and platform-prod's resource id from those stack files, asking neither Pulumi nor Azure", () => {
    const dir = fakes();
    const expected = {
      "platform-dev": `url ${String(workspaceOfFile("platform-dev").url)}`,
      dev: `url ${String(workspaceOfFile("platform-dev").url)}`,
      "platform-prod": `resourceId ${String(workspaceOfFile("platform-prod").resourceId)}`,
      prod: `resourceId ${String(workspaceOfFile("platform-prod").resourceId)}`,
    };
    for (const [stack, line] of Object.entries(expected)) {
      const r = libCall("stack_workspace", [stack], dir);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout, stack).toBe(`${line}\n`);
    }
    expect(expected.dev).toBe("url https://adb-1234567890123456.7.azuredatabricks.net");
    expect(expected.prod).toMatch(/^resourceId \/subscriptions\/[^/]+\/resourceGroups\/rg-databricks-prod\/providers\/Microsoft\.Databricks\/workspaces\/dbw-hydrology-prod$/);
    expect(workspaceOfFile("dev"), "a team stack names no workspace of its own").toBeUndefined();
    expect(calls(dir)).toEqual([]);
  });

  it("takes the last path segment of dcs:platform.stack, or a bare name; a stack on its own gives its own dcs:workspace", () => {
    const dir = fakes();
    const bare = tmpStack("dev", "ws-bare", (t) => t.replace("organization/dcs-platform/platform-dev", "platform-dev"));
    const onItsOwn = tmpStack("dev", "ws-alone", (t) => t.replace(PLATFORM_BLOCK, "  dcs:workspace:\n    url: https://adb-5555555555555555.5.azuredatabricks.net\n"));
    expect(libCall("stack_workspace", [bare], dir).stdout).toBe("url https://adb-1234567890123456.7.azuredatabricks.net\n");
    expect(libCall("platform_stack_of", [bare], dir).stdout).toBe("platform-dev");
    expect(libCall("stack_workspace", [onItsOwn], dir).stdout).toBe("url https://adb-5555555555555555.5.azuredatabricks.net\n");
    expect(libCall("platform_stack_of", [onItsOwn], dir).stdout).toBe("");
    expect(calls(dir)).toEqual([]);
  });

  it("a platform stack kept outside the repository: its deployed workspaceUrl output; refused, saying to deploy it first, when it has none", () => {
    const elsewhere = tmpStack("dev", "ws-elsewhere", (t) => t.replace("organization/dcs-platform/platform-dev", "organization/dcs-platform/platform-elsewhere"));
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), "https://adb-7777777777777777.7.azuredatabricks.net\n");
    const r = libCall("stack_workspace", [elsewhere], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("url https://adb-7777777777777777.7.azuredatabricks.net\n");
    expect(calls(dir, "pulumi")).toEqual([["stack", "output", "workspaceUrl", "--stack", "organization/dcs-platform/platform-elsewhere"]]);
    // databricks-auth.sh hands that host on.
    const auth = runScript("databricks-auth.sh", [elsewhere], dir);
    expect(auth.status, auth.stderr).toBe(0);
    expect(auth.stdout).toContain("export DATABRICKS_HOST=https://adb-7777777777777777.7.azuredatabricks.net");
    expect(auth.stdout).toContain("(of platform stack organization/dcs-platform/platform-elsewhere of stack");

    const missing = fakes();
    const refused = libCall("stack_workspace", [elsewhere], missing, { FAKE_OUTPUTS_FAIL: "1" });
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain(
      `stack ${elsewhere} runs in the workspace of platform stack organization/dcs-platform/platform-elsewhere (dcs:platform.stack), which is not in this repository and gives no workspaceUrl output (deploy it first, or log in to its backend): error: no stack named 'organization/dcs-platform/platform-elsewhere' found`,
    );
    const authRefused = runScript("databricks-auth.sh", [elsewhere], missing, { FAKE_OUTPUTS_FAIL: "1" });
    expect(authRefused.status).toBe(1);
    expect(calls(missing, "az"), "no token for an unknown workspace").toEqual([]);
  });

  it("refuses, naming the file to fix, when neither the stack nor its platform stack names a workspace; the scripts stop before Databricks", () => {
    const noWorkspace = tmpStack("platform-dev", "ws-none-platform", (t) => t.replace(/  dcs:workspace:\n    url: [^\n]*\n/, "").replace("  dcs:environment: dev\n", ""));
    const team = tmpStack("dev", "ws-to-none", (t) => t.replace("organization/dcs-platform/platform-dev", `organization/dcs-platform/${noWorkspace}`));
    const neither = tmpStack("dev", "ws-neither", (t) => t.replace(PLATFORM_BLOCK, ""));
    const dir = fakes();
    const a = libCall("stack_workspace", [team], dir);
    expect(a.status).toBe(1);
    expect(a.stderr).toContain(`Pulumi.${noWorkspace}.yaml, the platform stack of ${team} (dcs:platform.stack), names no workspace (dcs:workspace.url or .resourceId)`);
    const b = libCall("stack_workspace", [neither], dir);
    expect(b.status).toBe(1);
    expect(b.stderr).toContain(`Pulumi.${neither}.yaml names no workspace (dcs:workspace.url or .resourceId) and no platform stack (dcs:platform.stack)`);
    expect(libCall("stack_workspace", ["no-such-stack"], dir).status).not.toBe(0);

    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify({ clusterId: "0101-000000-nows" }));
    const check = runScript("check-clusters.sh", ["snapshot", team, path.join(dir, "s.tsv")], dir);
    expect(check.status).toBe(1);
    expect(check.stderr).toContain("names no workspace");
    const auth = runScript("databricks-auth.sh", [neither], dir);
    expect(auth.status).toBe(1);
    expect(calls(dir, "databricks")).toEqual([]);
    expect(calls(dir, "az")).toEqual([]);
  });
});

describe("lib.sh backend_url: a team stack shares its platform stack's backend", () => {
  it("{platform} is the platform stack's name (a platform stack's own), {stack} the stack's own; empty is Pulumi Cloud", () => {
    const dir = fakes();
    const elsewhere = tmpStack("dev", "be-elsewhere", (t) => t.replace("organization/dcs-platform/platform-dev", "organization/dcs-platform/platform-elsewhere"));
    const onItsOwn = tmpStack("dev", "be-alone", (t) => t.replace(PLATFORM_BLOCK, "  dcs:workspace:\n    url: https://adb-5555555555555555.5.azuredatabricks.net\n"));
    const byPlatform = { PULUMI_BACKEND_URL: "azblob://pulumi-{platform}?storage_account=dcsstate" };
    const cases: [string, Record<string, string>, string][] = [
      ["dev", byPlatform, "azblob://pulumi-platform-dev?storage_account=dcsstate"],
      ["platform-dev", byPlatform, "azblob://pulumi-platform-dev?storage_account=dcsstate"],
      ["prod", byPlatform, "azblob://pulumi-platform-prod?storage_account=dcsstate"],
      ["platform-prod", byPlatform, "azblob://pulumi-platform-prod?storage_account=dcsstate"],
      [elsewhere, byPlatform, "azblob://pulumi-platform-elsewhere?storage_account=dcsstate"],
      [onItsOwn, byPlatform, `azblob://pulumi-${onItsOwn}?storage_account=dcsstate`],
      ["dev", { PULUMI_BACKEND_URL: "azblob://pulumi-{stack}?storage_account=dcsstate" }, "azblob://pulumi-dev?storage_account=dcsstate"],
      ["dev", {}, "https://api.pulumi.com"],
    ];
    for (const [stack, env, url] of cases) {
      const r = libCall("backend_url", [stack], dir, env);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout, `${stack} ${JSON.stringify(env)}`).toBe(`${url}\n`);
    }
    expect(calls(dir), "the backend is known from the files alone").toEqual([]);
  });
});

describe("lib.sh stack_images and registry_host: what import-base.sh, smoke-build.sh and cache-image.sh start from", () => {
  it("stack_images reads the images of the stack's rendering and leaves no file behind; a stack without an image returns 3, quietly", () => {
    const dir = fakes();
    const tmpdir = fs.mkdtempSync(path.join(sandbox, "tmpdir-"));
    const list = 'f() { stack_images "$1"; printf "%s %s\\n" "${image_name[0]}" "${image_context[0]}"; }; f';
    const r = libCall(list, ["prod"], dir, { DCS_RENDERING: renderedFile("prod"), TMPDIR: tmpdir });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("default infra/image\n");
    const none = libCall('f() { local status=0; stack_images "$1" || status=$?; echo "status $status"; }; f', ["platform-dev"], dir, { DCS_RENDERING: renderedFile("platform-dev"), TMPDIR: tmpdir });
    expect(none.stdout).toBe("status 3\n");
    expect(none.stderr).toBe("");
    expect(fs.readdirSync(tmpdir)).toEqual([]);
  });

  it("registry_host: the registry's login server, in lower case", () => {
    expect(libCall("registry_host", ["DcsHydrologyDev"], fakes()).stdout).toBe("dcshydrologydev.azurecr.io");
  });
});
