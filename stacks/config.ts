/**
 * The stack configuration: one typed schema for every `dcs:*` key of a
 * `Pulumi.<stack>.yaml`, validated as a whole before any resource exists.
 *
 * `parseStackConfig` is pure (raw key/value pairs in, typed config or a
 * `ConfigError` listing every problem out) so tests and the offline renderer
 * use exactly the code `pulumi up` uses. `loadStackConfig` is the only place in
 * the program that reads Pulumi's runtime configuration.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { z } from "zod";
import { isRegistryName, REGISTRY_NAME_RULE, unsupportedRuntimeReason } from "../components/naming";

/** The configuration namespace: keys are written `dcs:<key>`. */
export const NAMESPACE = "dcs";

/** Secret keys: accepted only when set with `pulumi config set --secret`. */
export const SECRET_KEYS = ["pullClientSecret", "pushClientSecret"] as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SECRET_REFERENCE = /^\{\{secrets\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\}\}$/;
const RUNTIME_TAG = /^(\d+)\.(\d+)-LTS$/;
const TAG_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

const guid = (what: string) => z.string().regex(GUID, `must be the ${what} (a GUID such as 00000000-0000-0000-0000-000000000000)`);
const tagMap = z.record(z.string().regex(TAG_KEY, "tag keys start with a letter and use letters, digits, '_', '.', '-'"), z.string());
const port = z.number().int().min(1024, "must be a port between 1024 and 65535").max(65535, "must be a port between 1024 and 65535");

const resourceGroupSchema = z.strictObject({
  /** Name of the resource group. */
  name: z.string().regex(/^[-\w.()]{1,89}[-\w()]$/, "must be 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'"),
  /** true: the group exists and is only referenced; false: the stack creates it. */
  existing: z.boolean().default(false),
});

const registrySchema = z.strictObject({
  /** Globally unique ACR name. */
  name: z.string().refine(isRegistryName, REGISTRY_NAME_RULE),
  /** ACR service tier. */
  sku: z.enum(["Basic", "Standard", "Premium"]).default("Basic"),
  /** ACR admin user: only a dev stack may turn it on, and only explicitly. */
  adminUserEnabled: z.boolean().default(false),
  /** Protect the registry from `pulumi destroy`; defaults to true in prod. */
  protect: z.boolean().optional(),
});

const pullIdentitySchema = z.strictObject({
  /** Application (client) id of the service principal the cluster pulls with. */
  clientId: guid("application (client) id"),
  /** Object id of that service principal's enterprise application (for the AcrPull role). */
  objectId: guid("service principal object id"),
  /** Databricks secret reference holding the client secret, e.g. {{secrets/dcs/acr-pull}}. */
  secretReference: z.string().regex(SECRET_REFERENCE, "must look like {{secrets/<scope>/<key>}}").optional(),
});

const imageSchema = z.strictObject({
  /** Repository inside the registry. */
  repository: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/, "must be a lower-case repository path such as hydrology/dask").default("hydrology/dask"),
  /** Tag of databricksruntime/standard the image is built on; must match the cluster runtime. */
  runtime: z.string().regex(RUNTIME_TAG, "must be a long-term-support runtime tag such as 16.4-LTS").default("16.4-LTS"),
  /** Build context, relative to the project root. */
  context: z.string().min(1).default("infra/image"),
  /** URL of the source repository, written into the image's OCI source label. */
  source: z.url({ message: "must be a URL such as https://github.com/org/repo" }).optional(),
  /** How `pulumi up` authenticates its push. */
  push: z
    .strictObject({
      /** dockerConfig: the runner's `docker login`/`az acr login`; servicePrincipal: clientId + dcs:pushClientSecret; adminUser: the registry's admin credentials. */
      mode: z.enum(["dockerConfig", "servicePrincipal", "adminUser"]).default("dockerConfig"),
      /** Client id of the pushing service principal (mode servicePrincipal). */
      clientId: guid("application (client) id").optional(),
    })
    .default({ mode: "dockerConfig" }),
});

const workspaceSchema = z.strictObject({
  /** Workspace URL, e.g. https://adb-1234567890123456.7.azuredatabricks.net */
  url: z.string().regex(/^https:\/\/[A-Za-z0-9.-]+\/?$/, "must be the workspace URL, https://adb-<id>.<n>.azuredatabricks.net").optional(),
  /** Azure resource id of the workspace. */
  resourceId: z
    .string()
    .regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Databricks\/workspaces\/[^/]+$/i, "must be /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Databricks/workspaces/<name>")
    .optional(),
});

const initScriptsSchema = z.strictObject({
  /** Where the scripts are uploaded: workspace files, a Unity Catalog volume, or DBFS (deprecated). */
  store: z.enum(["workspace", "volumes", "dbfs"]).default("workspace"),
  /** Destination folder; defaults per store (see README). */
  path: z.string().optional(),
  /** Local folder whose *.sh files are uploaded. */
  dir: z.string().min(1).default("infra/init-scripts"),
});

const clusterSchema = z.strictObject({
  /** Cluster name; defaults to <team>-dask-<stack>. */
  name: z.string().min(1).max(100).optional(),
  /** Databricks runtime key; looked up (LTS, no ML/Genomics) when absent. */
  sparkVersion: z.string().regex(/^\d+\.\d+\.x-(?:[a-z0-9-]+-)?scala\d\.\d+$/, "must be a runtime key such as 16.4.x-scala2.12").optional(),
  /** Worker node type; looked up from minCores/minMemoryGb when absent. */
  nodeType: z.string().regex(/^Standard_[A-Za-z0-9_]+$/, "must be an Azure VM size such as Standard_D4ds_v5").optional(),
  /** Driver node type; defaults to the worker node type. */
  driverNodeType: z.string().regex(/^Standard_[A-Za-z0-9_]+$/, "must be an Azure VM size such as Standard_D4ds_v5").optional(),
  /** Minimum cores for the node-type lookup. */
  minCores: z.number().int().min(1).max(256).default(4),
  /** Minimum memory (GB) for the node-type lookup. */
  minMemoryGb: z.number().int().min(1).max(4096).default(16),
  /** Fixed number of workers (exclusive with autoscale). */
  numWorkers: z.number().int().min(0).max(1000).optional(),
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
  /** The user or service principal the single-user cluster belongs to. */
  singleUserName: z.string().min(3, "must be the user (email) or service principal application id that owns the cluster"),
  /** Extra custom tags (cost tags are added from dcs:team and dcs:costCenter). */
  tags: tagMap.default({}),
  /** Extra Spark environment variables. */
  sparkEnvVars: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "environment variable names are upper case"), z.string()).default({}),
});

const daskSchema = z
  .strictObject({
    schedulerPort: port.default(8786),
    dashboardPort: port.default(8787),
    workerThreads: z.number().int().min(1).max(512).optional(),
    workerMemory: z.string().regex(/^(auto|\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB))$/, "must be auto or a size such as 8GiB").optional(),
    connectRetries: z.number().int().min(1).max(1000).default(60),
  })
  .default({ schedulerPort: 8786, dashboardPort: 8787, connectRetries: 60 });

/** The whole `dcs:*` namespace. Keys are the part after `dcs:`. */
export const stackConfigSchema = z.strictObject({
  environment: z.enum(["dev", "test", "prod"]).optional(),
  team: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, "must be a short lower-case team name such as hydrology"),
  costCenter: z.string().min(1, "must name the cost center billed for the cluster"),
  location: z.string().regex(/^[a-z0-9]+$/, "must be an Azure region such as westeurope"),
  tags: tagMap.default({}),
  resourceGroup: resourceGroupSchema,
  registry: registrySchema,
  pullIdentity: pullIdentitySchema,
  pullClientSecret: z.string().min(1).optional(),
  image: imageSchema.default({ repository: "hydrology/dask", runtime: "16.4-LTS", context: "infra/image", push: { mode: "dockerConfig" } }),
  pushClientSecret: z.string().min(1).optional(),
  workspace: workspaceSchema,
  containerServices: z
    .strictObject({
      /** This stack owns the workspace's enableDcs switch (workspace admins). */
      manage: z.boolean().default(false),
      /** The stack declares the switch and nothing else: a platform admin's stack. */
      only: z.boolean().default(false),
    })
    .default({ manage: false, only: false }),
  initScripts: initScriptsSchema.default({ store: "workspace", dir: "infra/init-scripts" }),
  cluster: clusterSchema,
  dask: daskSchema,
});

type Parsed = z.infer<typeof stackConfigSchema>;

/** The validated configuration of a team stack (registry, image, scripts, cluster), every default applied. */
export interface TeamStackConfig extends Omit<Parsed, "environment" | "pullClientSecret" | "pushClientSecret"> {
  kind: "team";
  /** Stack name, e.g. dev. */
  stack: string;
  /** dev, test or prod (from dcs:environment or the stack name). */
  environment: "dev" | "test" | "prod";
  /** Client secret of the pull identity, a Pulumi secret (absent when pullIdentity.secretReference is used). */
  pullClientSecret?: pulumi.Output<string>;
  /** Client secret of the push identity, a Pulumi secret (push mode servicePrincipal only). */
  pushClientSecret?: pulumi.Output<string>;
  /** Whether the registry is protected from deletion. */
  registryProtected: boolean;
}

/** Keys a container-services-only stack (a platform admin's) may set. */
export const ADMIN_KEYS = ["environment", "team", "costCenter", "tags", "workspace", "containerServices"] as const;

/** The validated configuration of a platform admin's stack: the workspace switch and nothing else. */
export interface AdminStackConfig {
  kind: "admin";
  stack: string;
  environment: "dev" | "test" | "prod";
  workspace: Parsed["workspace"];
  containerServices: Parsed["containerServices"];
  tags: Record<string, string>;
}

/** The validated configuration of one stack. */
export type StackConfig = TeamStackConfig | AdminStackConfig;

/** What parseStackConfig returns: secrets still plain, before they become Pulumi secrets. */
export type ParsedStackConfig =
  | (Omit<TeamStackConfig, "pullClientSecret" | "pushClientSecret"> & { pullClientSecret?: string; pushClientSecret?: string })
  | AdminStackConfig;

/** One configuration problem, naming the full key. */
export interface ConfigProblem {
  key: string;
  message: string;
}

/** Thrown when a stack's configuration is invalid; lists every problem. */
export class ConfigError extends Error {
  constructor(
    public readonly stackFile: string,
    public readonly problems: ConfigProblem[],
  ) {
    super(
      `${stackFile}: ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}; nothing was created or changed:\n` +
        problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** What parseStackConfig needs besides the raw values. */
export interface ParseContext {
  /** Stack name. */
  stack: string;
  /** Full keys (dcs:...) that Pulumi holds as secrets. */
  secretKeys: ReadonlySet<string>;
}

function keyOf(path: ReadonlyArray<PropertyKey>): string {
  const [top, ...rest] = path.map(String);
  return `${NAMESPACE}:${top ?? ""}${rest.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("")}`;
}

function unknownKeyHint(key: string): string {
  if (/secret|password|token/i.test(key)) {
    return "is not a configuration key; secrets go only in dcs:pullClientSecret or dcs:pushClientSecret, set with `pulumi config set --secret`";
  }
  return "is not a configuration key (see the README's configuration reference)";
}

/** Decodes a raw config value: Pulumi hands objects, numbers and booleans over as JSON text. */
export function decodeConfigValue(value: string): unknown {
  const trimmed = value.trim();
  if (/^[[{]/.test(trimmed) || trimmed === "true" || trimmed === "false") {
    try {
      return JSON.parse(trimmed);
    } catch {
      return value;
    }
  }
  return value;
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

/** Runtime keys Databricks Container Services cannot run (shared with the cluster and the policies). */
export { unsupportedRuntimeReason };

/**
 * Rules that span keys. Runs on whatever parsed: a key that failed its own
 * schema is absent here, and the rules that need it are skipped, so one run
 * reports the schema problems and the cross-key problems together.
 */
function crossFieldProblems(c: Partial<Parsed>, ctx: ParseContext, environment: string | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, message: string) => problems.push({ key: `${NAMESPACE}:${key}`, message });
  const { registry, image, pullIdentity, workspace, cluster: cl, dask, initScripts } = c;

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
    if (c.pushClientSecret === undefined) add("pushClientSecret", "required when dcs:image.push.mode is servicePrincipal; run `pulumi config set --secret dcs:pushClientSecret <secret>`");
  } else if (image) {
    if (image.push.clientId) add("image.push.clientId", `only used with dcs:image.push.mode servicePrincipal (mode is ${image.push.mode})`);
    if (c.pushClientSecret !== undefined) add("pushClientSecret", `only used with dcs:image.push.mode servicePrincipal (mode is ${image.push.mode})`);
  }

  if (pullIdentity) {
    const hasRef = pullIdentity.secretReference !== undefined;
    const hasSecret = c.pullClientSecret !== undefined;
    if (hasRef && hasSecret) add("pullClientSecret", "set either dcs:pullClientSecret or dcs:pullIdentity.secretReference, not both");
    if (!hasRef && !hasSecret) add("pullClientSecret", "required (the cluster pulls its image with it): run `pulumi config set --secret dcs:pullClientSecret <secret>`, or set dcs:pullIdentity.secretReference");
  }
  for (const name of SECRET_KEYS) {
    const full = `${NAMESPACE}:${name}`;
    if (c[name] !== undefined && !ctx.secretKeys.has(full)) {
      add(name, `is stored in plain text; remove it and run \`pulumi config set --secret ${full} <value>\``);
    }
  }

  if (workspace && !workspace.url && !workspace.resourceId) {
    add("workspace", "set dcs:workspace.url or dcs:workspace.resourceId so the program can reach the Databricks workspace");
  }

  if (cl) {
    if (cl.numWorkers !== undefined && cl.autoscale !== undefined) add("cluster.numWorkers", "set either dcs:cluster.numWorkers or dcs:cluster.autoscale, not both");
    if (cl.numWorkers === undefined && cl.autoscale === undefined) add("cluster.autoscale", "set dcs:cluster.autoscale (minWorkers, maxWorkers) or dcs:cluster.numWorkers");
    if (cl.autoscale && cl.autoscale.maxWorkers < cl.autoscale.minWorkers) {
      add("cluster.autoscale.maxWorkers", `must be at least dcs:cluster.autoscale.minWorkers (${cl.autoscale.maxWorkers} < ${cl.autoscale.minWorkers})`);
    }
    if (cl.autoterminationMinutes > 120 && !cl.longRunning) {
      add("cluster.autoterminationMinutes", `${cl.autoterminationMinutes} exceeds the 120-minute cap; lower it or set dcs:cluster.longRunning: true`);
    }
    if (cl.sparkVersion) {
      const reason = unsupportedRuntimeReason(cl.sparkVersion);
      if (reason) add("cluster.sparkVersion", `${cl.sparkVersion}: ${reason}`);
      const clusterRuntime = runtimeOfSparkVersion(cl.sparkVersion);
      const imageRuntime = image ? runtimeOfImageTag(image.runtime) : undefined;
      if (image && clusterRuntime && imageRuntime && clusterRuntime !== imageRuntime) {
        add("cluster.sparkVersion", `runtime ${clusterRuntime} does not match the image built on ${image.runtime} (dcs:image.runtime); use ${imageRuntime}.x-...`);
      }
    }
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

function problemsOfIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const at = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) {
        const key = keyOf([...at, k]);
        problems.push({ key, message: unknownKeyHint(key) });
      }
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      problems.push({ key: keyOf(at), message: "is required" });
    } else {
      problems.push({ key: keyOf(at), message: issue.message });
    }
  }
  return problems;
}

/**
 * Validates raw `dcs:*` values (key without namespace -> decoded value).
 * Throws ConfigError with every problem at once.
 */
export function parseStackConfig(raw: Record<string, unknown>, ctx: ParseContext): ParsedStackConfig {
  const stackFile = `Pulumi.${ctx.stack}.yaml`;
  const shape = stackConfigSchema.shape;
  const adminOnly = isAdminOnly(raw);
  const problems: ConfigProblem[] = [];
  const parsed: Record<string, unknown> = {};
  // Key by key, so one bad key does not hide the rules about the others.
  for (const key of Object.keys(raw)) {
    if (!(key in shape)) problems.push({ key: keyOf([key]), message: unknownKeyHint(keyOf([key])) });
    else if (adminOnly && !(ADMIN_KEYS as readonly string[]).includes(key)) {
      problems.push({ key: keyOf([key]), message: "is not used by a container-services-only stack (dcs:containerServices.only: true); remove it, or deploy it from a team stack" });
    }
  }
  const keys = adminOnly ? ADMIN_KEYS.filter((k) => !["team", "costCenter"].includes(k) || raw[k] !== undefined) : Object.keys(shape);
  for (const key of keys) {
    const result = (shape[key as keyof typeof shape] as z.ZodType).safeParse(raw[key]);
    if (result.success) parsed[key] = result.data;
    else problems.push(...problemsOfIssues(result.error.issues, [key]));
  }
  const c = parsed as Partial<Parsed>;
  const environment = c.environment ?? (["dev", "test", "prod"].includes(ctx.stack) ? (ctx.stack as "dev" | "test" | "prod") : undefined);
  const envForRules = raw.environment === undefined || c.environment !== undefined ? environment : "invalid";
  if (adminOnly) {
    problems.push(...crossFieldProblems({ workspace: c.workspace }, ctx, envForRules));
    if (c.containerServices && !c.containerServices.manage) {
      problems.push({ key: `${NAMESPACE}:containerServices.manage`, message: "must be true in a container-services-only stack: managing the switch is all it does" });
    }
  } else {
    problems.push(...crossFieldProblems(c, ctx, envForRules));
  }
  if (problems.length > 0) throw new ConfigError(stackFile, problems);
  const env = environment as "dev" | "test" | "prod";
  if (adminOnly) {
    return { kind: "admin", stack: ctx.stack, environment: env, workspace: c.workspace!, containerServices: c.containerServices!, tags: c.tags ?? {} };
  }
  const full = c as Parsed;
  return { ...full, kind: "team", stack: ctx.stack, environment: env, registryProtected: full.registry.protect ?? env === "prod" };
}

/** True when the raw values declare a container-services-only (platform admin) stack. */
export function isAdminOnly(raw: Record<string, unknown>): boolean {
  const cs = raw.containerServices;
  return cs !== null && typeof cs === "object" && (cs as Record<string, unknown>).only === true;
}

/** Reads the `dcs:*` namespace from Pulumi's runtime configuration. */
export function readRawConfig(all: Record<string, string>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    const sep = key.indexOf(":");
    if (key.slice(0, sep) !== NAMESPACE) continue;
    raw[key.slice(sep + 1).replace(/^config:/, "")] = decodeConfigValue(value);
  }
  return raw;
}

/**
 * The program's single read of configuration: validates everything, then
 * hands secrets on as Pulumi secrets. Throws a RunError (no stack trace) on
 * bad configuration.
 */
export function loadStackConfig(): StackConfig {
  const stack = pulumi.getStack();
  const all = pulumi.runtime.allConfig();
  // The SDK knows which keys the stack file holds encrypted, but does not type the check.
  const isConfigSecret = (runtimeConfig as unknown as { isConfigSecret: (key: string) => boolean }).isConfigSecret;
  const secretKeys = new Set(Object.keys(all).filter((k) => isConfigSecret(k)));
  try {
    const parsed = parseStackConfig(readRawConfig(all), { stack, secretKeys });
    if (parsed.kind === "admin") return parsed;
    return {
      ...parsed,
      pullClientSecret: parsed.pullClientSecret === undefined ? undefined : pulumi.secret(parsed.pullClientSecret),
      pushClientSecret: parsed.pushClientSecret === undefined ? undefined : pulumi.secret(parsed.pushClientSecret),
    };
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

/**
 * The secret keys (without namespace) a stack's values call for: the pull
 * secret unless a Databricks secret reference replaces it, the push secret in
 * servicePrincipal mode. Takes full keys (dcs:image, ...) with decoded values.
 */
export function secretKeysNeeded(values: Record<string, unknown>): (typeof SECRET_KEYS)[number][] {
  const obj = (key: string) => {
    const v = values[`${NAMESPACE}:${key}`];
    const decoded = typeof v === "string" ? decodeConfigValue(v) : v;
    return (decoded !== null && typeof decoded === "object" ? decoded : {}) as Record<string, unknown>;
  };
  const needed: (typeof SECRET_KEYS)[number][] = [];
  if (obj("containerServices").only === true) return needed;
  if (obj("pullIdentity").secretReference === undefined) needed.push("pullClientSecret");
  const push = obj("image").push as Record<string, unknown> | undefined;
  if (push?.mode === "servicePrincipal") needed.push("pushClientSecret");
  return needed;
}
