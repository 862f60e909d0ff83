/**
 * run-smoke-job.sh, the stack's smoke job run after the deployment (issue 13,
 * item 5), run for real against the stand-in commands of
 * test/helpers/ci-standins.ts and scripted runs: success, failure with the
 * task's error and output tail, a cluster that cannot start, a skipped run,
 * no such job, CLI failures, the timeout and an interrupted step (the run
 * cancelled), the workspace of the stack's platform stack, bad usage; never
 * printing a secret.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { calls } from "./helpers/ci-fakes";
import { ciSandbox, type Obj, SECRETS } from "./helpers/ci-standins";
import { ROOT } from "./helpers/record";

const { sandbox, fakes, runScript } = ciSandbox("dcs-ci-smoke-job-");

const JOB_ID = "4242";
const RUN_ID = 9001;
const TASK_RUN_ID = 9002;
const RUN_PAGE = `https://adb-1234567890123456.7.azuredatabricks.net/?o=1234567890123456#job/${JOB_ID}/run/${RUN_ID}`;
/** What the stack's jobs output holds (`pulumi stack output jobs --json`). */
const JOBS_OUTPUT = { smoke: { id: JOB_ID, url: `https://adb-1234567890123456.7.azuredatabricks.net/#job/${JOB_ID}` } };
/** A credential of the step's environment (Azure DevOps maps DATABRICKS_TOKEN into it). */
const STEP_TOKEN = "dapi-step-token-5e6f7a8b";

/** A `databricks jobs get-run -o json` answer, with the secrets a real run's cluster spec carries. */
function jobRun(life: string, opts: { result?: string; message?: string; task?: { life: string; result?: string; message?: string }; termination?: Obj } = {}): string {
  const task = opts.task ?? { life, result: opts.result };
  return JSON.stringify({
    job_id: Number(JOB_ID),
    run_id: RUN_ID,
    number_in_job: RUN_ID,
    run_page_url: RUN_PAGE,
    state: { life_cycle_state: life, ...(opts.result ? { result_state: opts.result } : {}), state_message: opts.message ?? "" },
    ...(opts.termination ? { status: { state: "TERMINATED", termination_details: opts.termination } } : {}),
    tasks: [
      {
        run_id: TASK_RUN_ID,
        task_key: "dask_smoke",
        state: { life_cycle_state: task.life, ...(task.result ? { result_state: task.result } : {}), state_message: task.message ?? "" },
        spark_python_task: { python_file: "/Workspace/Shared/dcs/jobs/dev/dask_smoke.py", parameters: ["--workers", "2"] },
        new_cluster: {
          docker_image: { url: "dcshydrologydev.azurecr.io/hydrology/dask@sha256:aaaa", basic_auth: { username: "3f6c1f1e", password: SECRETS[0] } },
          spark_env_vars: { DCS_DASK_SCHEDULER_PORT: "8786", TOKENISH: SECRETS[1] },
        },
      },
    ],
  });
}

interface SmokeScenario {
  /** The value of the stack's jobs output. */
  jobs?: unknown;
  /** The answers of `jobs get-run`, in order (the last one repeats). */
  runs: string[];
  /** The task run's `jobs get-run-output` answer. */
  output?: Obj;
  stack?: string;
  args?: string[];
  env?: Record<string, string>;
}

function smokeRun(s: SmokeScenario) {
  const dir = fakes();
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(s.jobs ?? JOBS_OUTPUT));
  fs.writeFileSync(path.join(dir, "run-now.json"), JSON.stringify({ run_id: RUN_ID, number_in_job: RUN_ID }));
  fs.writeFileSync(path.join(dir, `run-${RUN_ID}.seq`), s.runs.map((r) => `${r}\n`).join(""));
  if (s.output) fs.writeFileSync(path.join(dir, `output-${TASK_RUN_ID}.json`), JSON.stringify(s.output));
  const env = { DCS_SMOKE_INTERVAL_SECONDS: "0", DATABRICKS_AUTH_TYPE: "azure-cli", DATABRICKS_TOKEN: STEP_TOKEN, ...s.env };
  const r = runScript("run-smoke-job.sh", [s.stack ?? "dev", ...(s.args ?? [])], dir, env);
  const text = r.stdout + r.stderr;
  for (const secret of [...SECRETS, STEP_TOKEN]) expect(text, "no secret is ever printed").not.toContain(secret);
  return { dir, r, text, databricks: () => calls(dir, "databricks").map((c) => c.slice(0, -3)) };
}

/** The output of dask_smoke.py as get-run-output gives it: `lines` lines, the last ones its verdict. */
function smokeLogs(lines: number, last: string): string {
  return [...Array.from({ length: lines - 1 }, (_, i) => `dask-smoke: line ${i + 1}`), last].join("\n") + "\n";
}

describe("run-smoke-job.sh", () => {
  it("success: runs the job of the jobs output, waits for the run, prints the run page, the result and the task's last line", () => {
    const passed = "dask-smoke: PASSED: scheduler tcp://10.1.2.3:8786, 2 workers, dask 2024.2.1, distributed 2024.2.1, 14.2 s";
    const s = smokeRun({
      runs: [jobRun("PENDING", { message: "Waiting for cluster" }), jobRun("RUNNING"), jobRun("RUNNING"), jobRun("TERMINATED", { result: "SUCCESS" })],
      output: { logs: smokeLogs(6, passed), metadata: { run_id: TASK_RUN_ID } },
    });
    expect(s.r.status, s.text).toBe(0);
    expect(calls(s.dir, "pulumi")).toEqual([["stack", "output", "jobs", "--json", "--stack", "dev"]]);
    expect(s.databricks()).toEqual([
      ["jobs", "run-now", JOB_ID, "--no-wait", "-o", "json"],
      ["jobs", "get-run", String(RUN_ID), "-o", "json"],
      ["jobs", "get-run", String(RUN_ID), "-o", "json"],
      ["jobs", "get-run", String(RUN_ID), "-o", "json"],
      ["jobs", "get-run", String(RUN_ID), "-o", "json"],
      ["jobs", "get-run-output", String(TASK_RUN_ID), "-o", "json"],
    ]);
    const lines = s.r.stdout.split("\n");
    expect(lines).toContain(`run-smoke-job: started run ${RUN_ID} of job smoke (job id ${JOB_ID}) of stack dev; waiting up to 30m`);
    expect(lines).toContain(`run-smoke-job: run ${RUN_ID}: ${RUN_PAGE}`);
    // Each state once, as it comes.
    expect(lines.filter((l) => l.startsWith(`run-smoke-job: run ${RUN_ID}: `) && !l.includes("https://"))).toEqual([
      `run-smoke-job: run ${RUN_ID}: PENDING (Waiting for cluster)`,
      `run-smoke-job: run ${RUN_ID}: RUNNING`,
      `run-smoke-job: run ${RUN_ID}: TERMINATED`,
    ]);
    expect(s.r.stdout).toContain(`task dask_smoke (run ${TASK_RUN_ID}), last line of its output: ${passed}`);
    expect(s.r.stdout).toMatch(new RegExp(`run-smoke-job: PASSED: job smoke of stack dev, run ${RUN_ID}: SUCCESS after \\d+s: ${RUN_PAGE.replace(/[?.#/]/g, "\\$&")}\\n$`));
    // The workspace of dev's platform stack, as for the cluster check.
    expect(new Set(calls(s.dir, "databricks").map((c) => c.slice(-3).join(" ")))).toEqual(new Set(["host=https://adb-1234567890123456.7.azuredatabricks.net resource= auth=azure-cli"]));
  });

  it("failure: fails with the run's state and message, the task's error, its error trace and the last lines of its output", () => {
    const logs = [
      ...Array.from({ length: 95 }, (_, i) => `dask-smoke: waiting for workers, line ${i + 1}`),
      `dask-smoke: connected with token ${STEP_TOKEN}`, // a credential of the step: hidden
      "::set-env name=X::1", // a GitHub workflow command: must not reach the log as one
      "##vso[task.setvariable variable=X]1", // an Azure DevOps logging command: likewise
      "dask-smoke: only 1 of 2 workers joined within 900 s: tcp://10.1.2.4:40000",
      "dask-smoke: FAILED: fewer workers than --workers joined (exit 4); see the workers' init-script logs",
    ].join("\n");
    const s = smokeRun({
      runs: [
        jobRun("PENDING"),
        jobRun("RUNNING"),
        jobRun("TERMINATED", {
          result: "FAILED",
          message: "Task dask_smoke failed with message: Workload failed, see run output for details.",
          task: { life: "TERMINATED", result: "FAILED", message: "Workload failed, see run output for details" },
          termination: { code: "RUN_EXECUTION_ERROR", type: "CLIENT_ERROR", message: "Task dask_smoke failed with message: Workload failed." },
        }),
      ],
      output: {
        error: "dask-smoke: FAILED: fewer workers than --workers joined (exit 4)",
        error_trace: Array.from({ length: 60 }, (_, i) => `trace line ${i + 1}`).join("\n"),
        logs,
        logs_truncated: false,
      },
    });
    expect(s.r.status).toBe(1);
    const out = s.r.stdout;
    expect(out).toMatch(
      new RegExp(
        `run-smoke-job: FAILED: job smoke of stack dev, run ${RUN_ID} ended TERMINATED FAILED after \\d+s: Task dask_smoke failed with message: Workload failed, see run output for details\\.; termination: RUN_EXECUTION_ERROR \\(CLIENT_ERROR\\): Task dask_smoke failed with message: Workload failed\\.\\n`,
      ),
    );
    expect(out).toContain(`run-smoke-job: run page: ${RUN_PAGE}\n`);
    expect(out).toContain(`run-smoke-job: task dask_smoke (run ${TASK_RUN_ID}): TERMINATED FAILED: Workload failed, see run output for details\n`);
    expect(out).toContain("  error: dask-smoke: FAILED: fewer workers than --workers joined (exit 4)\n");
    // The last 40 lines of each, no more.
    expect(out).toContain("  error trace (last 40 of 60 lines):\n  | trace line 21\n");
    expect(out).not.toContain("trace line 20\n");
    expect(out).toContain("  | trace line 60\n");
    expect(out).toContain("  output (last 40 of 100 lines):\n  | dask-smoke: waiting for workers, line 61\n");
    expect(out).not.toContain("waiting for workers, line 60\n");
    expect(out).toContain("  | dask-smoke: FAILED: fewer workers than --workers joined (exit 4); see the workers' init-script logs\n");
    expect(out).toContain("  | dask-smoke: connected with token ***\n");
    // Run text never starts a line with "::" nor carries "##vso[".
    expect(out.split("\n").some((l) => /^\s*::/.test(l))).toBe(false);
    expect(out).not.toContain("##vso[");
    expect(out).toContain("  | ::set-env name=X::1\n");
    expect(s.r.stderr).toBe(`run-smoke-job: job smoke of stack dev failed: ${RUN_PAGE}\n`);
    expect(s.databricks().at(-1)).toEqual(["jobs", "get-run-output", String(TASK_RUN_ID), "-o", "json"]);
    // DCS_SMOKE_LOG_LINES shortens the tail.
    const short = smokeRun({ runs: [jobRun("TERMINATED", { result: "FAILED", task: { life: "TERMINATED", result: "FAILED" } })], output: { logs: smokeLogs(10, "dask-smoke: FAILED: x"), logs_truncated: true }, env: { DCS_SMOKE_LOG_LINES: "2" } });
    expect(short.r.stdout).toContain("  output (last 2 of 10 lines; Databricks returns only the last 5 MB):\n  | dask-smoke: line 9\n  | dask-smoke: FAILED: x\n");
  });

  it("a job cluster that cannot start: INTERNAL_ERROR fails with the state message and the termination details; a task without output says so", () => {
    const message = "Cluster 0101-000000-jobc was terminated. Reason: INIT_SCRIPT_FAILURE (CLIENT_ERROR). Parameters: instance_id:abc, databricks_error_message:Cluster scoped init script /Workspace/Shared/dcs/init/dev/dask.sh failed: Script exit status is non-zero.";
    const s = smokeRun({
      runs: [jobRun("PENDING"), jobRun("INTERNAL_ERROR", { result: "FAILED", message, task: { life: "INTERNAL_ERROR", result: "FAILED", message }, termination: { code: "CLUSTER_ERROR", type: "CLIENT_ERROR", message } })],
      output: { error: message },
    });
    expect(s.r.status).toBe(1);
    expect(s.r.stdout).toContain(`ended INTERNAL_ERROR FAILED after`);
    expect(s.r.stdout).toContain(`: ${message}; termination: CLUSTER_ERROR (CLIENT_ERROR): ${message}\n`);
    expect(s.r.stdout).toContain(`  error: ${message}\n  output: none recorded\n`);
  });

  it("a skipped run (another run of the job was active) fails, saying why; a task output that cannot be read is named", () => {
    const s = smokeRun({ runs: [jobRun("SKIPPED", { message: "Skipping this run because the limit of 1 maximum concurrent runs has been reached.", task: { life: "SKIPPED" } })] });
    expect(s.r.status).toBe(1);
    expect(s.r.stdout).toContain(`run ${RUN_ID} ended SKIPPED after`);
    expect(s.r.stdout).toContain("a skipped run never ran: another run of the job was active (one run at a time)");
    expect(s.r.stdout).toContain(`run-smoke-job:   its output cannot be read: Error: Run output of ${TASK_RUN_ID} is not available.`);
  });

  it("no such job: a stack without the job, or without a jobs output at all (a platform stack), says so and passes without Databricks", () => {
    const other = smokeRun({ jobs: { nightly: { id: "77", url: "u" } }, runs: [] });
    expect(other.r.status, other.text).toBe(0);
    expect(other.r.stdout).toBe("run-smoke-job: stack dev declares no job smoke (its jobs: nightly): nothing to run\n");
    const none = smokeRun({ jobs: {}, runs: [] });
    expect(none.r.stdout).toContain("declares no job smoke (its jobs: none)");
    for (const stack of ["dev", "platform-dev"]) {
      const noOutput = smokeRun({ stack, runs: [], env: { FAKE_NO_OUTPUT: "1" } });
      expect(noOutput.r.status, noOutput.text).toBe(0);
      expect(noOutput.r.stdout).toBe(`run-smoke-job: stack ${stack} has no jobs output (a platform stack, or one deployed without jobs): no job smoke to run\n`);
      expect(calls(noOutput.dir, "pulumi")).toEqual([["stack", "output", "jobs", "--json", "--stack", stack]]);
    }
    for (const d of [other, none]) expect(calls(d.dir, "databricks")).toEqual([]);
    // Another job, by name.
    const nightly = smokeRun({ jobs: { smoke: JOBS_OUTPUT.smoke, nightly: { id: "77", url: "u" } }, runs: [jobRun("TERMINATED", { result: "SUCCESS" })], args: ["nightly"] });
    expect(nightly.r.status, nightly.text).toBe(0);
    expect(nightly.databricks()[0]).toEqual(["jobs", "run-now", "77", "--no-wait", "-o", "json"]);
    expect(nightly.r.stdout).toContain("PASSED: job nightly of stack dev");
  });

  it("CLI failures: Pulumi, run-now and get-run failing fail the step with their error; a jobs output that is no job map too", () => {
    const pulumiDown = smokeRun({ runs: [], env: { FAKE_OUTPUTS_FAIL: "1" } });
    expect(pulumiDown.r.status).toBe(1);
    expect(pulumiDown.r.stderr).toContain("run-smoke-job: cannot read the jobs output of stack dev: error: no stack named");
    expect(calls(pulumiDown.dir, "databricks")).toEqual([]);

    const refused = smokeRun({ runs: [], env: { FAKE_RUN_NOW_ERROR: "Error: Job 4242 does not exist." } });
    expect(refused.r.status).toBe(1);
    expect(refused.r.stderr).toBe(`run-smoke-job: FAILED: cannot start job smoke (job id ${JOB_ID}) of stack dev: Error: Job 4242 does not exist. \n`);
    expect(refused.databricks()).toEqual([["jobs", "run-now", JOB_ID, "--no-wait", "-o", "json"]]);

    const unreadable = smokeRun({ runs: [], env: { FAKE_GET_RUN_ERROR: "Error: Invalid access token." } });
    expect(unreadable.r.status).toBe(1);
    expect(unreadable.r.stderr).toContain(`run-smoke-job: FAILED: cannot read run ${RUN_ID} of job smoke (5 attempts in a row): Error: Invalid access token.`);
    expect(unreadable.databricks().filter((c) => c[1] === "get-run")).toHaveLength(5);

    for (const jobs of ["[secret]", { smoke: { id: "not-a-job-id" } }, { smoke: null }]) {
      const bad = smokeRun({ jobs, runs: [] });
      expect(bad.r.status, JSON.stringify(jobs)).toBe(1);
      expect(bad.r.stderr).toContain("run-smoke-job: cannot read the jobs output of stack dev: job-run.js:");
      expect(calls(bad.dir, "databricks")).toEqual([]);
    }
  });

  it("a run still going at DCS_SMOKE_TIMEOUT is cancelled and fails the step", () => {
    const s = smokeRun({ runs: [jobRun("PENDING"), jobRun("RUNNING")], env: { DCS_SMOKE_TIMEOUT: "1s", DCS_SMOKE_INTERVAL_SECONDS: "0.05" } });
    expect(s.r.status).toBe(1);
    expect(s.r.stdout).toContain(`run-smoke-job: FAILED: run ${RUN_ID} of job smoke of stack dev is still RUNNING after DCS_SMOKE_TIMEOUT=1s: ${RUN_PAGE}\n`);
    expect(s.r.stderr).toContain(`run-smoke-job: cancelled run ${RUN_ID} (timed out): ${RUN_PAGE}`);
    expect(s.databricks().at(-1)).toEqual(["jobs", "cancel-run", String(RUN_ID), "--no-wait"]);
    expect(s.databricks().filter((c) => c[1] === "get-run").length).toBeGreaterThanOrEqual(3);
  });

  it("a step that is interrupted (the job cancelled, or its own timeout) cancels the run", async () => {
    const dir = fakes();
    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(JOBS_OUTPUT));
    fs.writeFileSync(path.join(dir, "run-now.json"), JSON.stringify({ run_id: RUN_ID }));
    fs.writeFileSync(path.join(dir, `run-${RUN_ID}.seq`), `${jobRun("RUNNING")}\n`);
    const child = spawn("bash", [path.join("scripts/ci", "run-smoke-job.sh"), "dev"], {
      cwd: ROOT,
      env: { PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: sandbox, FAKE_DIR: dir, DCS_SMOKE_INTERVAL_SECONDS: "60" },
    });
    let [stdout, stderr] = ["", ""];
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Once the run is being waited for, the runner stops the step.
    for (let i = 0; i < 400 && !stdout.includes(`run ${RUN_ID}: RUNNING`); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(calls(dir, "databricks").map((c) => c.slice(0, -3)).at(-1)).toEqual(["jobs", "cancel-run", String(RUN_ID), "--no-wait"]);
    expect(stderr).toContain(`run-smoke-job: cancelled run ${RUN_ID} (terminated): ${RUN_PAGE}`);
  }, 30_000);

  it("gives the Databricks CLI the workspace of prod's platform stack (its resource id) unless a host is set", () => {
    const prod = smokeRun({ stack: "prod", runs: [jobRun("TERMINATED", { result: "SUCCESS" })] });
    expect(prod.r.status, prod.text).toBe(0);
    expect(new Set(calls(prod.dir, "databricks").map((c) => c.at(-2)))).toEqual(
      new Set(["resource=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-databricks-prod/providers/Microsoft.Databricks/workspaces/dbw-hydrology-prod"]),
    );
    const ado = smokeRun({ stack: "prod", runs: [jobRun("TERMINATED", { result: "SUCCESS" })], env: { DATABRICKS_HOST: "https://adb-42.1.azuredatabricks.net", DATABRICKS_AUTH_TYPE: "pat" } });
    expect(new Set(calls(ado.dir, "databricks").map((c) => c.slice(-3).join(" ")))).toEqual(new Set(["host=https://adb-42.1.azuredatabricks.net resource= auth=pat"]));
  });

  it("refuses bad usage, a bad job name, a bad timeout and an unknown stack, before anything runs", () => {
    const cases: [string[], Record<string, string>, string][] = [
      [[], {}, "usage: scripts/ci/run-smoke-job.sh STACK [JOB]"],
      [["dev", "smoke", "extra"], {}, "usage: scripts/ci/run-smoke-job.sh STACK [JOB]"],
      [["dev", "Smoke;rm"], {}, "JOB is a name of the stack's dcs:jobs"],
      [["nosuchstack"], {}, "no stack file Pulumi.nosuchstack.yaml"],
      [["dev"], { DCS_SMOKE_TIMEOUT: "soon" }, "DCS_SMOKE_TIMEOUT must be a duration such as 30m, 1h30m or 90s (or seconds), got 'soon'"],
      [["dev"], { DCS_SMOKE_TIMEOUT: "0m" }, "got '0m'"],
      [["dev"], { DCS_SMOKE_INTERVAL_SECONDS: "often" }, "DCS_SMOKE_INTERVAL_SECONDS must be a number of seconds"],
      [["dev"], { DCS_SMOKE_LOG_LINES: "0" }, "DCS_SMOKE_LOG_LINES must be a number of lines"],
    ];
    for (const [args, env, message] of cases) {
      const dir = fakes();
      const r = runScript("run-smoke-job.sh", args, dir, env);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
      expect(calls(dir)).toEqual([]);
    }
    // Durations as Go writes them, and plain seconds.
    for (const timeout of ["1h30m", "45m", "90s", "1800"]) {
      const ok = smokeRun({ runs: [jobRun("TERMINATED", { result: "SUCCESS" })], env: { DCS_SMOKE_TIMEOUT: timeout } });
      expect(ok.r.status, timeout).toBe(0);
      expect(ok.r.stdout).toContain(`waiting up to ${timeout}`);
    }
  });
});
