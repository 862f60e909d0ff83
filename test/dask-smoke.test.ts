/**
 * jobs/dask_smoke.py, the Dask smoke job, run as a job cluster's driver runs it:
 * with a real Dask (Debian's python3-distributed under /usr/bin/python3), a
 * driver and two workers that the init script started on 127.0.0.1, and the
 * driver's environment (the Spark env vars the job cluster gets, and the run
 * dir whose scheduler file dcs_dask.get_client() reads). It passes and says so;
 * it fails with its own exit code, naming the problem, when there is no
 * scheduler, when fewer workers join than asked, on bad arguments and without
 * dcs_dask. Nodes are stopped with the script's own --stop, workers first; then
 * anything left of their sessions or naming their folder fails the suite.
 * Nothing here measures time.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoopbackCluster } from "./helpers/loopbackCluster";
import { freePorts, ROOT, run, SYSTEM_PYTHON, waitFor } from "./helpers/processes";

const IMAGE_DIR = path.join(ROOT, "infra", "image");
const JOB = path.join(ROOT, "jobs", "dask_smoke.py");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-smoke-job-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The driver's environment for the job's Python: the image's helper on the path, the cluster's Dask variables. */
function driverEnv(vars: Record<string, string | undefined>, pythonPath: string[] = [IMAGE_DIR]): NodeJS.ProcessEnv {
  const env = { PATH: process.env.PATH, PYTHONPATH: pythonPath.join(":"), PYTHONDONTWRITEBYTECODE: "1", DB_IS_DRIVER: "TRUE", ...vars };
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
}

/** Runs the job as a spark_python_task would: the file, then its parameters. */
function smoke(params: string[], vars: Record<string, string | undefined>, pythonPath?: string[]) {
  return run(SYSTEM_PYTHON, ["-B", JOB, ...params], driverEnv(vars, pythonPath), 180_000);
}


describe("jobs/dask_smoke.py on a driver with two workers", () => {
  let cluster: LoopbackCluster;
  beforeAll(async () => {
    const [port, dashboardPort] = await freePorts(2);
    cluster = new LoopbackCluster(tmp, port, dashboardPort);
    await cluster.start("driver", true);
    await cluster.start("worker-1", false);
    await cluster.start("worker-2", false);
    // Both workers in before any test, so "how many joined" has one answer.
    await waitFor("both workers to register", () => cluster.registered("worker-1") && cluster.registered("worker-2"), 60_000);
  }, 90_000);
  afterAll(() => cluster.stop(), 90_000);

  it("finds the scheduler through the driver's scheduler file, computes exactly on both workers, and prints each step and a summary", async () => {
    const r = await smoke(["--workers", "2", "--timeout", "60"], cluster.daskVars("driver"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("FAILED");
    const lines = r.stdout.trim().split("\n");
    expect(lines.map((l) => l.replace(/tcp:\/\/[\d.]+:\d+/g, "<addr>").replace(/\d+\.\d+ s$/, "<t> s").replace(/ \d+(, <addr>|$)/g, " <n>$1"))).toEqual([
      "dask-smoke: connecting to the cluster's Dask scheduler (waiting up to 60 s for it and 2 worker(s))",
      "dask-smoke: connected to <addr>",
      "dask-smoke: 2 worker(s) joined (at least 2 asked for): <addr>, <addr>",
      expect.stringMatching(/^dask-smoke: client, scheduler and 2 worker\(s\) run dask \S+, distributed \S+$/),
      "dask-smoke: computing: 100 tasks through client.map and the sum of a 1000000-element dask.array (up to 60 s)",
      "dask-smoke: results exact: sum of squares 328350, array sum 499999500000; tasks per worker: <addr> <n>, <addr> <n>",
      expect.stringMatching(/^dask-smoke: PASSED: scheduler <addr>, 2 worker\(s\) \(2 required\), 100 tasks on 2 worker\(s\), results exact, dask \S+, distributed \S+, <t> s$/),
    ]);
    // The address the init script wrote to the scheduler file (the node's own address), on the stack's port.
    const schedulerFile = JSON.parse(fs.readFileSync(path.join(cluster.runDir("driver"), "scheduler.json"), "utf8")) as { address: string };
    expect(schedulerFile.address).toMatch(new RegExp(`:${cluster.port}$`));
    expect(lines[1]).toBe(`dask-smoke: connected to ${schedulerFile.address}`);
    // Every task is counted once, on one of the two workers.
    const shares = [...lines[5].matchAll(/tcp:\/\/[\d.]+:\d+ (\d+)/g)].map((m) => Number(m[1]));
    expect(shares).toHaveLength(2);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(100);
  }, 120_000);

  it("also runs when a runner executes the file under a module name other than __main__", async () => {
    const runner = `import runpy, sys; sys.argv = [sys.argv[1], "--workers", "2", "--timeout", "60"]; runpy.run_path(sys.argv[0], run_name="job_runner")`;
    const r = await run(SYSTEM_PYTHON, ["-B", "-c", runner, JOB], driverEnv(cluster.daskVars("driver")), 180_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dask-smoke: PASSED: .*2 worker\(s\) \(2 required\), 100 tasks on 2 worker\(s\), results exact/m);
  }, 120_000);

  it("fails with exit 4 naming who joined when fewer workers join than asked", async () => {
    const r = await smoke(["--workers", "3", "--timeout", "5"], cluster.daskVars("driver"));
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/^dask-smoke: FAILED: only 2 of 3 workers joined within 5 s \(joined: tcp:\/\/[\d.]+:\d+, tcp:\/\/[\d.]+:\d+\)\. /m);
    expect(r.stderr).toContain("dask-worker.log");
    expect(r.stdout).not.toContain("PASSED");
  }, 120_000);
});

describe("jobs/dask_smoke.py without a working cluster", () => {
  it("fails with exit 3 and get_client's account of every place it looked when no scheduler answers", async () => {
    const empty = fs.mkdtempSync(path.join(tmp, "run-"));
    const [port] = await freePorts(1);
    const r = await smoke(["--workers", "2", "--timeout", "2"], { DB_DRIVER_IP: "127.0.0.2", DCS_DASK_RUN_DIR: empty, DCS_DASK_SCHEDULER_PORT: String(port) });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^dask-smoke: FAILED: no Dask scheduler answered within 2(\.0)? s\. Tried:$/m);
    expect(r.stderr).toContain(`  - scheduler file ${empty}/scheduler.json: not found`);
    expect(r.stderr).toMatch(new RegExp(`  - tcp://127\\.0\\.0\\.2:${port} \\(DB_DRIVER_IP\\): ConnectionRefusedError`));
    expect(r.stderr).toContain("init_script_dask.sh");
    expect(r.stdout.trim().split("\n")).toEqual(["dask-smoke: connecting to the cluster's Dask scheduler (waiting up to 2 s for it and 2 worker(s))"]);
  }, 60_000);

  it("fails with exit 9 when the image's dcs_dask is not on the Python path", async () => {
    const r = await smoke(["--timeout", "2"], {}, []);
    expect(r.code, r.stderr).toBe(9);
    expect(r.stderr).toMatch(/dask-smoke: FAILED: cannot import dcs_dask: this Python \(.*\) is not the dcs image's\. Check the job cluster's docker image\./);
  });

  it.each([
    [["--workers", "0"], /--workers: must be at least 1, got 0/],
    [["--timeout", "soon"], /--timeout: not a number: 'soon'/],
    [["--bogus"], /unrecognized arguments: --bogus/],
  ])("refuses %j with exit 2 (usage) before looking for a scheduler", async (params, message) => {
    const r = await smoke(params, {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("imports nothing beyond the standard library, dask, distributed (numpy through dask.array) and dcs_dask", async () => {
    const program = [
      "import ast, json, sys",
      "tree = ast.parse(open(sys.argv[1]).read())",
      "names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}",
      "names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}",
      "print(json.dumps(sorted({m.split('.')[0] for m in names})))",
    ].join("\n");
    const r = await run(SYSTEM_PYTHON, ["-B", "-c", program, JOB], { PATH: process.env.PATH });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(["argparse", "asyncio", "dask", "dcs_dask", "distributed", "operator", "sys", "time", "traceback"]);
  });
});
