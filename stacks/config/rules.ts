/**
 * Rules that span keys of a team stack's configuration. They run on whatever
 * parsed: a key that failed its own schema is absent here and the rules that
 * need it are skipped, so one run reports schema and cross-key problems together.
 */
import { isTimeZone, quartzCronProblems } from "../../components/daskJob";
import { unsupportedRuntimeReason } from "../../components/naming";
import { cudaDriverNote, cudaDriverProblem, gpuFigures, isGpuNodeType, isPhotonRuntime, RUNTIME_GPU_FACTS, unofferedGpuSizeReason } from "../../components/gpu";
import { DEFAULT_IMAGE, RUNTIME_TAG, type Parsed } from "./schema";

/** The configuration namespace: keys are written `dcs:<key>`. */
export const NAMESPACE = "dcs";

/** Secret keys: accepted only when set with `pulumi config set --secret`. */
export const SECRET_KEYS = ["pullClientSecret", "pushClientSecret", "imagePullSecrets"] as const;

/** One configuration problem, naming the full key. */
export interface ConfigProblem {
  key: string;
  message: string;
}

/** What parseStackConfig needs besides the raw values. */
export interface ParseContext {
  /** Stack name. */
  stack: string;
  /** Full keys (dcs:...) that Pulumi holds as secrets. */
  secretKeys: ReadonlySet<string>;
}

/** Databricks runtime key (e.g. 16.4.x-scala2.12) to major.minor. */
export function runtimeOfSparkVersion(sparkVersion: string): string | undefined {
  return /^(\d+\.\d+)\.x-/.exec(sparkVersion)?.[1];
}

/** Image runtime tag (e.g. 16.4-LTS) to major.minor. */
export function runtimeOfImageTag(tag: string): string | undefined {
  const m = RUNTIME_TAG.exec(tag);
  return m ? `${m[1]}.${m[2]}` : undefined;
}

/** The cross-key problems of a team stack's parsed keys. */
export function crossFieldProblems(c: Partial<Parsed>, ctx: ParseContext, environment: string | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, message: string) => problems.push({ key: `${NAMESPACE}:${key}`, message });
  const { registry, image, pullIdentity, workspace, clusters, pools, jobs, dask, initScripts } = c;

  if (environment === undefined) {
    add("environment", `stack "${ctx.stack}" is not named dev, test or prod; set dcs:environment to one of them`);
  }
  if (registry?.adminUserEnabled && environment !== undefined && environment !== "dev") {
    add("registry.adminUserEnabled", "the ACR admin user may only be enabled in a dev stack; use a service principal with AcrPush/AcrPull instead");
  }
  if (image && registry && image.push.mode === "adminUser" && !registry.adminUserEnabled) {
    add("image.push.mode", "adminUser pushes need dcs:registry.adminUserEnabled: true (dev stacks only); prefer dockerConfig or servicePrincipal");
  }
  if (image?.push.mode === "servicePrincipal") {
    if (!image.push.clientId) add("image.push.clientId", "required when dcs:image.push.mode is servicePrincipal");
    if (!image.push.objectId) add("image.push.objectId", "required when dcs:image.push.mode is servicePrincipal: the stack grants this service principal AcrPush on the registry");
    if (c.pushClientSecret === undefined) add("pushClientSecret", "required when dcs:image.push.mode is servicePrincipal; run `pulumi config set --secret dcs:pushClientSecret <secret>`");
  } else if (image) {
    if (image.push.clientId) add("image.push.clientId", `only used with dcs:image.push.mode servicePrincipal (mode is ${image.push.mode})`);
    if (image.push.objectId) add("image.push.objectId", `only used with dcs:image.push.mode servicePrincipal (mode is ${image.push.mode})`);
    if (c.pushClientSecret !== undefined) add("pushClientSecret", `only used with dcs:image.push.mode servicePrincipal (mode is ${image.push.mode})`);
  }

  if (pullIdentity) {
    const hasRef = pullIdentity.secretReference !== undefined;
    const hasSecret = c.pullClientSecret !== undefined;
    if (hasRef && hasSecret) add("pullClientSecret", "set either dcs:pullClientSecret or dcs:pullIdentity.secretReference, not both");
    if (!hasRef && !hasSecret) add("pullClientSecret", "required (the cluster pulls its image with it): run `pulumi config set --secret dcs:pullClientSecret <secret>`, or set dcs:pullIdentity.secretReference");
    if (hasRef && c.pullSecret?.scope !== undefined) {
      add("pullSecret.scope", "the stack declares no secret scope when dcs:pullIdentity.secretReference names an existing secret; remove one of the two");
    }
  }
  for (const name of SECRET_KEYS) {
    const full = `${NAMESPACE}:${name}`;
    if (c[name] !== undefined && !ctx.secretKeys.has(full)) {
      add(name, `is stored in plain text; remove it and run \`pulumi config set --secret ${full} <value>\``);
    }
  }

  const platformStack = (c as { platform?: { stack: string } }).platform;
  if (platformStack) {
    // The platform stack names the workspace and owns the switch: no second copy to drift.
    if (workspace && (workspace.url || workspace.resourceId)) add("workspace", `is taken from the platform stack ${platformStack.stack} (dcs:platform.stack); remove it`);
    if (c.containerServices?.manage) add("containerServices.manage", `the platform stack ${platformStack.stack} owns the container-services switch; a team stack that names one never manages it`);
  } else if (workspace && !workspace.url && !workspace.resourceId) {
    add("workspace", "set dcs:workspace.url or dcs:workspace.resourceId so the program can reach the Databricks workspace, or name a platform stack with dcs:platform.stack");
  }

  if (clusters !== undefined && Object.keys(clusters).length === 0) add("clusters", "declare at least one cluster: dcs:clusters.<name> with its owner and size");

  // The images: dcs:image is the one named default; dcs:images adds others, each in its own repository.
  const images = c.images;
  const allImages: Record<string, { key: string; spec: ImageSpecLike }> = {
    ...(image ? { [DEFAULT_IMAGE]: { key: "dcs:image", spec: image } } : {}),
    ...Object.fromEntries(Object.entries(images ?? {}).map(([n, spec]) => [n, { key: `dcs:images.${n}`, spec }])),
  };
  if (images && DEFAULT_IMAGE in images) add(`images.${DEFAULT_IMAGE}`, "the default image is declared by dcs:image; give this one another name");
  const byRepository = new Map<string, string>();
  for (const [n, { key, spec }] of Object.entries(allImages)) {
    const other = byRepository.get(spec.repository);
    if (other !== undefined && !(images && DEFAULT_IMAGE in images && n === DEFAULT_IMAGE)) {
      problems.push({ key: `${key}.repository`, message: `${spec.repository} is already the repository of image ${other}; each image has its own` });
    }
    byRepository.set(spec.repository, n);
    if (spec.gpu) {
      const { driver, python } = gpuFigures(spec.gpu, spec.runtime);
      const known = Object.keys(RUNTIME_GPU_FACTS).join(", ");
      if (python === undefined) problems.push({ key: `${key}.gpu.python`, message: `the program knows no Python figure for runtime ${spec.runtime} (it knows ${known}); set the runtime's Python, from its release notes` });
      if (driver === undefined) {
        problems.push({ key: `${key}.gpu.driver`, message: `the program knows no NVIDIA driver figure for runtime ${spec.runtime} (it knows ${known}); set the driver of that runtime's GPU nodes from its release notes` });
      } else {
        const problem = cudaDriverProblem(spec.gpu.cuda, driver);
        if (problem) problems.push({ key: `${key}.gpu.cuda`, message: `${problem}; choose a CUDA of a major release that driver runs (or a runtime whose driver is newer)` });
      }
    }
  }
  // An image's own pull identity: its secret in the stack's scope (dcs:imagePullSecrets.<name>) or kept elsewhere (secretReference).
  const ownSecrets = c.imagePullSecrets ?? {};
  for (const [n, spec] of Object.entries(images ?? {})) {
    const own = spec.pullIdentity;
    if (!own) continue;
    if (own.secretReference === undefined && pullIdentity?.secretReference !== undefined) {
      add(`images.${n}.pullIdentity.secretReference`, "required: the stack keeps its pull secret elsewhere (dcs:pullIdentity.secretReference) and declares no secret scope to hold this image's; name this identity's secret the same way");
    } else if (own.secretReference === undefined && ownSecrets[n] === undefined) {
      add(`imagePullSecrets.${n}`, `required for the pull identity of image ${n}: run \`pulumi config set --secret --path 'dcs:imagePullSecrets.${n}' <client secret>\`, or set dcs:images.${n}.pullIdentity.secretReference`);
    }
    if (own.secretReference !== undefined && ownSecrets[n] !== undefined) add(`imagePullSecrets.${n}`, `set either dcs:imagePullSecrets.${n} or dcs:images.${n}.pullIdentity.secretReference, not both`);
  }
  for (const n of Object.keys(ownSecrets)) {
    if (!images?.[n]?.pullIdentity) add(`imagePullSecrets.${n}`, `image ${n} has no pull identity of its own (dcs:images.${n}.pullIdentity); images without one share dcs:pullClientSecret`);
  }
  const imageNames = Object.keys(allImages);
  /** The image a cluster, pool or job names, or undefined (with a problem) when there is none such. */
  const imageOf = (at: string, name: string) => {
    const found = allImages[name];
    // Only when both image keys parsed: a broken dcs:images has its own problems already.
    if (!found && image && images !== undefined) add(`${at}.image`, `names no image: ${imageNames.join(", ")} (dcs:image is the one named ${DEFAULT_IMAGE}; others are dcs:images.<name>)`);
    return found;
  };
  /**
   * GPU images on GPU nodes and nowhere else; a GPU node on a standard runtime without Photon
   * (Azure Databricks, "GPU-enabled compute": custom containers on GPU use a standard runtime
   * key; ML GPU runtimes take no container; Photon does not run on GPU instance types).
   */
  const gpuPlacementProblems = (at: string, imageName: string, img: { key: string; spec: ImageSpecLike } | undefined, nodeTypes: (string | undefined)[], sparkVersion: string | undefined, nodeKey: string) => {
    const known = nodeTypes.filter((t): t is string => t !== undefined);
    const gpuNodes = known.filter(isGpuNodeType);
    const cpuNodes = known.filter((t) => !isGpuNodeType(t));
    if (img?.spec.gpu && cpuNodes.length > 0) {
      add(`${at}.${nodeKey}`, `${cpuNodes.join(", ")} has no GPU, and image ${imageName} is a GPU image (${img.key}.gpu): use a GPU size of the NC, ND or NV families, such as Standard_NC4as_T4_v3`);
    }
    for (const size of gpuNodes) {
      const reason = unofferedGpuSizeReason(size);
      if (reason) add(`${at}.${nodeKey}`, `${size}: ${reason}; choose a size of Azure Databricks' GPU list, such as Standard_NC4as_T4_v3 or Standard_NC24ads_A100_v4`);
    }
    if (img && !img.spec.gpu && gpuNodes.length > 0) {
      add(`${at}.image`, `${gpuNodes.join(", ")} is a GPU size, and image ${imageName} has no CUDA (${img.key}.gpu is not set): boot a GPU image on it, or choose a size without a GPU`);
    }
    if (img?.spec.gpu && sparkVersion && isPhotonRuntime(sparkVersion)) {
      add(`${at}.sparkVersion`, `${sparkVersion} runs Photon, which does not run on GPU nodes: use the standard runtime key (${runtimeOfSparkVersion(sparkVersion) ?? "16.4"}.x-scala2.12)`);
    }
  };
  const poolRefProblems = (at: string, pool: { workers: string; driver?: string } | undefined) => {
    if (!pool || !pools) return;
    for (const [role, name] of [["workers", pool.workers], ["driver", pool.driver]] as const) {
      if (name === undefined) continue;
      if (!(name in pools)) add(`${at}.pool.${role}`, `names no pool of dcs:pools (${Object.keys(pools).join(", ") || "none declared"})`);
    }
    // The driver holds the Dask scheduler: a spot VM taken back ends the whole cluster.
    const driverPool = pools[pool.driver ?? pool.workers];
    if (driverPool?.spot) add(`${at}.pool.driver`, `pool ${pool.driver ?? pool.workers} is a spot pool; a driver never runs on spot: give the driver an on-demand pool (pool.driver)`);
  };
  for (const [name, cl] of Object.entries(clusters ?? {})) {
    const at = `clusters.${name}`;
    if (cl.numWorkers !== undefined && cl.autoscale !== undefined) add(`${at}.numWorkers`, `set either dcs:${at}.numWorkers or dcs:${at}.autoscale, not both`);
    if (cl.autoscale && cl.autoscale.maxWorkers < cl.autoscale.minWorkers) {
      add(`${at}.autoscale.maxWorkers`, `must be at least dcs:${at}.autoscale.minWorkers (${cl.autoscale.maxWorkers} < ${cl.autoscale.minWorkers})`);
    }
    if (cl.autoterminationMinutes > 120 && !cl.longRunning) {
      add(`${at}.autoterminationMinutes`, `${cl.autoterminationMinutes} exceeds the 120-minute cap; lower it or set dcs:${at}.longRunning: true`);
    }
    const clImage = imageOf(at, cl.image);
    if (cl.sparkVersion) {
      const reason = unsupportedRuntimeReason(cl.sparkVersion);
      if (reason) add(`${at}.sparkVersion`, `${cl.sparkVersion}: ${reason}`);
      const clusterRuntime = runtimeOfSparkVersion(cl.sparkVersion);
      const imageRuntime = clImage ? runtimeOfImageTag(clImage.spec.runtime) : undefined;
      if (clImage && clusterRuntime && imageRuntime && clusterRuntime !== imageRuntime) {
        add(`${at}.sparkVersion`, `runtime ${clusterRuntime} does not match the image ${cl.image} built on ${clImage.spec.runtime} (${clImage.key}.runtime); use ${imageRuntime}.x-...`);
      }
    }
    if (cl.singleNode) {
      if (cl.numWorkers !== undefined || cl.autoscale !== undefined) add(`${at}.singleNode`, `a single-node cluster has no workers: remove dcs:${at}.numWorkers and dcs:${at}.autoscale`);
      if (cl.groupName !== undefined) add(`${at}.singleNode`, "a single-node cluster is not offered with dedicated group access here (that needs kind CLASSIC_PREVIEW, whose single-node form the program does not declare); use singleUserName");
      if (cl.pool?.driver !== undefined) add(`${at}.pool.driver`, "a single-node cluster has only a driver: name its pool as pool.workers");
      if (cl.spot === true) add(`${at}.spot`, "a single-node cluster is all driver, and a driver never runs on spot");
    }
    const nodeTypes = [cl.nodeType, cl.driverNodeType, ...(cl.pool ? [pools?.[cl.pool.workers]?.nodeType, pools?.[cl.pool.driver ?? cl.pool.workers]?.nodeType] : [])];
    gpuPlacementProblems(at, cl.image, clImage, nodeTypes, cl.sparkVersion, cl.pool ? "pool" : "nodeType");
    if (cl.pool) {
      for (const poolName of new Set([cl.pool.workers, cl.pool.driver ?? cl.pool.workers])) {
        const pool = pools?.[poolName];
        if (pool && pool.image !== cl.image) add(`${at}.image`, `is ${cl.image}, but pool ${poolName} preloads image ${pool.image} (dcs:pools.${poolName}.image): the cluster would start without the preloaded image; name the same image in both`);
      }
    }
    if (cl.groupName !== undefined) {
      const runtime = runtimeOfSparkVersion(cl.sparkVersion ?? "") ?? (clImage ? runtimeOfImageTag(clImage.spec.runtime) : undefined);
      if (runtime && Number(runtime) < 15.4) add(`${at}.groupName`, `dedicated access for a group needs runtime 15.4 or later (this cluster runs ${runtime})`);
    }
    if (cl.pool && cl.spot === true) add(`${at}.spot`, "spot is the pool's when the cluster draws from one: set dcs:pools.<name>.spot instead");
    if (cl.pool && (cl.nodeType || cl.driverNodeType)) add(`${at}.pool`, "a cluster that draws from a pool takes its node types from it: remove nodeType and driverNodeType");
    if (cl.spotMaxPrice !== undefined && cl.spot === false) add(`${at}.spotMaxPrice`, "only used with spot workers");
    poolRefProblems(at, cl.pool);
  }
  for (const [name, pool] of Object.entries(pools ?? {})) {
    const poolImage = imageOf(`pools.${name}`, pool.image);
    gpuPlacementProblems(`pools.${name}`, pool.image, poolImage, [pool.nodeType], undefined, "nodeType");
    if (pool.spotMaxPrice !== undefined && !pool.spot) add(`pools.${name}.spotMaxPrice`, "only used with spot: true");
    if (pool.maxCapacity !== undefined && pool.maxCapacity < pool.minIdleInstances) add(`pools.${name}.maxCapacity`, `must be at least minIdleInstances (${pool.maxCapacity} < ${pool.minIdleInstances})`);
  }
  for (const [name, job] of Object.entries(jobs ?? {})) {
    const at = `jobs.${name}`;
    if (job.pool && job.spot === true) add(`${at}.spot`, "spot is the pool's when the job cluster draws from one");
    if (job.pool && job.nodeType) add(`${at}.pool`, "a job cluster that draws from a pool takes its node type from it: remove nodeType");
    const jobImage = imageOf(at, job.image);
    // Without its own node type, a job cluster takes the first cluster's on the same image (team.ts).
    const sibling = Object.values(clusters ?? {}).find((cl) => cl.image === job.image);
    const jobNodeTypes = job.pool ? [pools?.[job.pool.workers]?.nodeType, pools?.[job.pool.driver ?? job.pool.workers]?.nodeType] : [job.nodeType ?? sibling?.nodeType];
    gpuPlacementProblems(at, job.image, jobImage, jobNodeTypes, sibling?.sparkVersion, job.pool ? "pool" : "nodeType");
    if (job.pool) {
      for (const poolName of new Set([job.pool.workers, job.pool.driver ?? job.pool.workers])) {
        const pool = pools?.[poolName];
        if (pool && pool.image !== job.image) add(`${at}.image`, `is ${job.image}, but pool ${poolName} preloads image ${pool.image} (dcs:pools.${poolName}.image); name the same image in both`);
      }
    }
    if (job.schedule) {
      const cron = quartzCronProblems(job.schedule.cron);
      if (cron.length > 0) add(`${at}.schedule.cron`, `Databricks schedules are Quartz cron expressions (seconds minutes hours day-of-month month day-of-week [year], e.g. 0 0 2 * * ?): ${cron.join("; ")}`);
      if (!isTimeZone(job.schedule.timezone)) add(`${at}.schedule.timezone`, `${job.schedule.timezone} is not a time zone id such as UTC or Europe/Amsterdam`);
    }
    poolRefProblems(at, job.pool);
  }
  if (dask && dask.schedulerPort === dask.dashboardPort) add("dask.dashboardPort", "must differ from dcs:dask.schedulerPort");

  if (initScripts) {
    const { store, path: p } = initScripts;
    if (store === "volumes" && !p) add("initScripts.path", "required for the volumes store: /Volumes/<catalog>/<schema>/<volume>/<folder>");
    if (p !== undefined) {
      if (store === "volumes" && !/^\/Volumes\/[^/]+\/[^/]+\/[^/]+(\/[^/]+)*$/.test(p)) add("initScripts.path", "must be /Volumes/<catalog>/<schema>/<volume>[/<folder>] for the volumes store");
      if (store === "workspace" && !/^\/[^/]+(\/[^/]+)*$/.test(p)) add("initScripts.path", "must be an absolute workspace folder such as /Shared/dcs/dev/init-scripts");
      if (store === "dbfs" && !/^dbfs:\/[^/]+(\/[^/]+)*$/.test(p)) add("initScripts.path", "must be a DBFS folder such as dbfs:/dcs/dev/init-scripts");
    }
  }
  return problems;
}

/** What the rules read of an image. */
type ImageSpecLike = { repository: string; runtime: string; gpu?: { cuda: string; ubuntu: string; driver?: string; python?: string } };

/** Workers of a Dask cluster when the stack sets neither a fixed size nor autoscaling. */
export const DEFAULT_DASK_WORKERS = 2;

/**
 * What is allowed but deserves a word at every preview: Databricks autoscaling
 * follows Spark's load, so it never adds nodes for Dask work and can remove a
 * node whose Dask worker holds data (dask-databricks and Databricks' autoscaling
 * docs); a fixed size is what a Dask cluster wants.
 */
export function configWarnings(c: Partial<Parsed>): ConfigProblem[] {
  const warnings: ConfigProblem[] = [];
  const images = { ...(c.image ? { default: { key: "dcs:image", spec: c.image } } : {}), ...Object.fromEntries(Object.entries(c.images ?? {}).map(([n, spec]) => [n, { key: `dcs:images.${n}`, spec }])) };
  for (const { key, spec } of Object.values(images)) {
    if (!spec.gpu) continue;
    const { driver } = gpuFigures(spec.gpu, spec.runtime);
    const note = driver ? cudaDriverNote(spec.gpu.cuda, driver) : undefined;
    if (note) warnings.push({ key: `${key}.gpu.cuda`, message: note });
  }
  for (const [name, cl] of Object.entries(c.clusters ?? {})) {
    if (!cl.autoscale) continue;
    warnings.push({
      key: `${NAMESPACE}:clusters.${name}.autoscale`,
      message: `Databricks autoscaling follows Spark's load, not Dask's: it will not add workers for Dask tasks and may remove a node whose Dask worker holds results; prefer dcs:clusters.${name}.numWorkers for a Dask cluster`,
    });
  }
  return warnings;
}

/** The rules of a platform stack: it manages the switch, lists its teams, and its policy holds together. */
export function platformProblems(c: Partial<Parsed>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, message: string) => problems.push({ key: `${NAMESPACE}:${key}`, message });
  if (c.containerServices && !c.containerServices.manage) add("containerServices.manage", "must be true in a platform stack: it owns the workspace's container-services switch");
  if (c.teams !== undefined && Object.keys(c.teams).length === 0) add("teams", "list at least one team (its Databricks group and approved registries)");
  if (c.teams === undefined) add("teams", "is required in a platform stack: each team's group and approved registries");
  const p = c.policy;
  if (p) {
    const at = p.autoterminationMinutes;
    if (at.min > at.max) add("policy.autoterminationMinutes.max", `must be at least min (${at.max} < ${at.min})`);
    if (at.default < at.min || at.default > at.max) add("policy.autoterminationMinutes.default", `must lie between min and max (${at.min}..${at.max})`);
    p.sparkVersions.forEach((v, i) => {
      const reason = unsupportedRuntimeReason(v);
      if (reason) add(`policy.sparkVersions[${i}]`, `${v}: ${reason}`);
    });
  }
  return problems;
}
