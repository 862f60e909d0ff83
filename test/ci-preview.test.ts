/**
 * The exact change that deploys, drift and outputs (issue 10, items 7, 10,
 * 11), run for real against the stand-in commands of
 * test/helpers/ci-standins.ts:
 *
 * - preview-change.sh: the change recorded before the approval, any other
 *   change refused after it, drift reported; change.js's fingerprint;
 * - outputs-summary.sh: the outputs as a table, secrets kept hidden.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { calls } from "./helpers/ci-fakes";
import { ciSandbox, type Obj } from "./helpers/ci-standins";
import { ROOT } from "./helpers/record";

const { fakes, runScript } = ciSandbox("dcs-ci-preview-");

const CLUSTER_URN = "urn:pulumi:prod::dcs-platform::dcs:index:DcsCluster$databricks:index/cluster:Cluster::cluster";
function previewJson(opts: { url?: string; extraSame?: boolean; outputs?: string; changes?: boolean } = {}): Obj {
  const steps: Obj[] = [{ op: "same", urn: "urn:pulumi:prod::dcs-platform::pulumi:pulumi:Stack::dcs-platform-prod" }];
  if (opts.extraSame) steps.push({ op: "same", urn: "urn:pulumi:prod::dcs-platform::azure-native:resources:ResourceGroup::rg" });
  if (opts.changes !== false) {
    steps.push({
      op: "update",
      urn: CLUSTER_URN,
      oldState: { outputs: { state: opts.outputs ?? "RUNNING" } },
      newState: { inputs: { sparkVersion: "16.4.x-scala2.12", dockerImage: { url: opts.url ?? "r.azurecr.io/hydrology/dask@sha256:1", basicAuth: { password: "[secret]" } } } },
      diffReasons: ["dockerImage"],
      detailedDiff: { "dockerImage.url": { kind: "update", inputDiff: true } },
    });
  }
  return { steps, changeSummary: opts.changes === false ? { same: 12 } : { same: 12, update: 1 }, diagnostics: [{ severity: "warning", message: "a | warning" }] };
}
const head = () => spawnSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout.trim();

describe("preview-change.sh", () => {
  it("record: the change in Markdown and a file with the commit and the fingerprint", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson()));
    const file = path.join(dir, "approved", "change.json");
    const r = runScript("preview-change.sh", ["record", "prod", file], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(calls(dir, "pulumi")).toEqual([["preview", "--stack", "prod", "--refresh", "--json", "--policy-pack", "policy"]]);
    expect(r.stdout).toContain(`### What the approval of stack \`prod\` deploys (commit ${head().slice(0, 12)})`);
    expect(r.stdout).toContain("1 to update; 12 unchanged.");
    expect(r.stdout).toContain("| update | `databricks:index/cluster:Cluster` | `cluster` | dockerImage.url:update |");
    expect(r.stdout).toContain("- warning: a | warning");
    const recorded = JSON.parse(fs.readFileSync(file, "utf8")) as Obj;
    expect(recorded).toMatchObject({ stack: "prod", commit: head(), changes: 1 });
    expect(String(recorded.fingerprint)).toMatch(/^[0-9a-f]{64}$/);
    expect(r.stdout).toContain(`Change fingerprint \`${String(recorded.fingerprint)}\``);
    expect(r.stdout).not.toContain("sha256:1"); // values are never printed
  });

  it("check: passes for the approved change; refuses another change, another commit, another stack, and deploys nothing", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson()));
    const file = path.join(dir, "change.json");
    expect(runScript("preview-change.sh", ["record", "prod", file], dir).status).toBe(0);
    // The same change, with an unchanged resource more and a cluster state that moved: the same fingerprint.
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson({ extraSame: true, outputs: "TERMINATED" })));
    const ok = runScript("preview-change.sh", ["check", "prod", file], dir);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("is the approved one");
    // Another image: refused.
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson({ url: "r.azurecr.io/hydrology/dask@sha256:2" })));
    const moved = runScript("preview-change.sh", ["check", "prod", file], dir);
    expect(moved.status).toBe(1);
    expect(moved.stdout).toContain("**Refused:** the change differs from the approved preview");
    expect(moved.stdout).toContain("NOT the approved change");
    // Another commit, another stack.
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson()));
    const approved = JSON.parse(fs.readFileSync(file, "utf8")) as Obj;
    fs.writeFileSync(file, JSON.stringify({ ...approved, commit: "0".repeat(40) }));
    expect(runScript("preview-change.sh", ["check", "prod", file], dir).stdout).toContain(`the approved preview was of commit ${"0".repeat(40)}`);
    fs.writeFileSync(file, JSON.stringify({ ...approved, stack: "dev" }));
    expect(runScript("preview-change.sh", ["check", "prod", file], dir).stdout).toContain("the approved change is of stack dev");
    expect(calls(dir, "pulumi").every((c) => c[0] === "preview")).toBe(true);
    expect(runScript("preview-change.sh", ["check", "prod", path.join(dir, "missing.json")], dir).status).toBe(2);
  });

  it("drift: passes without changes; fails listing what differs; fails when the preview fails", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson({ changes: false })));
    const clean = runScript("preview-change.sh", ["drift", "dev"], dir);
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stdout).toContain("No changes (12 unchanged).");
    expect(calls(dir, "pulumi")[0]).toEqual(["preview", "--stack", "dev", "--refresh", "--expect-no-changes", "--json", "--policy-pack", "policy"]);
    fs.writeFileSync(path.join(dir, "preview.json"), JSON.stringify(previewJson()));
    const drift = runScript("preview-change.sh", ["drift", "prod"], dir, { FAKE_PREVIEW_STATUS: "255" });
    expect(drift.status).toBe(1);
    expect(drift.stdout).toContain("**Drift:** the cloud no longer matches stack `prod` (1 resources differ)");
    expect(drift.stdout).toContain("| update | `databricks:index/cluster:Cluster` | `cluster` |");
    fs.writeFileSync(path.join(dir, "preview.json"), "error: could not log in");
    const broken = runScript("preview-change.sh", ["drift", "prod"], dir, { FAKE_PREVIEW_STATUS: "255" });
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain("the preview failed (exit 255)");
    expect(runScript("preview-change.sh", ["drift"], dir).status).toBe(2);
    expect(runScript("preview-change.sh", ["record", "nosuchstack", "x"], dir).status).toBe(2);
  });
});

describe("outputs-summary.sh", () => {
  it("prints the outputs as a table, secrets as [secret]", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify({ registryLoginServer: "dcshydrologydev.azurecr.io", pullSecretReference: "[secret]", initScriptDestinations: ["/Shared/a.sh"] }));
    const r = runScript("outputs-summary.sh", ["dev"], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        "### Outputs of stack `dev`",
        "",
        "| Output | Value |",
        "| --- | --- |",
        '| `initScriptDestinations` | ["/Shared/a.sh"] |',
        "| `pullSecretReference` | [secret] |",
        "| `registryLoginServer` | dcshydrologydev.azurecr.io |",
        "",
      ].join("\n"),
    );
    expect(calls(dir, "pulumi")).toEqual([["stack", "output", "--json", "--stack", "dev"]]);
    const failing = runScript("outputs-summary.sh", ["dev"], dir, { FAKE_OUTPUTS_FAIL: "1" });
    expect(failing.status).toBe(1);
  });
});
