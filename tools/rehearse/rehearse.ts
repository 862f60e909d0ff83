/**
 * A cluster launch rehearsed on the local Docker engine, the way Databricks
 * Container Services starts a custom container:
 *   1. build the image from the stack's context with the program's arguments
 *      (or take an existing one, pulled as a cluster pulls it when missing),
 *      and check what Databricks requires of it;
 *   2. start a driver and N workers on a private network: CMD and ENTRYPOINT
 *      ignored (the entrypoint is replaced by a sleep), the Databricks
 *      environment (DB_IS_DRIVER, DB_CLUSTER_ID, DB_CLUSTER_NAME, DB_DRIVER_IP on
 *      workers, and the cluster's Spark environment variables), /local_disk0 a
 *      volume of each node;
 *   3. run the stack's init scripts in order as root on every node, with
 *      DB_CONTAINER_IP and DB_DRIVER_IP set (Docker assigns addresses at start,
 *      so those two are given to every command run in a node); logs in
 *      /databricks/init_scripts/ as on a node; a failing script stops the
 *      launch, as INIT_SCRIPT_FAILURE does;
 *   4. wait for the Dask workers, run the smoke job on the driver, print the
 *      dashboard's local URL and a timing line per phase;
 *   5. remove every container, network, volume and image it created (unless
 *      --keep), also after a failure or an interruption, by the run's label
 *      and its own image tag only; a run id whose label is in use is refused.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkImage, DATABRICKS_PYTHON, DEFAULT_MAX_IMAGE_BYTES, isAmd64Linux, parseProbe, PROBE_SCRIPT, type ImageFacts, type ProbeFacts } from "./checks";
import { Docker, DockerError, Interrupted } from "./docker";
import type { NodePlan, RehearsalPlan } from "./plan";

/** Exit statuses of `npm run rehearse`. */
export const EXIT = {
  passed: 0,
  /** The Docker engine cannot be reached, or a docker command (the build) failed. */
  docker: 1,
  /** Bad usage or configuration, or a run id in use. */
  usage: 2,
  /** The image is missing (and cannot be pulled) or fails what Databricks requires. */
  refused: 3,
  /** An init script failed (INIT_SCRIPT_FAILURE). */
  initScript: 4,
  /** Dask did not come up, or the smoke job failed. */
  dask: 5,
  interruptedInt: 130,
  interruptedTerm: 143,
} as const;

/** Seconds the workers get to join after the init scripts returned. */
export const JOIN_TIMEOUT_S = 180;

/** Where the rehearsal puts the init scripts and the smoke job in a node. */
const NODE_DIR = "/databricks/rehearsal";

export interface RehearseOptions {
  docker: Docker;
  /** Leave containers, network, volumes and a built image in place. */
  keep?: boolean;
  maxImageBytes?: number;
  /** Output: one line at a time (without newline). */
  print?: (line: string) => void;
  /** Raw output of the build and the smoke job. */
  write?: (text: string) => void;
}

class Failure extends Error {
  constructor(
    public readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface StartedNode extends NodePlan {
  ip: string;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** UTC time stamp for init-script log names, as a node names them: 20240101_120000. */
function stamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, "").replace("T", "_").slice(0, 15);
}

export async function rehearse(plan: RehearsalPlan, options: RehearseOptions): Promise<number> {
  const docker = options.docker;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const say = (text: string) => print(`rehearse: ${text}`);
  const timings: [string, number][] = [];
  const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const start = Date.now();
    const result = await work();
    const ms = Date.now() - start;
    timings.push([phase, ms]);
    say(`time: ${phase} ${seconds(ms)}`);
    return result;
  };
  let createdImage: string | undefined;
  let scratch: string | undefined;
  let code: number = EXIT.passed;
  let mayHaveCreated = false;

  say(`run ${plan.runId}: stack ${plan.stack}, cluster ${plan.clusterKey} (${plan.clusterName}), a driver and ${plan.workers} worker(s); everything it creates is labelled ${plan.label}`);
  if (plan.workersNote) say(plan.workersNote);
  try {
    const engine = await docker.run(["version", "--format", "{{.Server.Version}} {{.Server.Os}}/{{.Server.Arch}}"]);
    if (engine.code !== 0) {
      throw new Failure(
        EXIT.docker,
        `cannot reach the Docker engine through ${docker.cli}: ${(engine.stderr || engine.stdout).trim()}\n` +
          "Start it (Docker Desktop, `sudo systemctl start docker`, or as root scripts/start-dockerd.sh) and run the rehearsal again.",
      );
    }
    say(`Docker engine ${engine.stdout.trim()} (${docker.cli})`);
    const taken = await labelledBy(docker, plan.runId);
    if (taken.length > 0) {
      throw new Failure(EXIT.usage, `run id ${plan.runId} is taken: ${taken.join(", ")} carry ${plan.label}. Pick another --run-id, or remove that run with --clean ${plan.runId}`);
    }
    mayHaveCreated = true;

    // 1. The image.
    if (plan.build) {
      const build = plan.build;
      const before = await docker.run(["image", "inspect", "--format", "{{.Id}}", build.ref]);
      const args = ["build", "--progress", "plain", "--platform", build.platform, "-f", build.dockerfile];
      for (const [k, v] of Object.entries(build.buildArgs)) args.push("--build-arg", `${k}=${v}`);
      if (build.cacheFrom) args.push("--cache-from", build.cacheFrom);
      if (build.rehearsalOnly) args.push("--label", plan.label);
      args.push("-t", build.ref, build.context);
      say(`building ${build.ref} from ${build.context} as the stack builds it: ${Object.entries(build.buildArgs).map(([k, v]) => `${k}=${v}`).join(" ")}`);
      if (build.rehearsalOnly) say(`BASE_IMAGE is --base ${build.buildArgs.BASE_IMAGE}, not the stack's: the image gets a rehearsal tag (the stack's tag would be ${build.stackTag})`);
      // The tag is ours to remove if it did not exist before (set now: an interruption may come as the build ends).
      // A tag that existed before is left in place afterwards, whatever it pointed to.
      if (before.code !== 0) createdImage = build.ref;
      await timed("build", async () => {
        const r = await docker.run(args, { cwd: plan.projectRoot, env: { DOCKER_BUILDKIT: "1" }, onStdout: write, onStderr: write });
        if (r.code !== 0) throw new Failure(EXIT.docker, `the image build failed (docker build exit ${r.code}); its output is above`);
      });
    } else if ((await docker.run(["image", "inspect", "--format", "{{.Id}}", plan.image])).code !== 0) {
      // As a cluster does: pull it, the linux/amd64 variant. A pulled image stays (it is the registry's).
      say(`${plan.image} is not on this engine: pulling it for linux/amd64, as a cluster would`);
      await timed("pull", async () => {
        const r = await docker.run(["pull", "--platform", "linux/amd64", plan.image], { onStdout: write, onStderr: write });
        if (r.code !== 0) throw new Failure(EXIT.refused, `no image ${plan.image} on this engine, and pulling it failed (docker pull exit ${r.code}); docker's output is above`);
      });
    }

    // 2. What Databricks requires of the image.
    const facts = await timed("checks", async () => {
      const inspect = await docker.run(["image", "inspect", "--format", "{{json .}}", plan.image]);
      if (inspect.code !== 0) throw new Failure(EXIT.refused, `no image ${plan.image} on this Docker engine: ${inspect.stderr.trim()}`);
      const image = JSON.parse(inspect.stdout) as ImageFacts;
      let probe: ProbeFacts | undefined;
      if (isAmd64Linux(image)) {
        const r = await docker.run(["run", "--rm", "--network", "none", "--user", "0", "--label", plan.label, "--entrypoint", "/bin/bash", plan.image, "-c", PROBE_SCRIPT]);
        probe = r.code === 0 ? parseProbe(r.stdout) : { bash: false, pip: false, pipExecutable: false, commands: {}, startError: (r.stderr || r.stdout).trim().split("\n").pop() };
      }
      return { image, result: checkImage(image, probe, options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES), probe };
    });
    say(`image ${plan.image}: ${facts.image.Os}/${facts.image.Architecture}, ${(facts.image.Size / 1e9).toFixed(2)} GB${facts.probe?.python ? `, Python ${facts.probe.python} at ${DATABRICKS_PYTHON}` : ""}`);
    for (const note of facts.result.notes) say(`note: ${note}`);
    if (facts.result.problems.length > 0) {
      throw new Failure(EXIT.refused, `the image would not start on Databricks:\n${facts.result.problems.map((p) => `  - ${p}`).join("\n")}`);
    }
    say("checks passed: linux/amd64, /databricks/python3 with pip, bash, size within the limit");

    // 3. The nodes.
    const nodes = await timed("containers started", () => startNodes(plan, docker));
    say(`containers started on network ${plan.network}: ${nodes.map((n) => `${n.role} ${n.ip}`).join(", ")}`);

    // 4. Init scripts, in order, on every node at once (nodes start independently on Databricks too).
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-rehearsal-"));
    const scriptsDir = path.join(scratch, "init-scripts");
    fs.mkdirSync(scriptsDir);
    for (const f of plan.initScripts) fs.writeFileSync(path.join(scriptsDir, f.fileName), Buffer.from(f.contentBase64, "base64"), { mode: 0o755 });
    const driver = nodes[0];
    await timed("init scripts done", async () => {
      const failures = (await Promise.all(nodes.map((n) => runInitScripts(plan, docker, n, driver.ip, scriptsDir, say)))).filter((f) => f !== undefined);
      if (failures.length > 0) {
        throw new Failure(EXIT.initScript, failures.join("\n"));
      }
    });
    say(`init scripts done on every node: ${plan.initScripts.map((f) => f.fileName).join(", ")}`);

    // 5. Dask.
    const dashboard = await docker.run(["port", driver.name, `${plan.dashboardPort}/tcp`]);
    const published = dashboard.stdout.trim().split("\n")[0];
    const workers = await timed("workers joined", () => waitForWorkers(plan, docker, driver, nodes));
    say(`${workers.length} Dask worker(s) joined the scheduler on the driver: ${workers.join(", ")}`);
    if (published) say(`dashboard: http://${published}/status (port ${plan.dashboardPort} of the driver${options.keep ? "" : "; gone once the rehearsal ends, --keep keeps it"})`);

    // 6. The smoke job, on the driver, as its spark_python_task runs it.
    if (plan.smoke.note) say(plan.smoke.note);
    say(`smoke job: ${path.basename(plan.smoke.file)} ${plan.smoke.parameters.join(" ")} (${plan.smoke.source})`);
    await timed("smoke job", async () => {
      await docker.ok(["exec", driver.name, "mkdir", "-p", `${NODE_DIR}/jobs`], "prepare the driver for the smoke job");
      const inNode = `${NODE_DIR}/jobs/${path.basename(plan.smoke.file)}`;
      await docker.ok(["cp", plan.smoke.file, `${driver.name}:${inNode}`], "copy the smoke job");
      const r = await docker.run(["exec", ...nodeEnv(driver, driver.ip), driver.name, DATABRICKS_PYTHON, "-B", inNode, ...plan.smoke.parameters], { onStdout: write, onStderr: write });
      if (r.code !== 0) throw new Failure(EXIT.dask, `the smoke job failed with exit status ${r.code} (jobs/README.md lists what each status means); its output is above`);
    });
    say(`PASSED: image ${plan.image}, a driver and ${plan.workers} worker(s), init scripts, Dask and the smoke job (${timings.map(([p, ms]) => `${p} ${seconds(ms)}`).join(", ")})`);
  } catch (e) {
    if (e instanceof Interrupted) {
      code = e.signal === "SIGTERM" ? EXIT.interruptedTerm : EXIT.interruptedInt;
      say(`interrupted (${e.signal}): cleaning up`);
    } else if (e instanceof Failure) {
      code = e.code;
      say(`FAILED: ${e.message}`);
    } else if (e instanceof DockerError) {
      code = EXIT.docker;
      say(`FAILED: ${e.message}`);
    } else {
      code = EXIT.docker;
      say(`FAILED: ${(e as Error).stack ?? String(e)}`);
    }
  } finally {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    const interrupted = docker.interrupted !== undefined;
    if (interrupted) code = docker.interrupted === "SIGTERM" ? EXIT.interruptedTerm : EXIT.interruptedInt;
    if (!mayHaveCreated) {
      // Nothing can have been created.
    } else if (options.keep && !interrupted) {
      const labelledImage = createdImage && plan.build?.rehearsalOnly ? `, image ${createdImage}` : "";
      say(`kept (--keep): containers, network and volumes${labelledImage} labelled ${plan.label}; remove them with: npm run rehearse -- --clean ${plan.runId}`);
      if (createdImage && !labelledImage) say(`the built image ${createdImage} stays as well (the stack's tag; docker image rm ${createdImage} removes it)`);
    } else {
      const removed = await cleanup(docker, plan.runId, createdImage ? [createdImage] : []);
      say(`cleaned up: ${removed}`);
    }
  }
  return code;
}

/** The two variables Docker's addresses give, for every command run in a node. */
function nodeEnv(node: StartedNode, driverIp: string): string[] {
  return ["-e", `DB_CONTAINER_IP=${node.ip}`, "-e", `DB_DRIVER_IP=${driverIp}`];
}

async function startNodes(plan: RehearsalPlan, docker: Docker): Promise<StartedNode[]> {
  const label = ["--label", plan.label];
  await docker.ok(["network", "create", ...label, plan.network], "create the cluster's network");
  const started: StartedNode[] = [];
  let driverIp = "";
  for (const node of plan.nodes) {
    await docker.ok(["volume", "create", ...label, node.name], `create ${node.role}'s /local_disk0`);
    const env = { ...node.env, ...(node.isDriver ? {} : { DB_DRIVER_IP: driverIp }) };
    const args = [
      "run",
      "--detach",
      "--init",
      "--user",
      "0",
      "--name",
      node.name,
      "--hostname",
      node.role,
      ...label,
      "--label",
      `dcs.rehearsal.node=${node.role}`,
      "--network",
      plan.network,
      "--mount",
      `type=volume,src=${node.name},dst=/local_disk0`,
      // Databricks ignores the image's CMD and ENTRYPOINT: the node idles until removed.
      "--entrypoint",
      "sleep",
      ...(node.isDriver ? ["--publish", `127.0.0.1::${plan.dashboardPort}`] : []),
      ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
      plan.image,
      "infinity",
    ];
    await docker.ok(args, `start the ${node.role}`);
    const ip = await docker.ok(["inspect", "--format", `{{(index .NetworkSettings.Networks "${plan.network}").IPAddress}}`, node.name], `read the ${node.role}'s address`);
    if (node.isDriver) driverIp = ip;
    started.push({ ...node, ip });
  }
  return started;
}

/** Runs every script in order on one node; returns the failure report, or undefined. */
async function runInitScripts(plan: RehearsalPlan, docker: Docker, node: StartedNode, driverIp: string, scriptsDir: string, say: (text: string) => void): Promise<string | undefined> {
  const dir = `${NODE_DIR}/init-scripts`;
  await docker.ok(["exec", node.name, "mkdir", "-p", dir, "/databricks/init_scripts"], `prepare the ${node.role} for its init scripts`);
  await docker.ok(["cp", `${scriptsDir}/.`, `${node.name}:${dir}`], `copy the init scripts to the ${node.role}`);
  for (const script of plan.initScripts) {
    const base = `/databricks/init_scripts/${stamp()}_${script.fileName}`;
    const out = `${base}.stdout.log`;
    const err = `${base}.stderr.log`;
    const start = Date.now();
    const r = await docker.run([
      "exec",
      "--user",
      "0",
      ...nodeEnv(node, driverIp),
      node.name,
      "bash",
      "-c",
      'exec bash "$1" >"$2" 2>"$3" </dev/null',
      "init-script",
      `${dir}/${script.fileName}`,
      out,
      err,
    ]);
    if (r.code === 0) {
      say(`${node.role}: ${script.fileName} returned 0 in ${seconds(Date.now() - start)}`);
      continue;
    }
    const logs = await docker.run(["exec", node.name, "bash", "-c", 'for f in "$@"; do [[ -s "$f" ]] && { echo "--- $f"; cat "$f"; }; done; true', "logs", out, err]);
    const text = logs.stdout.trim() || `(the script wrote nothing${r.stderr.trim() ? `; docker: ${r.stderr.trim()}` : ""})`;
    return (
      `INIT_SCRIPT_FAILURE on the ${node.role}: init script ${script.fileName} (${plan.initScriptsDir}/${script.fileName}) exited with status ${r.code}; the launch stops here, as Databricks stops the cluster.\n` +
      `Its log (${out}, ${err}):\n${text
        .split("\n")
        .map((l) => `  | ${l}`)
        .join("\n")}`
    );
  }
  return undefined;
}

/** The Python run on the driver to wait for the workers: prints their addresses as JSON. */
const WAIT_FOR_WORKERS = `
import json, sys
from distributed import Client
port, n, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
with Client(f"tcp://127.0.0.1:{port}", timeout=timeout) as client:
    client.wait_for_workers(n, timeout=timeout)
    print(json.dumps(sorted(client.scheduler_info()["workers"])))
`;

async function waitForWorkers(plan: RehearsalPlan, docker: Docker, driver: StartedNode, nodes: StartedNode[]): Promise<string[]> {
  const r = await docker.run(["exec", ...nodeEnv(driver, driver.ip), driver.name, DATABRICKS_PYTHON, "-B", "-c", WAIT_FOR_WORKERS, String(plan.schedulerPort), String(plan.workers), String(JOIN_TIMEOUT_S)]);
  if (r.code === 0) {
    const line = r.stdout.trim().split("\n").pop() ?? "[]";
    return JSON.parse(line) as string[];
  }
  // Where the init script writes the Dask logs on a Databricks node (infra/init-scripts/README.md).
  const logs: string[] = [];
  for (const n of nodes) {
    const files = n.isDriver ? ["/databricks/driver/logs/dask-init.log", "/databricks/driver/logs/dask-scheduler.log"] : [`/databricks/spark/work/dask-${n.ip}/dask-init.log`, `/databricks/spark/work/dask-${n.ip}/dask-worker.log`];
    const tail = await docker.run(["exec", n.name, "bash", "-c", 'for f in "$@"; do [[ -f "$f" ]] && { echo "--- $f (last 20 lines)"; tail -n 20 "$f"; }; done; true', "logs", ...files]);
    if (tail.stdout.trim()) logs.push(`${n.role}:\n${tail.stdout.trim()}`);
  }
  throw new Failure(
    EXIT.dask,
    `${plan.workers} Dask worker(s) did not join the driver's scheduler on port ${plan.schedulerPort} within ${JOIN_TIMEOUT_S} s: ${(r.stderr || r.stdout).trim().split("\n").pop()}\n${logs.join("\n")}`,
  );
}

/** Containers, networks, volumes and images carrying a run's label (a `--run-id` must not find any). */
async function labelledBy(docker: Docker, runId: string): Promise<string[]> {
  const filter = ["--filter", `label=dcs.rehearsal=${runId}`];
  const found: string[] = [];
  for (const [kind, args] of [
    ["container", ["ps", "--all", "--format", "{{.Names}}"]],
    ["network", ["network", "ls", "--format", "{{.Name}}"]],
    ["volume", ["volume", "ls", "--format", "{{.Name}}"]],
    ["image", ["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]],
  ] as const) {
    const r = await docker.ok([...args, ...filter], "look for a run's resources");
    for (const name of r.split("\n").filter(Boolean)) found.push(`${kind} ${name}`);
  }
  return found;
}

/**
 * Removes what a run created: its containers (with their anonymous volumes),
 * network, volumes and images labelled dcs.rehearsal=<runId>, and `images`
 * (tags it created). Nothing else is looked at. Returns a summary.
 */
export async function cleanup(docker: Docker, runId: string, images: string[] = []): Promise<string> {
  const filter = ["--filter", `label=dcs.rehearsal=${runId}`];
  const list = async (args: string[]) => (await docker.run(args, { cleanup: true })).stdout.split("\n").map((s) => s.trim()).filter(Boolean);
  const done: string[] = [];
  const problems: string[] = [];
  const remove = async (what: string, args: string[], items: string[]) => {
    if (items.length === 0) return;
    const r = await docker.run([...args, ...items], { cleanup: true });
    if (r.code === 0) done.push(`${items.length} ${what}`);
    else problems.push(`${what}: ${r.stderr.trim()}`);
  };
  // After an interruption twice: a `docker run` stopped mid-way may create its container a moment later.
  const passes = docker.interrupted ? 2 : 1;
  for (let pass = 0; pass < passes; pass++) {
    if (pass > 0) await new Promise((r) => setTimeout(r, 1000));
    await remove("container(s)", ["rm", "--force", "--volumes"], await list(["ps", "--all", "--quiet", ...filter]));
    await remove("network(s)", ["network", "rm"], await list(["network", "ls", "--quiet", ...filter]));
    await remove("volume(s)", ["volume", "rm", "--force"], await list(["volume", "ls", "--quiet", ...filter]));
    const labelled = await list(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", ...filter]);
    const given: string[] = [];
    for (const ref of pass === 0 ? images : []) if ((await docker.run(["image", "inspect", "--format", "{{.Id}}", ref], { cleanup: true })).code === 0) given.push(ref);
    const tags = [...new Set([...labelled.filter((t) => !t.includes("<none>")), ...given])];
    await remove("image(s)", ["image", "rm", "--force"], tags);
  }
  if (problems.length > 0) return `${done.join(", ") || "nothing"} removed; could not remove ${problems.join("; ")}`;
  return done.length > 0 ? `removed ${done.join(", ")}` : "nothing to remove";
}
