/**
 * `npm run rehearse` (tools/rehearse): a cluster launch rehearsed on a real
 * Docker engine.
 *
 * Without Docker: the plan equals what the program declares (the offline
 * rendering of the same stack: the cluster's Spark environment, name and size,
 * the image's build arguments, tag, cache and context, the init scripts'
 * order, the smoke job's arguments), also with overrides; the image checks
 * against each requirement; usage errors.
 *
 * With Docker (started by .ci/run; this file fails, it does not skip, when no
 * engine answers): a stand-in for databricksruntime/standard built once with
 * debootstrap (scripts/rehearse-standin-base.sh, cached as an image), and
 * rehearsals of it: images Databricks would refuse are refused before anything
 * starts; a failing init script stops the launch with that script's log; the
 * image built on the stand-in from a context that installs the notebook
 * helper exactly as infra/image/Dockerfile does comes up as a cluster (the
 * Databricks environment, /local_disk0, init-script logs, the dashboard's
 * port) and passes the smoke job; --keep, a taken --run-id, --clean; SIGINT and
 * SIGTERM mid-run.
 * After every run nothing carrying its label is left. No durations are asserted.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RenderedResource } from "../stacks/render/engine";
import { checkImage, DEFAULT_MAX_IMAGE_BYTES, parseProbe, PROBE_SCRIPT, type ProbeFacts } from "../tools/rehearse/checks";
import { main } from "../tools/rehearse/cli";
import { applyOverride, planRehearsal, PlanError, smokeParameters, loadTeamConfig } from "../tools/rehearse/plan";
import { EXIT } from "../tools/rehearse/rehearse";
import { buildImage, docker, engineProblem, helperContext, labelled, NOTHING, rehearsal, standinBase, startRehearsal } from "./helpers/rehearse";
import { ROOT, waitFor } from "./helpers/processes";
import { renderForTest } from "./helpers/record";

const CLUSTER = "databricks:index/cluster:Cluster";
const IMAGE = "docker:index/image:Image";
const JOB = "databricks:index/job:Job";
const byType = (resources: RenderedResource[], type: string) => resources.filter((r) => r.type === type);
const SUFFIX = Math.random().toString(36).slice(2, 8).replace(/[^a-z0-9]/g, "x").padEnd(6, "0");
const runId = (name: string) => `${name}${SUFFIX}`.slice(0, 16);

describe("the rehearsal's plan is the program's", () => {
  it("dev: the cluster's Spark environment, name and size, the build, the scripts' order and the smoke job equal the rendering of the same stack", async () => {
    const rendering = await renderForTest("dev");
    const cluster = byType(rendering.resources, CLUSTER).find((x) => x.name === "cluster-dask-cluster")!;
    const image = byType(rendering.resources, IMAGE).find((x) => x.name === "image-image")!;
    const [job] = byType(rendering.resources, JOB);
    const plan = planRehearsal({ stack: "dev", runId: "plan0001" });

    expect(plan.sparkEnvVars).toEqual(cluster.inputs.sparkEnvVars);
    expect(Object.keys(plan.sparkEnvVars)).toContain("DCS_INIT_SCRIPTS_SHA256");
    expect(plan.clusterName).toBe(cluster.inputs.clusterName);
    expect(plan.workers).toBe(cluster.inputs.numWorkers);
    expect(plan.nodes.map((n) => n.role)).toEqual(["driver", "worker-1", "worker-2"]);
    for (const node of plan.nodes) {
      expect(node.env).toMatchObject({ ...plan.sparkEnvVars, DB_IS_DRIVER: node.isDriver ? "TRUE" : "FALSE", DB_CLUSTER_ID: plan.clusterId, DB_CLUSTER_NAME: "hydrology-dask-dev" });
    }
    expect(plan.clusterId).toMatch(/^\d{4}-\d{6}-[0-9a-f]{8}$/);

    const build = image.inputs.build as { args: Record<string, string>; context: string; dockerfile: string; platform: string; cacheFrom?: { images: string[] } };
    expect(plan.build).toBeDefined();
    expect(plan.build!.buildArgs).toEqual(build.args);
    expect([plan.build!.context, plan.build!.dockerfile, plan.build!.platform]).toEqual([build.context, build.dockerfile, build.platform]);
    expect(plan.build!.cacheFrom).toBe(build.cacheFrom?.images[0]);
    expect(plan.build!.ref).toBe(image.inputs.imageName);
    expect(plan.image).toBe(image.inputs.imageName);
    expect(plan.build!.rehearsalOnly).toBe(false);

    const destinations = (cluster.inputs.initScripts as { workspace: { destination: string } }[]).map((b) => path.basename(b.workspace.destination));
    expect(plan.initScripts.map((f) => f.fileName)).toEqual(destinations);

    const task = (job.inputs.tasks as { sparkPythonTask: { parameters: string[]; pythonFile: string } }[])[0].sparkPythonTask;
    expect(plan.smoke.parameters).toEqual(task.parameters);
    expect(path.basename(plan.smoke.file)).toBe(path.basename(task.pythonFile));
    expect(plan.smoke.note).toBeUndefined();
  }, 60_000);

  it("with overrides (pulumi config set --path style), still the rendering's: the cluster's own variables, Dask settings, size", async () => {
    const overrides: [string, string][] = [
      ["dcs:clusters.dask.sparkEnvVars.TEAM_SETTING", "on"],
      ["dcs:clusters.dask.numWorkers", "3"],
      ["dcs:dask.workerThreads", "2"],
    ];
    const values: Record<string, unknown> = {};
    const team = loadTeamConfig("dev", ROOT);
    values["dcs:clusters"] = structuredClone(team.clusters);
    values["dcs:dask"] = structuredClone(team.dask);
    for (const [k, v] of overrides) applyOverride(values, k, v);
    const rendering = await renderForTest("dev", values);
    const cluster = byType(rendering.resources, CLUSTER).find((x) => x.name === "cluster-dask-cluster")!;
    const plan = planRehearsal({ stack: "dev", runId: "plan0002", overrides });
    expect(plan.sparkEnvVars).toEqual(cluster.inputs.sparkEnvVars);
    expect(plan.sparkEnvVars).toMatchObject({ TEAM_SETTING: "on", DCS_DASK_WORKER_THREADS: "2" });
    expect(plan.workers).toBe(3);
    expect(cluster.inputs.numWorkers).toBe(3);
  }, 60_000);

  it("refuses to rehearse the GPU cluster, naming where its image and its init-script branch are tested instead", () => {
    expect(() => planRehearsal({ stack: "dev", runId: "plan0009", cluster: "gpu" })).toThrow(/cluster gpu boots the GPU image gpu.*test\/gpu-image\.test\.ts/);
  });

  it("caps the workers with --workers and lowers the smoke job's --workers to match; --base keeps every other argument", () => {
    const plan = planRehearsal({ stack: "dev", runId: "plan0003", maxWorkers: 1, base: "local/standin:1" });
    expect(plan.workers).toBe(1);
    expect(plan.clusterWorkers).toBe(2);
    expect(plan.workersNote).toMatch(/--workers 1 caps/);
    expect(plan.smoke.parameters).toEqual(["--workers", "1", "--timeout", "900"]);
    expect(plan.smoke.note).toMatch(/asks for 2 workers.*runs with --workers 1/);
    const stack = planRehearsal({ stack: "dev", runId: "plan0003" }).build!;
    expect(plan.build!.buildArgs).toEqual({ ...stack.buildArgs, BASE_IMAGE: "local/standin:1" });
    expect(plan.build!.cacheFrom).toBeUndefined();
    expect(plan.build!.rehearsalOnly).toBe(true);
    expect(plan.build!.ref).toMatch(new RegExp(`^dcs-rehearsal/hydrology/dask:${stack.stackTag}-base-[0-9a-f]{8}-plan0003$`));
  });

  it("takes the smoke job's arguments in --workers=N form too, and asks for every worker when the stack has no smoke job", () => {
    const team = loadTeamConfig("dev", ROOT);
    const withEquals = { ...team, jobs: { smoke: { ...team.jobs.smoke, parameters: ["--workers=4", "--tasks", "10"] } } };
    expect(smokeParameters(withEquals, 2).parameters).toEqual(["--workers=2", "--tasks", "10"]);
    expect(smokeParameters({ ...team, jobs: {} }, 3)).toMatchObject({ parameters: ["--workers", "3"] });
  });

  it("refuses what cannot be rehearsed, naming the option or key", () => {
    const refuse = (f: () => unknown, message: RegExp) => expect(f).toThrow(expect.objectContaining({ name: PlanError.name, message: expect.stringMatching(message) }));
    refuse(() => planRehearsal({ stack: "platform-dev", runId: "plan0004" }), /platform stack/);
    refuse(() => planRehearsal({ stack: "nope", runId: "plan0004" }), /Pulumi\.nope\.yaml not found/);
    refuse(() => planRehearsal({ stack: "dev", runId: "plan0004", cluster: "other" }), /--cluster.*has no cluster "other".*dask/);
    refuse(() => planRehearsal({ stack: "dev", runId: "plan0004", maxWorkers: 0 }), /--workers/);
    refuse(() => planRehearsal({ stack: "dev", runId: "plan0004", image: "a", base: "b" }), /--image and --base/);
    refuse(() => planRehearsal({ stack: "dev", runId: "Bad_Id" }), /--run-id/);
    refuse(() => planRehearsal({ stack: "dev", runId: "plan0004", overrides: [["dcs:initScripts.dir", "/nonexistent/dcs"]] }), /dcs:initScripts\.dir/);
    refuse(() => planRehearsal({ stack: "dev", runId: "plan0004", overrides: [["dcs:dask.dashboardPort", "8787"]] }), /dcs:dask\.dashboardPort/);
    refuse(() => planRehearsal({ stack: "dev", runId: "plan0004", overrides: [["nonsense", "1"]] }), /--config nonsense/);
  });
});

describe("what Databricks requires of an image", () => {
  const amd64 = { Os: "linux", Architecture: "amd64", Size: 2e9 };
  const good: ProbeFacts = { bash: true, python: "3.12.3", pip: true, pipExecutable: true, commands: { java: true, ip: true, sudo: true, ps: true } };

  it("passes a linux/amd64 image within the size limit with /databricks/python3, pip and bash", () => {
    expect(checkImage(amd64, good)).toEqual({ problems: [], notes: [] });
    expect(checkImage({ ...amd64, Size: DEFAULT_MAX_IMAGE_BYTES }, good).problems).toEqual([]);
  });

  it("refuses another platform, a size above 7 GB (databricks/containers issue #142), no Python, no pip, no bash", () => {
    expect(checkImage({ ...amd64, Architecture: "arm64" }, undefined).problems).toEqual([expect.stringMatching(/linux\/arm64: Databricks runs linux\/amd64 images only/)]);
    expect(checkImage({ ...amd64, Size: 7.2e9 }, good).problems).toEqual([expect.stringMatching(/7\.20 GB .*above the 7\.00 GB limit.*Container setup has timed out.*issue #142/)]);
    expect(checkImage(amd64, { ...good, python: undefined, pip: false }).problems).toEqual([expect.stringMatching(/\/databricks\/python3\/bin\/python is missing/)]);
    expect(checkImage(amd64, { ...good, pip: false }).problems).toEqual([expect.stringMatching(/has no pip/)]);
    expect(checkImage(amd64, { bash: false, pip: false, pipExecutable: false, commands: {}, startError: 'exec: "/bin/bash": stat /bin/bash: no such file or directory' }).problems).toEqual([
      expect.stringMatching(/bash does not start in the image \(exec: "\/bin\/bash": stat/),
    ]);
    expect(checkImage(amd64, good, 1e9).problems).toHaveLength(1);
  });

  it("notes, without refusing, what databricksruntime/minimal ships and the image lacks", () => {
    const r = checkImage(amd64, { ...good, pipExecutable: false, commands: { java: false, ip: true, sudo: false, ps: true } });
    expect(r.problems).toEqual([]);
    expect(r.notes).toEqual([expect.stringMatching(/bin\/pip is missing/), expect.stringMatching(/^not on PATH: java, sudo /)]);
  });

  it("reads the probe's output, and the probe itself runs under bash", () => {
    expect(parseProbe("python=3.11.2\npip=yes\npip_executable=no\ncommand.java=no\ncommand.ps=yes\n")).toEqual({ bash: true, python: "3.11.2", pip: true, pipExecutable: false, commands: { java: false, ps: true } });
    const r = spawnSync("bash", ["-c", PROBE_SCRIPT], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(parseProbe(r.stdout).commands).toHaveProperty("ps");
  });
});

describe("the command line and its scripts", () => {
  it("exits 2 on bad usage, before touching Docker", async () => {
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await main(["--workers", "none"])).toBe(EXIT.usage);
      expect(await main(["--stack", "platform-dev"])).toBe(EXIT.usage);
      expect(await main(["--clean", "NOT AN ID"])).toBe(EXIT.usage);
      expect(await main(["--unknown"])).toBe(EXIT.usage);
    } finally {
      process.stderr.write = write;
    }
    expect(stderr.join("")).toMatch(/--workers: "none" is not a whole number[\s\S]*platform stack[\s\S]*--clean: "NOT AN ID" is not a run id[\s\S]*Unknown option '--unknown'[\s\S]*Usage: npm run rehearse/);
  }, 60_000);

  it("says so, and fails, when no Docker engine answers", async () => {
    const run = startRehearsal(["--image", "dcs-rehearsal-test/none:0", "--run-id", runId("nodock")], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    const r = await run.done;
    expect(r.code, r.output).toBe(EXIT.docker);
    expect(r.output).toMatch(/cannot reach the Docker engine through .*docker.*scripts\/start-dockerd\.sh/s);
  }, 60_000);

  it("its scripts and .ci/run pass shellcheck", () => {
    const r = spawnSync("shellcheck", [path.join(ROOT, "scripts", "rehearse-standin-base.sh"), path.join(ROOT, "scripts", "start-dockerd.sh"), path.join(ROOT, ".ci", "run")], { encoding: "utf8" });
    expect(r.error, "shellcheck must be installed (.ci/run installs it)").toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

/** Set by .ci/run only when no Docker engine could be started there; without it, a missing engine fails these tests. */
const unavailable = process.env.DCS_REHEARSAL_UNAVAILABLE;
const onDocker = unavailable ? describe.skip : describe;

onDocker(unavailable ? `npm run rehearse on a real Docker engine (NOT RUN: ${unavailable})` : "npm run rehearse on a real Docker engine", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-rehearse-test-"));
  const testLabel = `dcs.rehearsal.test=${SUFFIX}`;
  const armImage = `dcs-rehearsal-test/arm64:${SUFFIX}`;
  const noPythonImage = `dcs-rehearsal-test/no-python:${SUFFIX}`;
  let base = "";

  beforeAll(() => {
    const problem = engineProblem();
    if (problem) throw new Error(problem);
    base = standinBase();
    // An arm64 build (no RUN: nothing has to execute to make it) and an amd64 one without the virtualenv.
    buildImage(armImage, "FROM scratch\nLABEL org.opencontainers.image.title=arm64\n", testLabel, "linux/arm64");
    buildImage(noPythonImage, `FROM ${base}\nRUN rm -rf /databricks/python3\n`, testLabel);
    helperContext(path.join(tmp, "context"));
  }, 600_000);

  afterAll(() => {
    const images = labelled(testLabel).images;
    if (images.length > 0) docker(["image", "rm", "--force", ...images]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it("refuses an arm64 image before starting anything, naming its platform", async () => {
    const id = runId("arm");
    const r = await rehearsal(["--image", armImage, "--run-id", id]);
    expect(r.code, r.output).toBe(EXIT.refused);
    expect(r.output).toMatch(/the image is linux\/arm64: Databricks runs linux\/amd64 images only/);
    expect(r.output).not.toMatch(/containers started/);
    expect(labelled(`dcs.rehearsal=${id}`)).toEqual(NOTHING);
  }, 60_000);

  it("refuses an image without /databricks/python3", async () => {
    const id = runId("nopy");
    const r = await rehearsal(["--image", noPythonImage, "--run-id", id]);
    expect(r.code, r.output).toBe(EXIT.refused);
    expect(r.output).toMatch(/\/databricks\/python3\/bin\/python is missing or does not run/);
    expect(r.output).not.toMatch(/containers started/);
    expect(labelled(`dcs.rehearsal=${id}`)).toEqual(NOTHING);
  }, 60_000);

  it("pulls an --image the engine lacks, as a cluster would, and fails naming it when the pull fails", async () => {
    const id = runId("pull");
    const absent = `dcs-rehearsal-test/absent:${SUFFIX}`;
    const r = await rehearsal(["--image", absent, "--run-id", id]);
    expect(r.code, r.output).toBe(EXIT.refused);
    expect(r.output).toMatch(new RegExp(`${absent} is not on this engine: pulling it for linux/amd64`));
    expect(r.output).toMatch(new RegExp(`no image ${absent} on this engine, and pulling it failed`));
    expect(labelled(`dcs.rehearsal=${id}`)).toEqual(NOTHING);
  }, 120_000);

  it("stops the launch at a failing init script with that script's log, as INIT_SCRIPT_FAILURE, and leaves nothing behind", async () => {
    const scripts = path.join(tmp, "failing-init-scripts");
    fs.mkdirSync(scripts);
    fs.copyFileSync(path.join(ROOT, "infra", "init-scripts", "init_script_dask.sh"), path.join(scripts, "init_script_dask.sh"));
    // Runs after the Dask script (scripts run in name order).
    fs.writeFileSync(path.join(scripts, "verify_mounts.sh"), '#!/bin/bash\necho "verify_mounts: looking for /mnt/hydrology on $DB_CONTAINER_IP"\necho "verify_mounts: /mnt/hydrology is not mounted" >&2\nexit 3\n');
    const id = runId("fail");
    const r = await rehearsal(["--image", base, "--workers", "1", "--run-id", id, "--config", `dcs:initScripts.dir=${scripts}`]);
    expect(r.code, r.output).toBe(EXIT.initScript);
    expect(r.output).toMatch(/driver: init_script_dask\.sh returned 0/);
    expect(r.output).toMatch(/INIT_SCRIPT_FAILURE on the driver: init script verify_mounts\.sh \(.*verify_mounts\.sh\) exited with status 3/);
    expect(r.output).toMatch(/INIT_SCRIPT_FAILURE on the worker-1: init script verify_mounts\.sh/);
    expect(r.output).toMatch(/\| --- \/databricks\/init_scripts\/\d{8}_\d{6}_verify_mounts\.sh\.stdout\.log\n\s+\| verify_mounts: looking for \/mnt\/hydrology on \d+\.\d+\.\d+\.\d+/);
    expect(r.output).toMatch(/\| verify_mounts: \/mnt\/hydrology is not mounted/);
    expect(r.output).not.toMatch(/workers joined|smoke job:/);
    expect(r.output).toMatch(/cleaned up: removed 2 container\(s\), 1 network\(s\), 2 volume\(s\)/);
    expect(labelled(`dcs.rehearsal=${id}`)).toEqual(NOTHING);
  }, 120_000);

  describe("after that failure, the image built on the stand-in", () => {
    const kept = runId("keep");
    let output = "";
    let builtRef = "";
    beforeAll(async () => {
      const r = await rehearsal(["--base", base, "--config", `dcs:image.context=${path.join(tmp, "context")}`, "--keep", "--run-id", kept]);
      output = r.output;
      expect(r.code, r.output).toBe(0);
      builtRef = /building (\S+) from /.exec(output)?.[1] ?? "";
    }, 300_000);
    afterAll(async () => {
      await rehearsal(["--clean", kept]);
    }, 60_000);

    it("is built with the program's build arguments on the given base, labelled with the run, and passes the checks", () => {
      const plan = planRehearsal({ stack: "dev", runId: kept, base, overrides: [["dcs:image.context", path.join(tmp, "context")]] });
      expect(builtRef).toBe(plan.build!.ref);
      const labels = JSON.parse(docker(["image", "inspect", "--format", "{{json .Config.Labels}}", builtRef]).stdout) as Record<string, string>;
      expect(labels).toMatchObject({
        "dcs.rehearsal": kept,
        "org.opencontainers.image.revision": plan.build!.buildArgs.IMAGE_REVISION,
        "org.opencontainers.image.version": plan.build!.buildArgs.IMAGE_VERSION,
        "org.opencontainers.image.base.name": `docker.io/${base}`,
      });
      expect(output).toMatch(/checks passed: linux\/amd64, \/databricks\/python3 with pip, bash, size within the limit/);
    });

    it("comes up as a driver and two workers with the Databricks environment, the image's CMD and ENTRYPOINT replaced, /local_disk0 a volume", () => {
      const plan = planRehearsal({ stack: "dev", runId: kept, base, overrides: [["dcs:image.context", path.join(tmp, "context")]] });
      const nodes = labelled(`dcs.rehearsal=${kept}`).containers.sort();
      expect(nodes).toEqual([`dcs-rehearsal-${kept}-driver`, `dcs-rehearsal-${kept}-worker-1`, `dcs-rehearsal-${kept}-worker-2`]);
      const inspect = (name: string) =>
        JSON.parse(docker(["inspect", name]).stdout)[0] as {
          Config: { Env: string[]; Entrypoint: string[]; Cmd: string[] };
          Mounts: { Type: string; Name: string; Destination: string }[];
          NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
        };
      const driver = inspect(`dcs-rehearsal-${kept}-driver`);
      const driverIp = driver.NetworkSettings.Networks[`dcs-rehearsal-${kept}`].IPAddress;
      for (const name of nodes) {
        const c = inspect(name);
        const env = Object.fromEntries(c.Config.Env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
        const isDriver = name.endsWith("-driver");
        expect(env).toMatchObject({ ...plan.sparkEnvVars, DB_IS_DRIVER: isDriver ? "TRUE" : "FALSE", DB_CLUSTER_NAME: "hydrology-dask-dev" });
        expect(env.DB_CLUSTER_ID).toMatch(/^\d{4}-\d{6}-[0-9a-f]{8}$/);
        if (!isDriver) expect(env.DB_DRIVER_IP).toBe(driverIp);
        expect(c.Config.Entrypoint).toEqual(["sleep"]);
        expect(c.Config.Cmd).toEqual(["infinity"]);
        expect(c.Mounts).toEqual([expect.objectContaining({ Type: "volume", Name: name, Destination: "/local_disk0" })]);
        expect(Object.keys(c.NetworkSettings.Networks)).toEqual([`dcs-rehearsal-${kept}`]);
        // The init script ran as on a node: its logs where Databricks keeps them, Dask's run dir on /local_disk0.
        const logs = docker(["exec", name, "ls", "/databricks/init_scripts"]).stdout;
        expect(logs).toMatch(/^\d{8}_\d{6}_init_script_dask\.sh\.stdout\.log$/m);
        expect(docker(["exec", name, "ls", "/local_disk0/dask"]).stdout).toMatch(isDriver ? /scheduler\.json/ : /worker-space/);
      }
    });

    it("runs the init scripts, waits for both workers, passes the smoke job and prints a timing line per phase", () => {
      expect(output).toMatch(/init scripts done on every node: init_script_dask\.sh/);
      expect(output).toMatch(/2 Dask worker\(s\) joined the scheduler on the driver: tcp:\/\/[\d.]+:\d+, tcp:\/\/[\d.]+:\d+/);
      expect(output).toMatch(/^dask-smoke: PASSED: .*2 worker\(s\) \(2 required\), 100 tasks on 2 worker\(s\), results exact/m);
      for (const phase of ["build", "checks", "containers started", "init scripts done", "workers joined", "smoke job"]) {
        expect(output).toMatch(new RegExp(`^rehearse: time: ${phase} \\d+\\.\\d s$`, "m"));
      }
      expect(output).toMatch(/rehearse: PASSED: /);
      expect(output).toMatch(new RegExp(`kept \\(--keep\\).*npm run rehearse -- --clean ${kept}`));
    });

    it("publishes the driver's dashboard port on 127.0.0.1 and prints its URL, which answers", async () => {
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+)\/status/.exec(output)?.[1];
      expect(url, output).toBeDefined();
      // Debian's Dask has no bokeh (its /status says so); /health is the scheduler's own HTTP server.
      const health = await fetch(`${url}/health`);
      expect(await health.text()).toBe("ok");
    });

    it("rehearses that image again with --image and one worker, and cleans up after passing", async () => {
      const id = runId("again");
      const r = await rehearsal(["--image", builtRef, "--workers", "1", "--run-id", id]);
      expect(r.code, r.output).toBe(0);
      expect(r.output).not.toMatch(/time: build/);
      expect(r.output).toMatch(/the cluster has 2 workers; --workers 1 caps the rehearsal/);
      expect(r.output).toMatch(/the job asks for 2 workers; the rehearsal starts 1, so it runs with --workers 1/);
      expect(r.output).toMatch(/^dask-smoke: PASSED: .*1 worker\(s\) \(1 required\)/m);
      expect(r.output).toMatch(/cleaned up: removed 2 container\(s\), 1 network\(s\), 2 volume\(s\)$/m);
      expect(labelled(`dcs.rehearsal=${id}`)).toEqual(NOTHING);
      // The kept run is untouched by another run's cleanup.
      expect(labelled(`dcs.rehearsal=${kept}`).containers).toHaveLength(3);
    }, 120_000);

    it("refuses a --run-id that a kept run still uses, and leaves that run alone", async () => {
      const r = await rehearsal(["--image", builtRef, "--run-id", kept]);
      expect(r.code, r.output).toBe(EXIT.usage);
      expect(r.output).toMatch(new RegExp(`run id ${kept} is taken: .*container dcs-rehearsal-${kept}-driver, .*network dcs-rehearsal-${kept}.*--clean ${kept}`));
      expect(r.output).not.toMatch(/cleaned up/);
      expect(labelled(`dcs.rehearsal=${kept}`).containers).toHaveLength(3);
    }, 60_000);

    it("--clean removes everything the kept run created, its image too, and nothing else", async () => {
      const r = await rehearsal(["--clean", kept]);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toMatch(/removed 3 container\(s\), 1 network\(s\), 3 volume\(s\), 1 image\(s\)/);
      expect(labelled(`dcs.rehearsal=${kept}`)).toEqual(NOTHING);
      expect(docker(["image", "inspect", base]).code).toBe(0);
    }, 60_000);
  });

  it.each([
    ["SIGINT", EXIT.interruptedInt],
    ["SIGTERM", EXIT.interruptedTerm],
  ] as const)("stops on %s mid-run, removes what it started and exits %i", async (signal, status) => {
    const id = runId(signal.toLowerCase());
    const run = startRehearsal(["--image", base, "--run-id", id]);
    await waitFor("the containers to start", () => /containers started on network/.test(run.output()), 60_000);
    run.child.kill(signal);
    const r = await run.done;
    expect(r.code, r.output).toBe(status);
    expect(r.output).toMatch(new RegExp(`interrupted \\(${signal}\\): cleaning up`));
    expect(r.output).toMatch(/cleaned up: removed 3 container\(s\), 1 network\(s\), 3 volume\(s\)/);
    expect(labelled(`dcs.rehearsal=${id}`)).toEqual(NOTHING);
  }, 120_000);

});
