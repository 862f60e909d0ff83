/**
 * infra/image/dcs_dask.py, the notebook helper the cluster image ships
 * (`dcs_dask.get_client()`), run with a real Dask (Debian's python3-distributed
 * under /usr/bin/python3) against a scheduler and a worker that the init script
 * started on 127.0.0.1, as on a cluster: found through the scheduler file, the
 * driver's address or this node; waited for while it starts; and a clear error,
 * naming every place it looked, when there is no scheduler at all.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoopbackCluster } from "./helpers/loopbackCluster";
import { freePorts, ROOT, run, SYSTEM_PYTHON, waitFor } from "./helpers/processes";

const IMAGE_DIR = path.join(ROOT, "infra", "image");

// Calls get_client and reports what it got: the scheduler's address, a task's
// result, the dashboard link it configured; or the error (exit 3).
const PROGRAM = `
import json, pathlib, sys
import dask
import dcs_dask

timeout, marker = float(sys.argv[1]), sys.argv[2]
if marker:
    pathlib.Path(marker).touch()
try:
    client = dcs_dask.get_client(timeout=timeout)
except dcs_dask.SchedulerNotFoundError as error:
    print(json.dumps({"error": str(error)}))
    sys.exit(3)
with client:
    client.wait_for_workers(1, timeout=30)
    print(json.dumps({
        "address": client.scheduler.address,
        "result": client.submit(lambda x: x + 1, 41).result(),
        "dashboardLink": dask.config.get("distributed.dashboard.link"),
    }))
`;

interface Outcome {
  code: number;
  address?: string;
  result?: number;
  dashboardLink?: string;
  error?: string;
  stderr: string;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-client-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A notebook's environment: the helper on the path, no bytecode written into infra/image. */
function notebookEnv(vars: Record<string, string | undefined>, pythonPath: string[] = []): NodeJS.ProcessEnv {
  const env = { PATH: process.env.PATH, PYTHONPATH: [...pythonPath, IMAGE_DIR].join(":"), PYTHONDONTWRITEBYTECODE: "1", ...vars };
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
}

async function getClient(vars: Record<string, string | undefined>, { timeout = 20, marker = "", pythonPath = [] as string[] } = {}): Promise<Outcome> {
  const r = await run(SYSTEM_PYTHON, ["-B", "-c", PROGRAM, String(timeout), marker], notebookEnv(vars, pythonPath), (timeout + 60) * 1000);
  const last = r.stdout.trim().split("\n").pop() ?? "";
  return { code: r.code, stderr: r.stderr, ...(last.startsWith("{") ? (JSON.parse(last) as object) : {}) };
}


describe("dcs_dask.get_client with a scheduler up", () => {
  let nodes: LoopbackCluster;
  let schedulerFileAddress: string;
  beforeAll(async () => {
    const [port, dashboardPort] = await freePorts(2);
    nodes = new LoopbackCluster(tmp, port, dashboardPort);
    await nodes.start("driver", true);
    await nodes.start("worker-1", false);
    const schedulerFile = path.join(nodes.runDir("driver"), "scheduler.json");
    await waitFor("the scheduler file", () => fs.existsSync(schedulerFile), 30_000);
    schedulerFileAddress = JSON.parse(fs.readFileSync(schedulerFile, "utf8")).address;
  }, 60_000);
  afterAll(() => nodes.stop(), 60_000);

  it("connects through the scheduler file of the run dir, computes, and points the dashboard link at the driver proxy", async () => {
    // A Spark session as a Databricks notebook has one (a stand-in pyspark with its conf).
    const fake = fs.mkdtempSync(path.join(tmp, "pyspark-"));
    fs.mkdirSync(path.join(fake, "pyspark"));
    fs.writeFileSync(path.join(fake, "pyspark", "__init__.py"), "");
    fs.writeFileSync(
      path.join(fake, "pyspark", "sql.py"),
      [
        "CONF = {'spark.databricks.workspaceUrl': 'adb-1234567890123456.7.azuredatabricks.net',",
        "        'spark.databricks.clusterUsageTags.orgId': '1234567890123456',",
        "        'spark.databricks.clusterUsageTags.clusterId': '0101-000000-loopback'}",
        "class _Conf:",
        "    def get(self, key):",
        "        return CONF[key]",
        "class _Session:",
        "    conf = _Conf()",
        "class SparkSession:",
        "    @staticmethod",
        "    def getActiveSession():",
        "        return _Session()",
        "",
      ].join("\n"),
    );
    // No DB_DRIVER_IP, and a port where nothing listens: only the scheduler file leads to the scheduler.
    const [nowhere] = await freePorts(1);
    const got = await getClient({ DCS_DASK_RUN_DIR: nodes.runDir("driver"), DCS_DASK_SCHEDULER_PORT: String(nowhere), DCS_DASK_DASHBOARD_PORT: "8087" }, { pythonPath: [fake] });
    expect(got.code, got.stderr + got.error).toBe(0);
    expect(got.address).toBe(schedulerFileAddress);
    expect(got.address).toMatch(new RegExp(`:${nodes.port}$`));
    expect(got.result).toBe(42);
    expect(got.dashboardLink).toBe("https://adb-1234567890123456.7.azuredatabricks.net/driver-proxy/o/1234567890123456/0101-000000-loopback/8087/status");
  });

  it("connects to DB_DRIVER_IP and the scheduler port when there is no scheduler file, and leaves the dashboard link alone off Databricks", async () => {
    const empty = fs.mkdtempSync(path.join(tmp, "run-"));
    const got = await getClient({ DCS_DASK_RUN_DIR: empty, DB_DRIVER_IP: "127.0.0.1", DCS_DASK_SCHEDULER_PORT: String(nodes.port) });
    expect(got.code, got.stderr + got.error).toBe(0);
    expect(got.address).toBe(`tcp://127.0.0.1:${nodes.port}`);
    expect(got.result).toBe(42);
    // Dask's own default template, untouched.
    expect(got.dashboardLink).toContain("{host}");
  });

  it("goes past a scheduler file that names a scheduler that is gone, to this node's scheduler port", async () => {
    const stale = fs.mkdtempSync(path.join(tmp, "run-"));
    const [gone] = await freePorts(1);
    fs.writeFileSync(path.join(stale, "scheduler.json"), JSON.stringify({ address: `tcp://127.0.0.1:${gone}` }));
    const got = await getClient({ DCS_DASK_RUN_DIR: stale, DCS_DASK_SCHEDULER_PORT: String(nodes.port) });
    expect(got.code, got.stderr + got.error).toBe(0);
    expect(got.address).toBe(`tcp://127.0.0.1:${nodes.port}`);
    expect(got.result).toBe(42);
  });
});

describe("dcs_dask.get_client without a scheduler", () => {
  it("fails with an error naming every place it looked and what to check", async () => {
    const empty = fs.mkdtempSync(path.join(tmp, "run-"));
    const [port] = await freePorts(1);
    const got = await getClient({ DCS_DASK_RUN_DIR: empty, DB_DRIVER_IP: "127.0.0.2", DCS_DASK_SCHEDULER_PORT: String(port) }, { timeout: 2 });
    expect(got.code, got.stderr).toBe(3);
    expect(got.error).toContain("no Dask scheduler answered within 2.0 s. Tried:");
    expect(got.error).toContain(`  - scheduler file ${empty}/scheduler.json: not found (the scheduler is not running, or not on this node)`);
    expect(got.error).toMatch(new RegExp(`  - tcp://127\\.0\\.0\\.2:${port} \\(DB_DRIVER_IP\\): ConnectionRefusedError`));
    expect(got.error).toMatch(new RegExp(`  - tcp://127\\.0\\.0\\.1:${port} \\(this node\\): ConnectionRefusedError`));
    expect(got.error).toContain("init_script_dask.sh");
    expect(got.error).toContain("dask-scheduler.log");
  });

  it("says what is wrong with a scheduler file it cannot read", async () => {
    const broken = fs.mkdtempSync(path.join(tmp, "run-"));
    fs.writeFileSync(path.join(broken, "scheduler.json"), "{ not json");
    const [port] = await freePorts(1);
    const got = await getClient({ DCS_DASK_RUN_DIR: broken, DCS_DASK_SCHEDULER_PORT: String(port) }, { timeout: 1 });
    expect(got.code, got.stderr).toBe(3);
    expect(got.error).toMatch(new RegExp(`  - scheduler file ${broken}/scheduler\\.json: unreadable: JSONDecodeError`));
  });

  it("waits within its timeout for a scheduler that is still starting", async () => {
    const [port, dashboardPort] = await freePorts(2);
    const nodes = new LoopbackCluster(tmp, port, dashboardPort);
    try {
      const marker = path.join(nodes.dir, "looking");
      const waiting = getClient({ DCS_DASK_RUN_DIR: nodes.runDir("driver"), DCS_DASK_SCHEDULER_PORT: String(port) }, { timeout: 60, marker });
      // The helper is already looking (and finding nothing) when the cluster starts.
      await waitFor("the helper to start looking", () => fs.existsSync(marker), 30_000);
      await nodes.start("driver", true);
      await nodes.start("worker-1", false);
      const got = await waiting;
      expect(got.code, got.stderr + got.error).toBe(0);
      expect(got.result).toBe(42);
    } finally {
      await nodes.stop();
    }
  }, 120_000);

  it("imports with the standard library alone: distributed is needed only by get_client", async () => {
    const r = await run(SYSTEM_PYTHON, ["-B", "-c", "import sys; sys.modules['distributed'] = sys.modules['dask'] = None; import dcs_dask; print(dcs_dask.dashboard_url('https://adb-1.2.azuredatabricks.net/', '1', 'c-1'))"], notebookEnv({}));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("https://adb-1.2.azuredatabricks.net/driver-proxy/o/1/c-1/8087/status");
  });
});
