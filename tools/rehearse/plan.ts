/**
 * What a rehearsal does, worked out from the stack before Docker is touched:
 * the image build (the program's own plan), the cluster it mimics (driver and
 * workers), each node's environment, the init scripts in run order, and the
 * smoke job. Everything comes from the modules `pulumi up` runs:
 *   - the stack file through readStackFile (stacks/render/engine.ts) and the
 *     config loader's readRawConfig / parseStackConfig (stacks/config);
 *   - the build through planImageBuild (components/clusterImage.ts), with the
 *     base registry and cache the team stack passes (stacks/team.ts);
 *   - the Spark environment through daskEnvVars (stacks/dask.ts) and the
 *     scripts' hash through readInitScripts / scriptsHash / SCRIPTS_HASH_VAR
 *     (components/initScripts.ts), merged the way stacks/team.ts merges them.
 * Pure apart from reading the stack file, the build context and the scripts.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILD_CACHE_TAG, IMAGE_PLATFORM, INLINE_CACHE_ARG, planImageBuild } from "../../components/clusterImage";
import { readInitScripts, SCRIPTS_HASH_VAR, scriptsHash, type InitScriptFile } from "../../components/initScripts";
import { ConfigError, decodeConfigValue, NAMESPACE, parseStackConfig, readRawConfig, secretKeysNeeded, type ParsedStackConfig } from "../../stacks/config";
import { daskEnvVars } from "../../stacks/dask";
import { readStackFile } from "../../stacks/render/engine";

/** A team stack's validated configuration as parseStackConfig returns it (secrets, unused here, stay plain). */
export type TeamConfig = Extract<ParsedStackConfig, { kind: "team" }>;

/** The repository root (holds Pulumi.yaml). */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

/** The smoke job's file in jobs/ (the one the pipelines run after a deployment). */
export const SMOKE_JOB_FILE = "dask_smoke.py";

/** A problem with what was asked for: bad usage or a stack that cannot be rehearsed (exit status 2). */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanError";
  }
}

export interface PlanOptions {
  /** Stack name: its configuration comes from Pulumi.<stack>.yaml. */
  stack: string;
  /** Project root. Default: this repository. */
  projectRoot?: string;
  /** Cluster of dcs:clusters to mimic. Default: the first one. */
  cluster?: string;
  /** Most workers to start (caps the cluster's size). Default: no cap. */
  maxWorkers?: number;
  /** Rehearse this existing image instead of building. */
  image?: string;
  /** Build on this base instead of the stack's (BASE_IMAGE); the image then gets a rehearsal tag, not the stack's. */
  base?: string;
  /** `pulumi config set --path` style overrides: full key with an optional path (dcs:initScripts.dir) -> value. */
  overrides?: [string, string][];
  /** Run id: names and labels everything the rehearsal creates. */
  runId: string;
}

/** The image build, as the program declares it. */
export interface BuildPlan {
  /** Build context, relative to the project root (the program's form). */
  context: string;
  /** Dockerfile, relative to the project root. */
  dockerfile: string;
  /** Always linux/amd64 (IMAGE_PLATFORM). */
  platform: string;
  /** Build arguments exactly as the program passes them to docker.Image (BASE_IMAGE replaced with --base). */
  buildArgs: Record<string, string>;
  /** The image whose inline cache the program's build reuses, if any (not with --base). */
  cacheFrom?: string;
  /** Local reference the build is tagged with: the stack's `<registry>/<repository>:<tag>`, or a rehearsal tag with --base. */
  ref: string;
  /** The content tag the stack would push. */
  stackTag: string;
  /** True when --base replaced the stack's base (the image is a rehearsal image, labelled with the run id). */
  rehearsalOnly: boolean;
}

/** One node of the rehearsed cluster. */
export interface NodePlan {
  /** driver, worker-1, worker-2, ... */
  role: string;
  isDriver: boolean;
  /** Container (and volume) name. */
  name: string;
  /** Environment set when the container is created (DB_DRIVER_IP and DB_CONTAINER_IP come once addresses are known). */
  env: Record<string, string>;
}

export interface RehearsalPlan {
  stack: string;
  projectRoot: string;
  runId: string;
  /** The label every container, network, volume and rehearsal image carries: dcs.rehearsal=<runId>. */
  label: string;
  /** Key of dcs:clusters that is mimicked. */
  clusterKey: string;
  /** The cluster's name as the program gives it. */
  clusterName: string;
  /** A cluster id in Databricks' form, made up for this run. */
  clusterId: string;
  /** Workers the stack's cluster starts with (numWorkers, or autoscale.minWorkers). */
  clusterWorkers: number;
  /** Workers the rehearsal starts. */
  workers: number;
  /** Why `workers` differs from `clusterWorkers`, if it does. */
  workersNote?: string;
  /** Build, unless an existing image is rehearsed. */
  build?: BuildPlan;
  /** The image the containers run: --image, or the build's reference. */
  image: string;
  /** The cluster's Spark environment variables, as the program declares them on the cluster. */
  sparkEnvVars: Record<string, string>;
  /** Init scripts in the order the cluster runs them (the bytes the program uploads). */
  initScripts: InitScriptFile[];
  /** Folder the scripts were read from. */
  initScriptsDir: string;
  /** The smoke job: file and parameters. */
  smoke: { file: string; parameters: string[]; source: string; note?: string };
  /** Dask ports (dcs:dask). */
  schedulerPort: number;
  dashboardPort: number;
  /** Docker network name. */
  network: string;
  nodes: NodePlan[];
}

const RUN_ID = /^[a-z0-9]{4,16}$/;

/** A fresh run id: 8 lower-case hex characters. */
export function newRunId(): string {
  return createHash("sha256").update(`${process.pid}-${Date.now()}-${Math.random()}`).digest("hex").slice(0, 8);
}

/** Sets `value` at `key` (`dcs:clusters.dask.numWorkers`) in full-key values, like `pulumi config set --path`. */
export function applyOverride(values: Record<string, unknown>, key: string, raw: string): void {
  const m = /^([A-Za-z0-9_-]+:[A-Za-z0-9_]+)((?:\.[A-Za-z0-9_-]+)*)$/.exec(key);
  if (!m) throw new PlanError(`--config ${key}: not a configuration key such as dcs:initScripts.dir`);
  const [, top, rest] = m;
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* a plain string */
  }
  const segments = rest.split(".").filter(Boolean);
  if (segments.length === 0) {
    values[top] = value;
    return;
  }
  const current = values[top];
  const decoded = typeof current === "string" ? decodeConfigValue(current) : current;
  const root: Record<string, unknown> = decoded !== null && typeof decoded === "object" ? structuredClone(decoded as Record<string, unknown>) : {};
  let node = root;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    node[segment] = next !== null && typeof next === "object" ? next : {};
    node = node[segment] as Record<string, unknown>;
  }
  node[segments[segments.length - 1]] = value;
  values[top] = root;
}

/**
 * The stack's validated configuration, read the way `pulumi up` reads it:
 * the stack file's values as the CLI hands them over (objects as JSON text)
 * through readRawConfig and parseStackConfig. Secrets are never needed here:
 * the ones the stack calls for get a placeholder (as the offline renderer does).
 */
export function loadTeamConfig(stack: string, projectRoot: string, overrides: [string, string][] = []): TeamConfig {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new PlanError(`--stack: "${stack}" is not a stack name`);
  const file = path.join(projectRoot, `Pulumi.${stack}.yaml`);
  let read: ReturnType<typeof readStackFile>;
  try {
    read = readStackFile(file);
  } catch (e) {
    throw new PlanError((e as Error).message);
  }
  const { values, encrypted } = read;
  for (const [key, value] of overrides) applyOverride(values, key, value);
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) all[k] = typeof v === "string" ? v : JSON.stringify(v);
  const secretKeys = new Set<string>();
  for (const k of new Set([...encrypted, ...secretKeysNeeded(values).map((s) => `${NAMESPACE}:${s}`)])) {
    all[k] = "(not needed by a rehearsal)";
    secretKeys.add(k);
  }
  let parsed;
  try {
    parsed = parseStackConfig(readRawConfig(all), { stack, secretKeys });
  } catch (e) {
    if (e instanceof ConfigError) throw new PlanError(e.message);
    throw e;
  }
  if (parsed.kind === "platform") {
    throw new PlanError(`stack ${stack} is a platform stack (dcs:kind: platform): it declares no image and no cluster; rehearse a team stack such as dev`);
  }
  return parsed;
}

/** The registry host a team stack pushes to (as stacks/team.ts derives it). */
export function registryHost(team: Pick<TeamConfig, "registry">): string {
  return `${team.registry.name.toLowerCase()}.azurecr.io`;
}

/** The image build of a team stack, as stacks/team.ts hands it to ClusterImage and ClusterImage to docker.Image. */
export function planBuild(team: TeamConfig, projectRoot: string, runId: string, base?: string): BuildPlan {
  const host = registryHost(team);
  if (!fs.existsSync(path.resolve(projectRoot, team.image.context, "Dockerfile"))) {
    throw new PlanError(`dcs:image.context: no Dockerfile in the build context ${team.image.context}`);
  }
  const plan = planImageBuild({
    context: team.image.context,
    projectRoot,
    runtime: team.image.runtime,
    baseDigest: team.image.baseDigest,
    baseRegistry: team.image.baseFromRegistry ? host : undefined,
    source: team.image.source,
  });
  const cacheFrom = team.image.baseFromRegistry ? `${host}/${team.image.repository}:${BUILD_CACHE_TAG}` : undefined;
  const buildArgs: Record<string, string> = cacheFrom ? { ...plan.buildArgs, ...INLINE_CACHE_ARG } : { ...plan.buildArgs };
  if (base === undefined) {
    return { context: plan.context, dockerfile: plan.dockerfile, platform: IMAGE_PLATFORM, buildArgs, cacheFrom, ref: `${host}/${team.image.repository}:${plan.tag}`, stackTag: plan.tag, rehearsalOnly: false };
  }
  const baseHash = createHash("sha256").update(base).digest("hex").slice(0, 8);
  return {
    context: plan.context,
    dockerfile: plan.dockerfile,
    platform: IMAGE_PLATFORM,
    buildArgs: { ...buildArgs, BASE_IMAGE: base },
    ref: `dcs-rehearsal/${team.image.repository}:${plan.tag}-base-${baseHash}-${runId}`,
    stackTag: plan.tag,
    rehearsalOnly: true,
  };
}

/** Workers a cluster starts with: numWorkers, or the autoscale range's minimum (Databricks starts there). */
export function clusterWorkers(cluster: TeamConfig["clusters"][string]): number {
  return cluster.numWorkers ?? cluster.autoscale?.minWorkers ?? 0;
}

/**
 * The smoke job's arguments: those of the stack's job that runs dask_smoke.py,
 * or its defaults asking for every worker. `--workers` above what the
 * rehearsal starts is lowered to it (the job would otherwise wait its whole timeout).
 */
export function smokeParameters(team: TeamConfig, workers: number): { parameters: string[]; source: string; note?: string } {
  const job = Object.entries(team.jobs).find(([, j]) => j.file === SMOKE_JOB_FILE);
  const parameters = job ? [...job[1].parameters] : ["--workers", String(workers)];
  const source = job ? `as the stack's job ${job[0]} runs it, dcs:jobs.${job[0]}.parameters` : `no job of the stack runs ${SMOKE_JOB_FILE}; asking for every worker`;
  let note: string | undefined;
  for (let i = 0; i < parameters.length; i++) {
    const m = /^--workers(?:=(.*))?$/.exec(parameters[i]);
    if (!m) continue;
    const valueAt = m[1] === undefined ? i + 1 : i;
    const asked = Number(m[1] ?? parameters[i + 1]);
    if (Number.isInteger(asked) && asked > workers) {
      parameters[valueAt] = m[1] === undefined ? String(workers) : `--workers=${workers}`;
      note = `the job asks for ${asked} workers; the rehearsal starts ${workers}, so it runs with --workers ${workers}`;
    }
  }
  return { parameters, source, note };
}

/** A Databricks-looking cluster id (MMDD-HHMMSS-xxxxxxxx) for this run. */
export function rehearsalClusterId(runId: string, now = new Date()): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(now.getUTCMonth() + 1)}${two(now.getUTCDate())}-${two(now.getUTCHours())}${two(now.getUTCMinutes())}${two(now.getUTCSeconds())}-${createHash("sha256").update(runId).digest("hex").slice(0, 8)}`;
}

/** Works out the whole rehearsal. Throws PlanError on bad usage or configuration. */
export function planRehearsal(options: PlanOptions): RehearsalPlan {
  const projectRoot = options.projectRoot ?? PROJECT_ROOT;
  if (!RUN_ID.test(options.runId)) throw new PlanError(`--run-id: "${options.runId}" must be 4-16 lower-case letters and digits`);
  if (options.maxWorkers !== undefined && (!Number.isInteger(options.maxWorkers) || options.maxWorkers < 1)) {
    throw new PlanError(`--workers: must be a whole number of at least 1 (a Dask cluster needs a worker), got ${options.maxWorkers}`);
  }
  if (options.image !== undefined && options.base !== undefined) throw new PlanError("--image and --base exclude each other: --base builds, --image rehearses an existing image");
  const team = loadTeamConfig(options.stack, projectRoot, options.overrides);
  const clusterKeys = Object.keys(team.clusters);
  const clusterKey = options.cluster ?? clusterKeys[0];
  const cluster = team.clusters[clusterKey];
  if (!cluster) throw new PlanError(`--cluster: stack ${options.stack} has no cluster "${clusterKey}" (dcs:clusters has ${clusterKeys.join(", ") || "none"})`);
  if (team.images[cluster.image]?.gpu) {
    throw new PlanError(
      `--cluster: cluster ${clusterKey} boots the GPU image ${cluster.image}, and a launch rehearsal of it needs a GPU node with NVIDIA's container runtime, which the local engine does not have; ` +
        "test/gpu-image.test.ts builds that image's recipe on a stand-in base, and the init script's GPU branch is tested with a stand-in nvidia-smi (test/init-script-gpu.test.ts); rehearse a CPU cluster here",
    );
  }
  if (cluster.image !== "default") {
    throw new PlanError(`--cluster: cluster ${clusterKey} boots image ${cluster.image}; the rehearsal builds the default image (dcs:image) only: rehearse a cluster on it, or pass --image`);
  }

  const size = clusterWorkers(cluster);
  let workers = size;
  let workersNote: string | undefined;
  if (workers < 1) {
    workers = 1;
    workersNote = `the cluster starts with ${size} workers (autoscale.minWorkers); the rehearsal starts 1 so that Dask has a worker`;
  }
  if (options.maxWorkers !== undefined && workers > options.maxWorkers) {
    workersNote = `the cluster has ${workers} workers; --workers ${options.maxWorkers} caps the rehearsal`;
    workers = options.maxWorkers;
  }

  const initScriptsDir = path.isAbsolute(team.initScripts.dir) ? team.initScripts.dir : path.join(projectRoot, team.initScripts.dir);
  let initScripts: InitScriptFile[];
  try {
    initScripts = readInitScripts(initScriptsDir);
  } catch (e) {
    throw new PlanError(`dcs:initScripts.dir: ${(e as Error).message}`);
  }
  if (initScripts.length === 0) throw new PlanError(`dcs:initScripts.dir: no *.sh init scripts in ${initScriptsDir}`);

  // As stacks/team.ts: the cluster's own variables, then the program's (Dask settings, the scripts' hash).
  const sparkEnvVars: Record<string, string> = { ...cluster.sparkEnvVars, ...daskEnvVars(team.dask), [SCRIPTS_HASH_VAR]: scriptsHash(initScripts) };
  const build = options.image === undefined ? planBuild(team, projectRoot, options.runId, options.base) : undefined;
  const clusterName = cluster.name ?? `${team.team}-${clusterKey}-${team.stack}`;
  const clusterId = rehearsalClusterId(options.runId);
  const prefix = `dcs-rehearsal-${options.runId}`;
  const nodeEnv = (isDriver: boolean): Record<string, string> => ({
    ...sparkEnvVars,
    DB_IS_DRIVER: isDriver ? "TRUE" : "FALSE",
    DB_CLUSTER_ID: clusterId,
    DB_CLUSTER_NAME: clusterName,
  });
  const nodes: NodePlan[] = [
    { role: "driver", isDriver: true, name: `${prefix}-driver`, env: nodeEnv(true) },
    ...Array.from({ length: workers }, (_, i) => ({ role: `worker-${i + 1}`, isDriver: false, name: `${prefix}-worker-${i + 1}`, env: nodeEnv(false) })),
  ];
  const smoke = smokeParameters(team, workers);
  return {
    stack: options.stack,
    projectRoot,
    runId: options.runId,
    label: `dcs.rehearsal=${options.runId}`,
    clusterKey,
    clusterName,
    clusterId,
    clusterWorkers: size,
    workers,
    workersNote,
    build,
    image: options.image ?? build!.ref,
    sparkEnvVars,
    initScripts,
    initScriptsDir,
    smoke: { file: path.join(projectRoot, "jobs", SMOKE_JOB_FILE), ...smoke },
    schedulerPort: team.dask.schedulerPort,
    dashboardPort: team.dask.dashboardPort,
    network: prefix,
    nodes,
  };
}
