/**
 * Offline rendering, end to end: the real `npm start` command line in a
 * subprocess for the files it writes and its exit codes, and the report
 * functions in-process for secrets and diffs.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffRenderings, diffToMarkdown, toJson, toMarkdown, toMermaid, toSummary } from "../stacks/render/report";
import type { Rendering } from "../stacks/render/engine";
import { FAKE_SECRETS, renderForTest, ROOT } from "./helpers/record";

const run = promisify(execFile);
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const CLI = path.join(ROOT, "stacks", "render", "cli.ts");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-render-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [CLI, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Runs `body` with a temporary Pulumi.<name>.yaml in the project root, removed afterwards. */
async function withStackFile(suffix: string, text: string, body: (stack: string) => Promise<void>): Promise<void> {
  const name = `tmp-${process.pid}-${suffix}`;
  const file = path.join(ROOT, `Pulumi.${name}.yaml`);
  fs.writeFileSync(file, text);
  try {
    await body(name);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe("npm start (the command line)", () => {
  const results: Record<string, { code: number; stdout: string; stderr: string }> = {};
  beforeAll(async () => {
    const [dev1, dev2, prod] = await Promise.all([
      cli("--stack", "dev", "--out", path.join(tmp, "a", "dev.json")),
      cli("--stack", "dev", "--out", path.join(tmp, "b", "dev.json"), "--quiet"),
      cli("--stack", "prod", "--out", path.join(tmp, "prod.json"), "--markdown", path.join(tmp, "prod-report.md")),
    ]);
    Object.assign(results, { dev1, dev2, prod });
  }, 60_000);

  it("renders dev with a readable summary grouped by component", () => {
    const { code, stdout } = results.dev1;
    expect(code).toBe(0);
    for (const heading of ['ContainerRegistry "registry"', 'ClusterImage "image"', 'InitScripts "init-scripts"', 'DcsCluster "cluster"', "Outputs"]) expect(stdout).toContain(heading);
    expect(stdout).toMatch(/imageRef: \(computed: image-image\.repoDigest\)/);
    expect(stdout).toContain("rendered with placeholders: dcs:pullClientSecret");
    expect(stdout).not.toContain("(placeholder secret for");
  });

  it("renders prod, with its toggle kept on delete and its registry protected", () => {
    expect(results.prod.code).toBe(0);
    expect(results.prod.stdout).toMatch(/container-services-enable-dcs .*kept on delete/);
    expect(results.prod.stdout).toMatch(/registry-acr .*protected/);
    const doc = JSON.parse(fs.readFileSync(path.join(tmp, "prod.json"), "utf8"));
    expect(doc.stack).toBe("prod");
    expect(fs.readFileSync(path.join(tmp, "prod-report.md"), "utf8")).toContain("```mermaid\nflowchart LR");
  });

  it("writes byte-identical JSON and Markdown on every run, with no absolute paths", () => {
    const a = fs.readFileSync(path.join(tmp, "a", "dev.json"));
    const b = fs.readFileSync(path.join(tmp, "b", "dev.json"));
    expect(a.equals(b)).toBe(true);
    expect(fs.readFileSync(path.join(tmp, "a", "dev.md")).equals(fs.readFileSync(path.join(tmp, "b", "dev.md")))).toBe(true);
    expect(a.toString()).not.toContain(ROOT);
    expect(results.dev2.stdout).toBe("");
  });

  it("prints the changes against an older rendering with --diff", async () => {
    const old = JSON.parse(fs.readFileSync(path.join(tmp, "a", "dev.json"), "utf8"));
    const cluster = old.resources.find((x: { type: string }) => x.type === "databricks:index/cluster:Cluster");
    cluster.inputs.autoscale.maxWorkers = 9;
    fs.writeFileSync(path.join(tmp, "old.json"), JSON.stringify(old));
    const { code, stdout } = await cli("--stack", "dev", "--quiet", "--diff", path.join(tmp, "old.json"));
    expect(code).toBe(0);
    expect(stdout).toContain("0 to add, 1 to change, 0 to remove.");
    expect(stdout).toContain("`inputs.autoscale.maxWorkers`: `9` -> `3`");
  });

  it("exits non-zero on bad config, names the key and the file, and writes nothing", async () => {
    const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    await withStackFile("bad", `${dev.replace("maxWorkers: 3", "maxWorkers: 0")}  dcs:environment: dev\n`, async (name) => {
      const out = path.join(tmp, "bad.json");
      const { code, stderr } = await cli("--stack", name, "--out", out);
      expect(code).toBe(1);
      expect(stderr).toContain(`Pulumi.${name}.yaml`);
      expect(stderr).toContain("dcs:cluster.autoscale.maxWorkers");
      expect(stderr).toContain("nothing was written");
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.existsSync(out.replace(/json$/, "md"))).toBe(false);
    });
  });

  it("exits 3 on a mandatory guardrail violation, still writing the rendering", async () => {
    const prod = fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
    await withStackFile("unprotected", `${prod.replace("protect: true", "protect: false")}  dcs:environment: prod\n`, async (name) => {
      const out = path.join(tmp, "unprotected.json");
      const { code, stderr } = await cli("--stack", name, "--out", out, "--quiet");
      expect(code).toBe(3);
      expect(stderr).toContain("[registry-protected-in-prod]");
      expect(JSON.parse(fs.readFileSync(out, "utf8")).findings).toHaveLength(1);
    });
  });

  it("refuses unknown options with usage", async () => {
    const { code, stderr } = await cli("--stak", "dev");
    expect(code).toBe(2);
    expect(stderr).toContain("Usage: npm start");
  });
});

describe("rendered outputs", () => {
  let dev: Rendering;
  beforeAll(async () => {
    dev = await renderForTest("dev", {}, "placeholders");
  });

  it("never contain a secret value: not in JSON, summary, Markdown or diff", async () => {
    const prod = await renderForTest("prod", {}, "placeholders");
    for (const r of [dev, prod]) {
      const texts = [toJson(r), toSummary(r), toMarkdown(r), diffToMarkdown(diffRenderings(prod, r), r.stack)];
      for (const text of texts) for (const secret of Object.values(FAKE_SECRETS)) expect(text).not.toContain(secret);
    }
    expect(toJson(dev)).toContain('"password": "[secret]"');
  });

  it("draw components as subgraphs and dependencies as edges", () => {
    const graph = toMermaid(dev);
    expect(graph).toMatch(/subgraph \S+\["ContainerRegistry 'registry'"\]/);
    expect(graph).toMatch(/n_\S*registry_acr --> n_\S*image_image/);
    expect(graph).toMatch(/n_\S*image_image --> n_\S*cluster_cluster/);
  });

  it("diff finds a changed cluster size and a changed init script", async () => {
    const scripts = fs.mkdtempSync(path.join(tmp, "scripts-"));
    for (const f of fs.readdirSync(path.join(ROOT, "infra", "init-scripts"))) fs.copyFileSync(path.join(ROOT, "infra", "init-scripts", f), path.join(scripts, f));
    const base = await renderForTest("dev", { "dcs:initScripts": { store: "workspace", dir: scripts } });
    const script = fs.readdirSync(scripts).find((f) => f.endsWith(".sh"))!;
    fs.appendFileSync(path.join(scripts, script), "# changed\n");
    const devCluster = JSON.parse(JSON.stringify((await import("yaml")).parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["dcs:cluster"]));
    devCluster.autoscale.maxWorkers = 6;
    const head = await renderForTest("dev", { "dcs:initScripts": { store: "workspace", dir: scripts }, "dcs:cluster": devCluster });
    const d = diffRenderings(JSON.parse(toJson(base)), JSON.parse(toJson(head)));
    expect(d.added).toEqual([]);
    expect(d.removed).toEqual([]);
    const byName = Object.fromEntries(d.changed.map((c) => [c.urn.split("::").pop(), c.changes.map((x) => x.path)]));
    expect(byName["cluster-cluster"]).toEqual(["inputs.autoscale.maxWorkers"]);
    expect(byName[`init-scripts-${script.replace(/\.sh$/, "").replace(/[^A-Za-z0-9-]+/g, "-")}`]).toEqual(["inputs.contentBase64"]);
    expect(diffToMarkdown(d, "dev")).toContain("0 to add, 2 to change, 0 to remove.");
    expect(diffToMarkdown(diffRenderings(base, base), "dev")).toContain("No changes");
  });
});
