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
import { clusterPathEffect, diffRenderings, diffToMarkdown, toJson, toMarkdown, toMermaid, toSummary } from "../stacks/render/report";
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
    for (const heading of ['ContainerRegistry "registry"', 'ClusterImage "image"', 'InitScripts "init-scripts"', 'DcsCluster "cluster-dask"', "Outputs"]) expect(stdout).toContain(heading);
    expect(stdout).toMatch(/imageRef: \(computed: image-image\.repoDigest\)/);
    expect(stdout).toContain("rendered with placeholders: dcs:pullClientSecret");
    expect(stdout).not.toContain("(placeholder secret for");
  });

  it("renders prod, its platform stack read (rendered first), and its registry protected", () => {
    expect(results.prod.code).toBe(0);
    expect(results.prod.stdout).toMatch(/platform {2}\[pulumi:pulumi:StackReference\] {2}\(read, not managed\)/);
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

  it("renders the same bytes from another checkout path: the engine receives no absolute path", async () => {
    const copy = path.join(tmp, "elsewhere", "checkout");
    fs.mkdirSync(copy, { recursive: true });
    for (const entry of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.platform-dev.yaml", "package.json", "tsconfig.json", "stacks", "components", "policy", "infra", "jobs"]) {
      fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"), "dir");
    const out = path.join(tmp, "elsewhere.json");
    await run(TSX, [path.join(copy, "stacks", "render", "cli.ts"), "--stack", "dev", "--out", out, "--quiet"], { cwd: copy });
    const here = fs.readFileSync(path.join(tmp, "a", "dev.json"), "utf8");
    expect(fs.readFileSync(out, "utf8")).toBe(here);
    const image = JSON.parse(here).resources.find((x: { type: string; name: string }) => x.type === "docker:index/image:Image" && x.name === "image-image");
    expect(image.inputs.build).toMatchObject({ context: "infra/image", dockerfile: "infra/image/Dockerfile" });
  }, 60_000);

  it("prints the changes against an older rendering with --diff", async () => {
    const old = JSON.parse(fs.readFileSync(path.join(tmp, "a", "dev.json"), "utf8"));
    const cluster = old.resources.find((x: { type: string; name: string }) => x.type === "databricks:index/cluster:Cluster" && x.name === "cluster-dask-cluster");
    cluster.inputs.numWorkers = 9;
    fs.writeFileSync(path.join(tmp, "old.json"), JSON.stringify(old));
    const { code, stdout } = await cli("--stack", "dev", "--quiet", "--diff", path.join(tmp, "old.json"));
    expect(code).toBe(0);
    expect(stdout).toContain("0 to add, 1 to change, 0 to remove.");
    expect(stdout).toContain("`inputs.numWorkers`: `9` -> `2` [resize]");
  });

  it("exits non-zero on bad config, names the key and the file, and writes nothing", async () => {
    const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    await withStackFile("bad", `${dev.replace("numWorkers: 2", "numWorkers: 0")}  dcs:environment: dev\n`, async (name) => {
      const out = path.join(tmp, "bad.json");
      const { code, stderr } = await cli("--stack", name, "--out", out);
      expect(code).toBe(1);
      expect(stderr).toContain(`Pulumi.${name}.yaml`);
      expect(stderr).toContain("dcs:clusters.dask.numWorkers: a Dask cluster needs at least one worker");
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
    expect(toJson(dev)).toContain('"stringValue": "[secret]"');
    // The cluster spec holds the reference, never a secret.
    expect(toJson(dev)).toContain('"password": "{{secrets/dcs-hydrology-dev/acr-pull}}"');
  });

  it("show an external secret reference as a prerequisite someone outside the stack must meet", async () => {
    const r = await renderForTest("dev", { "dcs:pullIdentity": { clientId: "3f6c1f1e-58b4-4c1a-9a55-2d8a0c6b7e01", objectId: "9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d", secretReference: "{{secrets/security-team/acr-hydrology}}" } });
    expect(r.resources.filter((x) => x.type.startsWith("databricks:index/secret"))).toEqual([]);
    expect(r.placeholderSecrets).toEqual([]);
    const summary = toSummary(r);
    expect(summary).toMatch(/External prerequisites[^\n]*\n {2}\* Databricks secret \{\{secrets\/security-team\/acr-hydrology\}\} exists/);
    expect(summary).toContain("READ on it to hydro-dev@contoso.com");
    expect(toMarkdown(r)).toContain("## External prerequisites");
    // Dev declares its own secret; what it needs from outside is the volume its logs go to.
    expect(toSummary(dev)).not.toContain("Databricks secret {{secrets/");
    expect(toSummary(dev)).toMatch(/\* Unity Catalog volume hydrology\.dcs\.cluster-logs exists for the cluster's logs, and hydro-dev@contoso\.com, 8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d hold\(s\) USE CATALOG, USE SCHEMA, READ VOLUME and WRITE VOLUME/);
  });

  it("draw components as subgraphs and dependencies as edges", () => {
    const graph = toMermaid(dev);
    expect(graph).toMatch(/subgraph \S+\["ContainerRegistry 'registry'"\]/);
    expect(graph).toMatch(/n_\S*registry_acr --> n_\S*image_image/);
    expect(graph).toMatch(/n_\S*image_image --> n_\S*cluster_dask_cluster/);
  });

  it("diff finds a changed cluster size and a changed init script", async () => {
    const scripts = fs.mkdtempSync(path.join(tmp, "scripts-"));
    for (const f of fs.readdirSync(path.join(ROOT, "infra", "init-scripts"))) fs.copyFileSync(path.join(ROOT, "infra", "init-scripts", f), path.join(scripts, f));
    const base = await renderForTest("dev", { "dcs:initScripts": { store: "workspace", dir: scripts } });
    const script = fs.readdirSync(scripts).find((f) => f.endsWith(".sh"))!;
    fs.appendFileSync(path.join(scripts, script), "# changed\n");
    const devClusters = JSON.parse(JSON.stringify((await import("yaml")).parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["dcs:clusters"]));
    devClusters.dask.numWorkers = 6;
    const head = await renderForTest("dev", { "dcs:initScripts": { store: "workspace", dir: scripts }, "dcs:clusters": devClusters });
    const d = diffRenderings(JSON.parse(toJson(base)), JSON.parse(toJson(head)));
    expect(d.added).toEqual([]);
    expect(d.removed).toEqual([]);
    const byName = Object.fromEntries(d.changed.map((c) => [c.urn.split("::").pop(), c.changes.map((x) => x.path)]));
    // The edited script reaches the cluster spec: its content hash is an environment variable there.
    expect(byName["cluster-dask-cluster"]).toEqual(["inputs.numWorkers", "inputs.sparkEnvVars.DCS_INIT_SCRIPTS_SHA256"]);
    expect(byName["cluster-gpu-cluster"]).toEqual(["inputs.sparkEnvVars.DCS_INIT_SCRIPTS_SHA256"]);
    expect(byName[`init-scripts-${script.replace(/\.sh$/, "").replace(/[^A-Za-z0-9-]+/g, "-")}`]).toEqual(["inputs.contentBase64"]);
    const text = diffToMarkdown(d, "dev");
    // The job's cluster carries the scripts' hash too: a job run after the edit runs the new script.
    expect(text).toContain("0 to add, 4 to change, 0 to remove.");
    expect(text).toContain("`cluster-dask-cluster` (databricks:index/cluster:Cluster) (restarts the cluster if it is running)");
    expect(text).toMatch(/`inputs\.numWorkers`: `2` -> `6` \[resize\]/);
    expect(text).toMatch(/`inputs\.sparkEnvVars\.DCS_INIT_SCRIPTS_SHA256`: `[0-9a-f]{64}` -> `[0-9a-f]{64}` \[restart\]/);
    expect(text).toContain("> **Restarts:** `cluster-dask-cluster`, `cluster-gpu-cluster`");
    expect(diffToMarkdown(diffRenderings(base, base), "dev")).toContain("No changes");
  });

  it("diff tells a resize from a restart", async () => {
    const base = JSON.parse(toJson(dev));
    const resized = JSON.parse(toJson(dev));
    const cluster = (doc: { resources: { type: string; inputs: Record<string, unknown> }[] }) => doc.resources.find((x) => x.type === "databricks:index/cluster:Cluster")!;
    cluster(resized).inputs.numWorkers = 8;
    const onlySize = diffRenderings(base, resized);
    expect(onlySize.changed.map((c) => c.effect)).toEqual(["resize"]);
    expect(diffToMarkdown(onlySize, "dev")).toContain("(resizes a running cluster, no restart)");
    expect(diffToMarkdown(onlySize, "dev")).not.toContain("Restarts:");
    for (const [key, value] of [["sparkVersion", "17.3.x-scala2.13"], ["nodeTypeId", "Standard_E8ds_v5"], ["customTags", { team: "x" }]] as const) {
      const edited = JSON.parse(toJson(dev));
      cluster(edited).inputs[key] = value;
      expect(diffRenderings(base, edited).changed[0].effect, key).toBe("restart");
    }
    const image = JSON.parse(toJson(dev));
    (cluster(image).inputs.dockerImage as { url: string }).url = "x.azurecr.io/r:t";
    expect(diffRenderings(base, image).changed[0].effect).toBe("restart");
    expect(clusterPathEffect("inputs.libraries[0].pypi.package")).toBe("none");
    expect(clusterPathEffect("inputs.numWorkers")).toBe("resize");
    expect(clusterPathEffect("inputs.autoscale.maxWorkers")).toBe("resize");
  });

  it("warn, naming the key, when a Dask cluster autoscales", async () => {
    const devCluster = (await import("yaml")).parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["dcs:clusters"].dask;
    const rest = { ...devCluster };
    delete rest.numWorkers;
    const r = await renderForTest("dev", { "dcs:clusters": { dask: { ...rest, autoscale: { minWorkers: 1, maxWorkers: 4 } } } });
    const gpuNote = expect.stringMatching(/^dcs:images\.gpu\.gpu\.cuda: CUDA 12\.6\.3 has every feature from driver/);
    expect(r.warnings).toEqual([gpuNote, expect.stringMatching(/^dcs:clusters\.dask\.autoscale: Databricks autoscaling follows Spark's load/)]);
    expect(dev.warnings).toEqual([gpuNote]);
  });

  it("volumes store: the cluster gets the Spark setting custom containers need for Unity Catalog volumes", async () => {
    const r = await renderForTest("dev", { "dcs:initScripts": { store: "volumes", path: "/Volumes/hydro/dcs/scripts/dev" } });
    const cluster = r.resources.find((x) => x.type === "databricks:index/cluster:Cluster" && x.name === "cluster-dask-cluster")!;
    expect(cluster.inputs.sparkConf).toEqual({ "spark.databricks.unityCatalog.volumes.enabled": "true" });
    expect(cluster.inputs.initScripts).toEqual([{ volumes: { destination: "/Volumes/hydro/dcs/scripts/dev/init_script_dask.sh" } }]);
    expect(dev.resources.find((x) => x.type === "databricks:index/cluster:Cluster")!.inputs.sparkConf).toEqual({});
  });

  it("imageReference tag: the cluster names the content tag, only once the image is pushed, and the policies accept it", async () => {
    const devCluster = (await import("yaml")).parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["dcs:clusters"].dask;
    const r = await renderForTest("dev", { "dcs:clusters": { dask: { ...devCluster, imageReference: "tag" } } });
    const cluster = r.resources.find((x) => x.type === "databricks:index/cluster:Cluster")!;
    const image = r.resources.find((x) => x.type === "docker:index/image:Image" && x.name === "image-image")!;
    expect(cluster.inputs.dockerImage).toMatchObject({ url: image.inputs.imageName });
    expect(String(image.inputs.imageName)).toMatch(/:16\.4-lts-[0-9a-f]{12}$/);
    expect(cluster.dependencies).toContain(image.urn);
    expect(r.outputs.imageRef).toBe(image.inputs.imageName);
    expect(r.findings).toEqual([]);
  });
});
