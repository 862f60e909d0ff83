/**
 * The schema of every `dcs:*` key, one block per concept. Shapes, ranges and
 * defaults only: rules that span keys live in rules.ts, the loader in index.ts.
 */
import { z } from "zod";
import { isRegistryName, REGISTRY_NAME_RULE } from "../../components/naming";
import { RESERVED_CLUSTER_TAGS } from "../../components/dcsCluster";
import { SECRET_SCOPE_NAME, SECRET_KEY_NAME } from "../../components/pullSecret";
import { DRIVER_PROXY_REFUSED_PORTS } from "../../components/workspace";
import { DEFAULT_CUDA, DEFAULT_CUDA_UBUNTU } from "../../components/gpu";
import { PROGRAM_BUILD_ARGS } from "../../components/clusterImage";

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SECRET_REFERENCE = /^\{\{secrets\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\}\}$/;
export const RUNTIME_TAG = /^(\d+)\.(\d+)-LTS$/;
const TAG_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

const guid = (what: string) => z.string().regex(GUID, `must be the ${what} (a GUID such as 00000000-0000-0000-0000-000000000000)`);
const port = z.number().int().min(1024, "must be a port between 1024 and 65535").max(65535, "must be a port between 1024 and 65535");

/**
 * Tags that end up on the cluster. Databricks sets the reserved ones itself
 * (a custom `Name` can leave the cluster's VMs untracked), so they are refused.
 */
const tagMap = z.record(
  z
    .string()
    .regex(TAG_KEY, "tag keys start with a letter and use letters, digits, '_', '.', '-'")
    // Azure tag names are case-insensitive: `name` collides with `Name`.
    .refine((k) => !RESERVED_CLUSTER_TAGS.some((r) => r.toLowerCase() === k.toLowerCase()), {
      message: `is a tag Databricks sets on every cluster itself (reserved: ${RESERVED_CLUSTER_TAGS.join(", ")}); choose another key`,
    }),
  z.string(),
);

export const resourceGroupSchema = z.strictObject({
  /** Name of the resource group. */
  name: z.string().regex(/^[-\w.()]{1,89}[-\w()]$/, "must be 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'"),
  /** true: the group exists and is only referenced; false: the stack creates it. */
  existing: z.boolean().default(false),
});

export const registrySchema = z.strictObject({
  /** Globally unique ACR name. */
  name: z.string().refine(isRegistryName, REGISTRY_NAME_RULE),
  /** ACR service tier. */
  sku: z.enum(["Basic", "Standard", "Premium"]).default("Basic"),
  /** ACR admin user: only a dev stack may turn it on, and only explicitly. */
  adminUserEnabled: z.boolean().default(false),
  /** Protect the registry from `pulumi destroy`; defaults to true in prod. */
  protect: z.boolean().optional(),
  /** Tags kept per repository by the scheduled purge (the one clusters use is always kept). */
  keepTags: z.number().int().min(1, "must keep at least 1 tag").max(1000).default(10),
  /** When the purge runs, a cron expression in UTC. */
  purgeSchedule: z
    .string()
    .regex(/^\S+( \S+){4}$/, "must be a five-field cron expression in UTC, such as 0 3 * * *")
    .default("0 3 * * *"),
  /** Seconds to wait after a new role assignment before anything relies on it. */
  grantWaitSeconds: z.number().int().min(0).max(1800).default(300),
});

export const pullIdentitySchema = z.strictObject({
  /** Application (client) id of the service principal the cluster pulls with. */
  clientId: guid("application (client) id"),
  /** Object id of that service principal's enterprise application (for the AcrPull role). */
  objectId: guid("service principal object id"),
  /** An existing Databricks secret holding the client secret, e.g. {{secrets/dcs/acr-pull}}; the stack then declares no scope. */
  secretReference: z.string().regex(SECRET_REFERENCE, "must look like {{secrets/<scope>/<key>}}").optional(),
});

export const pullSecretSchema = z.strictObject({
  /** Databricks secret scope the stack declares for the pull secret. Default: dcs-<team>-<stack>. */
  scope: z.string().regex(SECRET_SCOPE_NAME, "must be 1-128 letters, digits, '-', '_' or '.'").optional(),
  /** Key of the pull secret inside the scope. */
  key: z.string().regex(SECRET_KEY_NAME, "must be 1-128 letters, digits, '-', '_' or '.'").default("acr-pull"),
  /** Principals besides the cluster's owner who start the cluster and so need READ (users, groups, service principal application ids). */
  readers: z.array(z.string().min(1)).default([]),
  /** Identities that deploy the stack besides the one that created the scope (the pipeline's, after a first deployment from a laptop): they get MANAGE. */
  managers: z.array(z.string().min(1)).default([]),
});

const repositoryPath = z
  .string()
  .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/, "must be a lower-case repository path such as hydrology/dask");

/** A GPU image: the CUDA it is built on and the driver of the GPU nodes it runs on (figures and sources in components/gpu.ts). */
export const gpuSchema = z.strictObject({
  /** CUDA release of the nvidia/cuda runtime base, e.g. 12.6.3; the runtime's driver must run it (components/gpu.ts). */
  cuda: z.string().regex(/^\d+\.\d+\.\d+$/, "must be a CUDA release such as 12.6.3 (a tag of nvidia/cuda)").default(DEFAULT_CUDA),
  /** Ubuntu release of the nvidia/cuda base (a tag suffix NVIDIA publishes for that CUDA); the runtime's own by default. */
  ubuntu: z.enum(["20.04", "22.04", "24.04"]).default(DEFAULT_CUDA_UBUNTU),
  /** NVIDIA driver of the runtime's GPU nodes. Default: the figure for dcs:images.<name>.runtime in components/gpu.ts. */
  driver: z.string().regex(/^\d+\.\d+(\.\d+)?$/, "must be a driver version such as 535.54.03").optional(),
  /** Python major.minor the image's /databricks/python3 runs: the runtime's. Default: the figure for the runtime in components/gpu.ts. */
  python: z.string().regex(/^3\.\d+$/, "must be a Python version such as 3.12").optional(),
});


/** What every image of a stack is made of. */
const imageSpecShape = {
  /** Tag of databricksruntime/standard the image is built on (a GPU image: the runtime it pairs with); must match its clusters' runtime. */
  runtime: z.string().regex(RUNTIME_TAG, "must be a long-term-support runtime tag such as 16.4-LTS").default("16.4-LTS"),
  /** Digest that pins the base image (<base>@<digest>). */
  baseDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/, "must be sha256:<64 hex digits> (see the README for the command that looks it up)").optional(),
  /** Build from the base imported into the stack's registry (`az acr import`), not from Docker Hub, and reuse the registry's build cache. */
  baseFromRegistry: z.boolean().default(false),
  /** URL of the source repository, written into the image's OCI source label. */
  source: z.url({ message: "must be a URL such as https://github.com/org/repo" }).optional(),
  /** Further build arguments the Dockerfile reads (they enter the content tag). */
  buildArgs: z
    .record(
      z
        .string()
        .regex(/^[A-Z][A-Z0-9_]*$/, "build argument names are upper case")
        .refine((k) => !PROGRAM_BUILD_ARGS.includes(k), { message: `is set by the program (${PROGRAM_BUILD_ARGS.join(", ")}); set the image key it comes from` }),
      z.string(),
    )
    .default({}),
  /** Makes the image a GPU image: built on nvidia/cuda, for GPU node types only. */
  gpu: gpuSchema.optional(),
};

/** An image of dcs:images besides the default one. */
export const namedImageSchema = z.strictObject({
  ...imageSpecShape,
  /** Repository inside the registry; each image has its own. */
  repository: repositoryPath,
  /** Build context, relative to the project root. */
  context: z.string().min(1),
  /** The service principal clusters pull this image with. Default: dcs:pullIdentity. Its secret: dcs:imagePullSecrets.<name>, or secretReference. */
  pullIdentity: z
    .strictObject({
      clientId: guid("application (client) id"),
      objectId: guid("service principal object id"),
      secretReference: z.string().regex(SECRET_REFERENCE, "must look like {{secrets/<scope>/<key>}}").optional(),
    })
    .optional(),
});

/** The default image (dcs:image): the one every cluster, pool and job boots unless it names another. */
export const imageSchema = z.strictObject({
  ...imageSpecShape,
  /** Repository inside the registry. */
  repository: repositoryPath.default("hydrology/dask"),
  /** Build context, relative to the project root. */
  context: z.string().min(1).default("infra/image"),
  /** How `pulumi up` authenticates its pushes (of every image of the stack). */
  push: z
    .strictObject({
      /** dockerConfig: the runner's `az acr login`; servicePrincipal: clientId + dcs:pushClientSecret; adminUser: the registry's admin credentials. */
      mode: z.enum(["dockerConfig", "servicePrincipal", "adminUser"]).default("dockerConfig"),
      /** Client id of the pushing service principal (mode servicePrincipal). */
      clientId: guid("application (client) id").optional(),
      /** Object id of the pushing service principal (mode servicePrincipal): the stack grants it AcrPush. */
      objectId: guid("service principal object id").optional(),
    })
    .default({ mode: "dockerConfig" }),
});

/** Name of the image dcs:image declares. */
export const DEFAULT_IMAGE = "default";

export const workspaceSchema = z.strictObject({
  /** Workspace URL, e.g. https://adb-1234567890123456.7.azuredatabricks.net */
  url: z.string().regex(/^https:\/\/[A-Za-z0-9.-]+\/?$/, "must be the workspace URL, https://adb-<id>.<n>.azuredatabricks.net").optional(),
  /** Azure resource id of the workspace. */
  resourceId: z
    .string()
    .regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Databricks\/workspaces\/[^/]+$/i, "must be /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Databricks/workspaces/<name>")
    .optional(),
});

export const initScriptsSchema = z.strictObject({
  /** Where the scripts are uploaded: workspace files, a Unity Catalog volume, or DBFS (deprecated). */
  store: z.enum(["workspace", "volumes", "dbfs"]).default("workspace"),
  /** Destination folder; defaults per store (see README). */
  path: z.string().optional(),
  /** Local folder whose *.sh files are uploaded. */
  dir: z.string().min(1).default("infra/init-scripts"),
});

const vmSize = z.string().regex(/^Standard_[A-Za-z0-9_]+$/, "must be an Azure VM size such as Standard_D4ds_v5");

export const clusterSchema = z.strictObject({
  /** Cluster name; defaults to <team>-dask-<stack>. */
  name: z.string().min(1).max(100).optional(),
  /** Databricks runtime key; looked up (LTS, no ML/Genomics) when absent. */
  sparkVersion: z.string().regex(/^\d+\.\d+\.x-(?:[a-z0-9-]+-)?scala\d\.\d+$/, "must be a runtime key such as 16.4.x-scala2.12").optional(),
  /** Worker node type; looked up from minCores/minMemoryGb when absent. */
  nodeType: vmSize.optional(),
  /** Driver node type; defaults to the worker node type. */
  driverNodeType: vmSize.optional(),
  /** Minimum cores for the node-type lookup. */
  minCores: z.number().int().min(1).max(256).default(4),
  /** Minimum memory (GB) for the node-type lookup. */
  minMemoryGb: z.number().int().min(1).max(4096).default(16),
  /** Fixed number of workers (exclusive with autoscale); 2 when neither is set. A Dask cluster needs at least one. */
  numWorkers: z.number().int().min(1, "a Dask cluster needs at least one worker (the driver runs only the scheduler)").max(1000).optional(),
  /** Autoscaling range (exclusive with numWorkers). */
  autoscale: z
    .strictObject({
      minWorkers: z.number().int().min(0).max(1000),
      maxWorkers: z.number().int().min(1).max(1000),
    })
    .optional(),
  /** Minutes of inactivity before the cluster stops. */
  autoterminationMinutes: z.number().int().min(10, "must be at least 10 minutes").max(10_000).default(30),
  /** Allow auto-termination above 120 minutes (tags the cluster longRunning=true). */
  longRunning: z.boolean().default(false),
  /** The user or service principal the single-user cluster belongs to (with groupName: who is named in the secret's READ grants besides the group). */
  singleUserName: z.string().min(3, "must be the user (email) or service principal application id that owns the cluster"),
  /** Where Databricks delivers the cluster's logs (driver, executors, init scripts, Dask): a Unity Catalog volume folder or a DBFS folder. */
  logDestination: z
    .string()
    .regex(/^(\/Volumes\/[^/]+\/[^/]+\/[^/]+(\/[^/]+)*|dbfs:\/[^/]+(\/[^/]+)*)$/, "must be a Unity Catalog volume folder /Volumes/<catalog>/<schema>/<volume>/<folder> or a DBFS folder dbfs:/<folder>")
    .optional(),
  /** Dedicate the cluster to this Databricks group instead of singleUserName, so the whole team can attach (DBR 15.4+; unverified with custom containers). */
  groupName: z.string().min(1).optional(),
  /** Azure spot VMs for the workers, the driver on demand, falling back to on-demand; default on in dev, off elsewhere. Not with pools (spot is the pool's). */
  spot: z.boolean().optional(),
  /** Highest spot price in USD per hour, or -1 for up to the on-demand price. */
  spotMaxPrice: z.number().refine((p) => p === -1 || p > 0, "must be -1 (up to the on-demand price) or a positive price").optional(),
  /** Pools the cluster draws its VMs from (names in dcs:pools): the workers', and the driver's (default the workers'). */
  pool: z.strictObject({ workers: z.string().min(1), driver: z.string().min(1).optional() }).optional(),
  /** The image the cluster boots (a name of dcs:images, or default: dcs:image). */
  image: z.string().min(1).default(DEFAULT_IMAGE),
  /** How the cluster names its image: by digest (default) or by the content tag. */
  imageReference: z.enum(["digest", "tag"]).default("digest"),
  /** A single-node cluster: no workers, the driver runs the Dask scheduler and one worker (Databricks' single-node profile). Exclusive with numWorkers and autoscale. */
  singleNode: z.boolean().default(false),
  /** Minimum GPUs per node for the node-type lookup of a cluster on a GPU image. */
  minGpus: z.number().int().min(1).max(16).default(1),
  /** Extra custom tags (cost tags are added from dcs:team and dcs:costCenter). */
  tags: tagMap.default({}),
  /** Extra Spark environment variables; the DCS_ ones are the program's own (set from dcs:dask and the scripts). */
  sparkEnvVars: z
    .record(
      z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, "environment variable names are upper case")
        .refine((k) => !k.startsWith("DCS_"), { message: "DCS_ variables are set by the program (from dcs:dask and the init scripts' content); set the dcs:dask key instead" }),
      z.string(),
    )
    .default({}),
});

const shortName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "names are short, lower-case letters, digits and '-', such as dask or nightly");

/** A warm pool: VMs of one node type kept idle with the image and the runtime already on them. */
export const poolSchema = z.strictObject({
  /** Azure VM size of the pool. */
  nodeType: vmSize,
  /** The image the pool preloads (a name of dcs:images, or default: dcs:image); its clusters must boot the same one. */
  image: z.string().min(1).default(DEFAULT_IMAGE),
  /** Idle VMs kept ready (each costs its VM's price while idle). */
  minIdleInstances: z.number().int().min(0).max(1000).default(0),
  /** Most VMs the pool holds. Default: no limit. */
  maxCapacity: z.number().int().min(1).max(100_000).optional(),
  /** Minutes before an idle VM beyond minIdleInstances is released. */
  idleMinutes: z.number().int().min(0).max(10_000).default(30),
  /** Spot VMs (SPOT_AZURE; pools have no fallback mode); refused for a pool a driver draws from. */
  spot: z.boolean().default(false),
  /** Highest spot price, or -1 for up to the on-demand price. */
  spotMaxPrice: z.number().refine((p) => p === -1 || p > 0, "must be -1 (up to the on-demand price) or a positive price").optional(),
});

/** A scheduled job on a fresh job cluster from the same image. */
export const jobSchema = z.strictObject({
  /** Python file of the repository's jobs/ folder the job runs, e.g. dask_smoke.py. */
  file: z.string().regex(/^[A-Za-z0-9_.-]+\.py$/, "must be a Python file name of the jobs/ folder, such as dask_smoke.py"),
  /** Arguments of the Python file. */
  parameters: z.array(z.string()).default([]),
  /** Quartz cron schedule (Databricks jobs), e.g. "0 0 2 * * ?"; none: run on demand. */
  schedule: z.strictObject({ cron: z.string().min(9), timezone: z.string().min(1).default("UTC") }).optional(),
  /** Application id of the service principal the job runs as. */
  runAs: guid("service principal application id"),
  /** The image the job cluster boots (a name of dcs:images, or default: dcs:image). */
  image: z.string().min(1).default(DEFAULT_IMAGE),
  /** Workers of the job cluster. */
  numWorkers: z.number().int().min(1, "a Dask job cluster needs at least one worker").max(1000).default(2),
  /** Worker node type (without a pool). Default: the first cluster's. */
  nodeType: vmSize.optional(),
  /** Pools the job cluster draws from. */
  pool: z.strictObject({ workers: z.string().min(1), driver: z.string().min(1).optional() }).optional(),
  /** Spot workers (without a pool). Default: on in dev. */
  spot: z.boolean().optional(),
  /** Minutes before a run is stopped. */
  timeoutMinutes: z.number().int().min(1).max(2880).default(60),
});

export const daskSchema = z
  .strictObject({
    schedulerPort: port.default(8786),
    /** The driver proxy refuses 8787, Dask's own default; 8087 is what dask-databricks uses. */
    dashboardPort: port
      .refine((p) => !DRIVER_PROXY_REFUSED_PORTS.includes(p), { message: "the Databricks driver proxy refuses this port, so nobody could open the dashboard; use 8087" })
      .default(8087),
    workerThreads: z.number().int().min(1).max(512).optional(),
    workerMemory: z.string().regex(/^(auto|\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB))$/, "must be auto or a size such as 8GiB").optional(),
    /** Attempts after which a waiting worker's log calls the scheduler overdue (it keeps trying). */
    connectRetries: z.number().int().min(1).max(1000).default(60),
    /** Share of each node's cores and memory for Dask when workerThreads/workerMemory are unset; the rest is left to Spark's executor. */
    nodeFraction: z.number().gt(0, "must be above 0").max(1, "must be at most 1 (the whole node)").optional(),
  })
  .default({ schedulerPort: 8786, dashboardPort: 8087, connectRetries: 60 });

/** A team's entry in a platform stack: the group that may use its cluster policy and the registries its images come from. */
export const platformTeamSchema = z.strictObject({
  /** Databricks group of the team: gets CAN_USE on the team's cluster policy. */
  group: z.string().min(1, "must name the team's Databricks group"),
  /** Registry hosts the team's clusters may pull from, e.g. dcshydrologydev.azurecr.io. */
  registries: z
    .array(z.string().regex(/^[a-z0-9]+(\.[a-z0-9-]+)+$/, "must be a registry host such as dcshydrologydev.azurecr.io"))
    .min(1, "must list at least one registry the team's images come from"),
  /** The team's cost center, fixed by the policy on its clusters' costCenter tag. Default: required, any value. */
  costCenter: z.string().min(1).optional(),
  /** Service principals (application ids) the team's jobs run as: CAN_USE on the team's job-cluster policy. */
  jobPrincipals: z.array(guid("service principal application id")).default([]),
});

/** What a platform stack's cluster policies allow, for every team. */
export const platformPolicySchema = z.strictObject({
  /** Runtime keys clusters may use: non-ML long-term-support runtimes. */
  sparkVersions: z.array(z.string().regex(/^\d+\.\d+\.x-(?:[a-z0-9-]+-)?scala\d\.\d+$/, "must be a runtime key such as 16.4.x-scala2.12")).min(1).default(["16.4.x-scala2.12"]),
  /** Auto-termination bounds and default, in minutes. */
  autoterminationMinutes: z
    .strictObject({ min: z.number().int().min(10), max: z.number().int().max(10_000), default: z.number().int() })
    .default({ min: 10, max: 120, default: 30 }),
});

/** The whole `dcs:*` namespace. Keys are the part after `dcs:`. */
export const stackConfigSchema = z.strictObject({
  /** team (the default): registry, image, clusters; platform: one per workspace, the switch and the teams' cluster policies. */
  kind: z.enum(["team", "platform"]).default("team"),
  environment: z.enum(["dev", "test", "prod"]).optional(),
  /** A team stack's platform stack, whose outputs it reads (`<org>/<project>/<stack>`). */
  platform: z
    .strictObject({
      stack: z.string().regex(/^([A-Za-z0-9_.-]+\/){0,2}[A-Za-z0-9_.-]+$/, "must name the platform stack as <org>/<project>/<stack> (or <stack> within this project)"),
    })
    .optional(),
  /** A platform stack's teams, by team name. */
  teams: z.record(z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, "team names are short and lower-case, such as hydrology"), platformTeamSchema).optional(),
  /** A platform stack's cluster-policy rules. */
  policy: platformPolicySchema.optional(),
  team: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, "must be a short lower-case team name such as hydrology"),
  costCenter: z.string().min(1, "must name the cost center billed for the cluster"),
  location: z.string().regex(/^[a-z0-9]+$/, "must be an Azure region such as westeurope"),
  tags: tagMap.default({}),
  resourceGroup: resourceGroupSchema,
  registry: registrySchema,
  pullIdentity: pullIdentitySchema,
  pullSecret: pullSecretSchema.default({ key: "acr-pull", readers: [], managers: [] }),
  pullClientSecret: z.string().min(1).optional(),
  image: imageSchema.default({ repository: "hydrology/dask", runtime: "16.4-LTS", baseFromRegistry: false, context: "infra/image", buildArgs: {}, push: { mode: "dockerConfig" } }),
  /** Further images by short name (each its own repository in the registry, its own tag and pull secret key); clusters, pools and jobs name the one they boot. */
  images: z.record(shortName, namedImageSchema).default({}),
  /** Client secrets of the images' own pull identities (dcs:images.<name>.pullIdentity), by image name; set with `pulumi config set --secret --path 'dcs:imagePullSecrets.<name>'`. */
  imagePullSecrets: z.record(z.string(), z.string().min(1)).optional(),
  pushClientSecret: z.string().min(1).optional(),
  workspace: workspaceSchema.default({}),
  containerServices: z
    .strictObject({
      /** This stack owns the workspace's enableDcs switch (workspace admins). */
      manage: z.boolean().default(false),
    })
    .default({ manage: false }),
  initScripts: initScriptsSchema.default({ store: "workspace", dir: "infra/init-scripts" }),
  /** The stack's clusters by short name (the Dask clusters the team attaches to). */
  clusters: z.record(shortName, clusterSchema),
  /** Warm pools by name. */
  pools: z.record(shortName, poolSchema).default({}),
  /** Scheduled jobs by name. */
  jobs: z.record(shortName, jobSchema).default({}),
  dask: daskSchema,
});

export type Parsed = z.infer<typeof stackConfigSchema>;
