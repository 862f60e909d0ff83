/**
 * check-clusters.sh, run for real against the stand-in commands of
 * test/helpers/ci-standins.ts: a snapshot of the stack's clusters before
 * `pulumi up` and their check after it, against scripted cluster states and
 * events (restarts seen or missed, terminations with their reason, new
 * clusters, timeouts), in the workspace of the stack's platform stack, never
 * printing a secret of the cluster's spec.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { calls } from "./helpers/ci-fakes";
import { ciSandbox, type Obj, SECRETS } from "./helpers/ci-standins";

const { fakes, runScript } = ciSandbox("dcs-ci-clusters-");

/** A `databricks clusters get -o json` answer. `spec` picks one of two specs. */
function cluster(id: string, state: string, opts: { spec?: "a" | "b"; code?: string; message?: string } = {}): string {
  const spec = opts.spec ?? "a";
  return JSON.stringify({
    cluster_id: id,
    cluster_name: `hydrology-dask-${id}`,
    state,
    spark_version: "16.4.x-scala2.12",
    docker_image: { url: `dcshydrologydev.azurecr.io/hydrology/dask@sha256:${spec === "a" ? "aaaa" : "bbbb"}`, basic_auth: { username: "3f6c1f1e", password: SECRETS[0] } },
    spark_env_vars: { DCS_DASK_SCHEDULER_PORT: "8786", TOKENISH: SECRETS[1] },
    node_type_id: "Standard_D4ds_v5",
    autoscale: { min_workers: 1, max_workers: spec === "a" ? 3 : 3 },
    ...(opts.code ? { termination_reason: { code: opts.code, type: "CLIENT_ERROR", parameters: { databricks_error_message: opts.message ?? "" } } } : {}),
  });
}

interface Scenario {
  /** The stack's outputs before and after the deployment. */
  before: Obj;
  after?: Obj;
  /** Per cluster id: the answers of `clusters get`, the first one for the snapshot. */
  states: Record<string, string[]>;
  events?: Record<string, Obj>;
  stack?: string;
  env?: Record<string, string>;
}

function scenario(s: Scenario) {
  const dir = fakes();
  for (const [id, answers] of Object.entries(s.states)) fs.writeFileSync(path.join(dir, `${id}.seq`), answers.map((a) => `${a}\n`).join(""));
  for (const [id, events] of Object.entries(s.events ?? {})) fs.writeFileSync(path.join(dir, `${id}.events`), JSON.stringify(events));
  const stack = s.stack ?? "dev";
  const file = path.join(dir, "snapshot", "clusters.tsv");
  const env = { DCS_CHECK_INTERVAL_SECONDS: "0", DCS_CHECK_TIMEOUT_SECONDS: "30", DATABRICKS_AUTH_TYPE: "azure-cli", ...s.env };
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(s.before));
  const snapshot = runScript("check-clusters.sh", ["snapshot", stack, file], dir, env);
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(s.after ?? s.before));
  const verify = runScript("check-clusters.sh", ["verify", stack, file], dir, env);
  const text = `${snapshot.stdout}${snapshot.stderr}${verify.stdout}${verify.stderr}${fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""}`;
  for (const secret of SECRETS) expect(text, "no secret is ever printed or recorded").not.toContain(secret);
  return { dir, snapshot, verify, file, gets: (id: string) => calls(dir, "databricks").filter((c) => c[0] === "clusters" && c[2] === id).length };
}

const EVENT = {
  events: [{ timestamp: 1733050000000, type: "TERMINATING", details: { reason: { code: "DOCKER_IMAGE_PULL_FAILURE", type: "CLIENT_ERROR" }, attributes: { spark_env_vars: { X: SECRETS[2] } } } }],
  next_page: { cluster_id: "x", offset: 1 },
  total_count: 40,
};

describe("check-clusters.sh", () => {
  it("RUNNING, edited, RESTARTING, RUNNING: passes, saying the spec changed and the state reached", () => {
    const id = "0101-000000-run";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RESTARTING", { spec: "b" }), cluster(id, "RESTARTING", { spec: "b" }), cluster(id, "RUNNING", { spec: "b" })] } });
    expect(s.snapshot.status, s.snapshot.stderr).toBe(0);
    expect(s.snapshot.stdout).toContain(`hydrology-dask-${id} (${id}, output clusterId) before pulumi up: RUNNING`);
    expect(s.verify.status, s.verify.stdout + s.verify.stderr).toBe(0);
    expect(s.verify.stdout).toContain(`ok    hydrology-dask-${id} (${id}, output clusterId): spec changed; was RUNNING, now RUNNING through RESTARTING`);
    expect(s.gets(id)).toBe(4);
  });

  it("RUNNING, edited, and still RUNNING at first: waits for the restart to be seen before it passes", () => {
    const id = "0101-000000-slow";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RUNNING", { spec: "b" }), cluster(id, "RUNNING", { spec: "b" }), cluster(id, "RESTARTING", { spec: "b" }), cluster(id, "RUNNING", { spec: "b" })] } });
    expect(s.verify.status, s.verify.stdout + s.verify.stderr).toBe(0);
    // The old run first, then the restart, then the new run.
    expect(s.verify.stdout).toContain("spec changed; was RUNNING, now RUNNING through RUNNING RESTARTING");
    expect(s.gets(id)).toBe(5);
  });

  it("RUNNING, edited, restarted before the check began: a RUNNING event since the snapshot counts", () => {
    const id = "0101-000000-fast";
    const events = { events: [{ timestamp: Date.now() + 60_000, type: "RUNNING", details: {} }] };
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RUNNING", { spec: "b" })] }, events: { [id]: events } });
    expect(s.verify.status, s.verify.stdout + s.verify.stderr).toBe(0);
    const since = calls(s.dir, "databricks").find((c) => c[0] === "api" && c.join(" ").includes('"event_types":["RUNNING"]'));
    expect(since?.join(" ")).toMatch(/"start_time":\d{13}/);
  });

  it("RUNNING, edited, and never restarting: fails at the timeout instead of passing on the old run", () => {
    const id = "0101-000000-stuck";
    const s = scenario({
      before: { clusterId: id },
      states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RUNNING", { spec: "b" })] },
      env: { DCS_CHECK_TIMEOUT_SECONDS: "1", DCS_CHECK_INTERVAL_SECONDS: "0.05" },
    });
    expect(s.verify.status).toBe(1);
    expect(s.verify.stdout).toMatch(/FAIL .*spec changed; was RUNNING, still RUNNING/);
  });

  it("RUNNING, edited, TERMINATED: fails naming the termination code and the latest event", () => {
    const id = "0101-000000-dead";
    const s = scenario({
      before: { clusterId: id },
      states: { [id]: [cluster(id, "RUNNING"), cluster(id, "RESTARTING", { spec: "b" }), cluster(id, "TERMINATED", { spec: "b", code: "DOCKER_IMAGE_PULL_FAILURE", message: "Failed to pull\timage: unauthorized" })] },
      events: { [id]: EVENT },
    });
    expect(s.verify.status).toBe(1);
    const line = s.verify.stdout.split("\n").find((l) => l.includes("FAIL"))!;
    expect(line).toContain(`FAIL  hydrology-dask-${id} (${id}, output clusterId): spec changed; was RUNNING, ended TERMINATED through RESTARTING`);
    expect(line).toContain("termination reason: DOCKER_IMAGE_PULL_FAILURE (Failed to pull image: unauthorized)");
    expect(line).toContain('latest event: TERMINATING at 2024-12-01T10:46:40.000Z (reason={"code":"DOCKER_IMAGE_PULL_FAILURE","type":"CLIENT_ERROR"})');
    // The latest event: one page of one event, newest first (clusters events would walk every page).
    const events = calls(s.dir, "databricks").filter((c) => c[0] === "api");
    expect(events.map((c) => c.slice(0, 5))).toEqual([["api", "post", "/api/2.1/clusters/events", "--json", `{"cluster_id":"${id}","order":"DESC","limit":1}`]]);
    expect(s.verify.stderr).toContain("1 cluster(s) not as expected after pulumi up on stack dev");
  });

  it("TERMINATED stays TERMINATED after an edit: passes", () => {
    const id = "0101-000000-off";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "TERMINATED", { code: "INACTIVITY" }), cluster(id, "TERMINATED", { spec: "b", code: "INACTIVITY" })] } });
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain(`spec changed; was TERMINATED, now TERMINATED (an edit does not start it)`);
  });

  it("TERMINATED, then RUNNING: an edit never starts a cluster, so someone did; passes with a note", () => {
    const id = "0101-000000-woke";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "TERMINATED"), cluster(id, "RUNNING")] } });
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain("spec unchanged; was TERMINATED, now RUNNING; note: started outside this deployment");
  });

  it("still RESTARTING at the timeout: fails, naming the state, the reason and the latest event", () => {
    const id = "0101-000000-slow";
    const s = scenario({
      before: { clusterId: id },
      states: { [id]: [cluster(id, "RUNNING"), cluster(id, "PENDING", { spec: "b" }), cluster(id, "RESTARTING", { spec: "b" })] },
      events: { [id]: { events: [{ timestamp: 1733050000000, type: "RESTARTING", details: { user: "deployer" } }] } },
      env: { DCS_CHECK_TIMEOUT_SECONDS: "1", DCS_CHECK_INTERVAL_SECONDS: "0.05" },
    });
    expect(s.verify.status).toBe(1);
    expect(s.verify.stdout).toContain("spec changed; was RUNNING, still RESTARTING (seen: PENDING RESTARTING) after DCS_CHECK_TIMEOUT_SECONDS=1; termination reason: none; latest event: RESTARTING at 2024-12-01T10:46:40.000Z (user=deployer)");
    expect(s.gets(id)).toBeGreaterThanOrEqual(3); // the snapshot, then PENDING and RESTARTING at least
  });

  it("no clusters (a stack not deployed yet, or without cluster outputs): records nothing, calls no Databricks, passes", () => {
    for (const before of [{}, { registryLoginServer: "x.azurecr.io" }]) {
      const s = scenario({ before, states: {} });
      expect(s.snapshot.status, s.snapshot.stderr).toBe(0);
      expect(s.snapshot.stdout).toContain("has no clusters in its outputs");
      expect(fs.readFileSync(s.file, "utf8").split("\n").filter((l) => l && !l.startsWith("#"))).toHaveLength(0); // the header and the time alone
      expect(s.verify.status).toBe(0);
      expect(calls(s.dir, "databricks")).toEqual([]);
    }
  });

  it("a cluster new in this deployment must reach RUNNING", () => {
    const id = "0101-000000-new";
    const s = scenario({ before: {}, after: { clusterId: id }, states: { [id]: [cluster(id, "PENDING"), cluster(id, "RUNNING")] } });
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain(`(${id}, output clusterId): new; new cluster, now RUNNING through PENDING`);
    const failing = scenario({ before: {}, after: { clusterId: id }, states: { [id]: [cluster(id, "PENDING"), cluster(id, "ERROR", { code: "INIT_SCRIPT_FAILURE" })] } });
    expect(failing.verify.status).toBe(1);
    expect(failing.verify.stdout).toContain("new cluster, ended ERROR through PENDING; termination reason: INIT_SCRIPT_FAILURE; latest event: none recorded");
  });

  it("reads every cluster of a clusters output (name -> { id }) as well as clusterId, each once", () => {
    const [a, b] = ["0101-000000-aaa", "0101-000000-bbb"];
    const outputs = { clusterId: a, clusters: { dask: { id: a, url: "u" }, etl: { id: b } } };
    const s = scenario({ before: outputs, states: { [a]: [cluster(a, "RUNNING"), cluster(a, "RUNNING")], [b]: [cluster(b, "TERMINATED"), cluster(b, "TERMINATED")] } });
    expect(s.snapshot.status, s.snapshot.stderr).toBe(0);
    const rows = fs.readFileSync(s.file, "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split("\t").slice(0, 3));
    expect(rows).toEqual([
      [a, "clusterId", "RUNNING"],
      [b, "clusters.etl", "TERMINATED"],
    ]);
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain(`(${a}, output clusterId): spec unchanged; was RUNNING, now RUNNING`);
    expect(s.verify.stdout).toContain(`(${b}, output clusters.etl): spec unchanged; was TERMINATED, now TERMINATED`);
  });

  it("a cluster that was running and stopped for inactivity during the deployment is noted, not failed", () => {
    const id = "0101-000000-idle";
    const s = scenario({ before: { clusterId: id }, states: { [id]: [cluster(id, "RUNNING"), cluster(id, "TERMINATED", { code: "INACTIVITY" })] } });
    expect(s.verify.status, s.verify.stdout).toBe(0);
    expect(s.verify.stdout).toContain("spec unchanged; was RUNNING, now TERMINATED; note: terminated by INACTIVITY, not by this deployment");
  });

  it("gives the Databricks CLI the workspace of the stack's platform stack: its URL (dev), or its resource id (prod) unless a host is already set", () => {
    const id = "0101-000000-ws";
    const states = { [id]: [cluster(id, "RUNNING"), cluster(id, "RUNNING")] };
    const workspaceOf = (dir: string) => calls(dir, "databricks").map((c) => c.slice(-3).join(" "));
    const dev = scenario({ before: { clusterId: id }, states });
    expect(new Set(workspaceOf(dev.dir))).toEqual(new Set(["host=https://adb-1234567890123456.7.azuredatabricks.net resource= auth=azure-cli"]));
    const prod = scenario({ stack: "prod", before: { clusterId: id }, states });
    expect(prod.verify.status).toBe(0);
    expect(new Set(workspaceOf(prod.dir))).toEqual(
      new Set(["host= resource=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-databricks-prod/providers/Microsoft.Databricks/workspaces/dbw-hydrology-prod auth=azure-cli"]),
    );
    const ado = scenario({ stack: "prod", before: { clusterId: id }, states, env: { DATABRICKS_HOST: "https://adb-42.1.azuredatabricks.net", DATABRICKS_AUTH_TYPE: "pat" } });
    expect(new Set(workspaceOf(ado.dir))).toEqual(new Set(["host=https://adb-42.1.azuredatabricks.net resource= auth=pat"]));
    expect(calls(ado.dir, "pulumi")).toEqual([
      ["stack", "output", "--json", "--stack", "prod"],
      ["stack", "output", "--json", "--stack", "prod"],
    ]);
  });

  it("fails before the deployment when the outputs or a cluster cannot be read", () => {
    const dir = fakes();
    const file = path.join(dir, "s.tsv");
    const noStack = runScript("check-clusters.sh", ["snapshot", "dev", file], dir, { FAKE_OUTPUTS_FAIL: "1" });
    expect(noStack.status).toBe(1);
    expect(noStack.stderr).toContain("cannot read the outputs of stack dev: error: no stack named 'dev' found");
    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify({ clusterId: "0101-000000-gone" }));
    const gone = runScript("check-clusters.sh", ["snapshot", "dev", file], dir);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain("cannot read cluster clusterId (0101-000000-gone): Error: Cluster 0101-000000-gone does not exist");
    expect(fs.existsSync(file)).toBe(false);
  });

  it("refuses bad usage, bad durations, and a snapshot of another stack", () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), "{}");
    expect(runScript("check-clusters.sh", ["check", "dev", "x"], dir).status).toBe(2);
    expect(runScript("check-clusters.sh", ["snapshot", "dev"], dir).status).toBe(2);
    const bad = runScript("check-clusters.sh", ["snapshot", "dev", path.join(dir, "s")], dir, { DCS_CHECK_TIMEOUT_SECONDS: "soon" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("DCS_CHECK_TIMEOUT_SECONDS must be a number of seconds, got 'soon'");
    const file = path.join(dir, "dev.tsv");
    expect(runScript("check-clusters.sh", ["snapshot", "dev", file], dir).status).toBe(0);
    const other = runScript("check-clusters.sh", ["verify", "prod", file], dir);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain("is not a snapshot of stack prod");
    expect(runScript("check-clusters.sh", ["verify", "dev", path.join(dir, "missing.tsv")], dir).status).toBe(2);
  });
});
