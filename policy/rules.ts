/**
 * dcs-guardrails: every rule of the CrossGuard pack, as plain functions.
 *
 * A rule is `(type, props, context) => messages`: it looks at one resource
 * (its type token and input properties), may look at the rest of the stack
 * through the context, and returns one message per violation (none: the
 * resource complies, or the rule does not apply to its type). Nothing here
 * imports @pulumi/policy at run time, so tests and the offline renderer call
 * the rules directly; `crossguard.ts` hands the same functions to the
 * PolicyPack that `index.ts` starts.
 *
 * Values not known yet never violate. They are the engine's unknown
 * sentinels (CrossGuard during a preview), the offline renderer's
 * "(computed: ...)" placeholders, and, for a recorded preview, `undefined`
 * (see `UndefinedMeans`).
 */
import { isDigestReference, unsupportedRuntimeReason } from "../components/naming";

/** The pack's name, as `pulumi preview` reports it. */
export const PACK_NAME = "dcs-guardrails";

export const PACK_DESCRIPTION =
  "Guardrails for Databricks clusters on custom containers: private registry without admin user, images pinned by digest from the stack's own registry, dedicated access mode, supported runtimes, idle shutdown, protected prod registries.";

/**
 * Type tokens of what dcs-platform declares. No rule looks at WorkspaceConf: what matters there,
 * `retainOnDelete`, is not among the resource options CrossGuard hands a policy.
 */
export const REGISTRY = "azure-native:containerregistry:Registry";
export const IMAGE = "docker:index/image:Image";
export const CLUSTER = "databricks:index/cluster:Cluster";
export const WORKSPACE_CONF = "databricks:index/workspaceConf:WorkspaceConf";

export type Props = Record<string, unknown>;

/** A resource as the rules see it: recorded by a renderer, or handed over by CrossGuard. */
export interface StackResource {
  /** Type token, e.g. `databricks:index/cluster:Cluster`. */
  type: string;
  /** Logical name. */
  name: string;
  /** URN, when the recorder has one; its stack part is the stack name. */
  urn?: string;
  /** Input properties. */
  props: Props;
  /** Resource options; absent when the recorder did not capture them (then `protect` is not known). */
  opts?: { protect?: boolean };
  /** The `protect` option given flat, as some recorders do; `opts.protect` wins. */
  protect?: boolean;
}

/** Settings of the pack (`--policy-pack-config`, per policy), with `DEFAULT_CONFIG` for what is not set. */
export interface GuardrailConfig {
  /** Longest auto-termination, in minutes, a cluster may have without the `longRunning: "true"` tag. */
  maxAutoterminationMinutes: number;
  /** Custom tags every cluster should carry for cost reports. */
  costTags: string[];
  /** Environments (registry `environment` tag, or stack name) whose registries must be protected from deletion. */
  protectedEnvironments: string[];
}

export const DEFAULT_CONFIG: GuardrailConfig = {
  maxAutoterminationMinutes: 120,
  costTags: ["team", "costCenter", "environment"],
  protectedEnvironments: ["prod"],
};

/**
 * What an `undefined` property means.
 * - "unknown": the resources were recorded by a helper that writes `undefined` for a value not
 *   known yet (an Output a preview cannot resolve), so an undefined property may be either
 *   and never violates. The default of `evaluateStack`.
 * - "absent": CrossGuard, where unknowns arrive as sentinels and `undefined` is a property the
 *   program did not set, which may violate (no access mode, no build platform, no cost tags).
 *   Also right for a recorder that marks unknowns with placeholders.
 */
export type UndefinedMeans = "unknown" | "absent";

/** What a rule gets besides the resource's type and props. */
export interface RuleContext {
  /** The resource's logical name (used in messages). */
  name: string;
  /** The resource's URN, when known. */
  urn?: string;
  /** Resource options; `undefined` when they were not recorded. */
  opts?: { protect?: boolean };
  config: GuardrailConfig;
  /** Every resource of the stack (read by stack rules only). */
  stack: StackResource[];
  undefinedMeans: UndefinedMeans;
}

/** A rule: the violation messages of one resource (empty: compliant or not applicable). */
export type Rule = (type: string, props: Props, context: RuleContext) => string[];

export type Enforcement = "mandatory" | "advisory";

export interface Guardrail {
  /** Policy name, unique in the pack; the key of its `--policy-pack-config` entry. */
  name: string;
  description: string;
  enforcement: Enforcement;
  /** "resource": needs the resource only; "stack": compares it with other resources of the stack. */
  scope: "resource" | "stack";
  /** The type token the rule applies to (documentation; the rule checks it itself). */
  appliesTo: string;
  /** Config keys the rule reads; each becomes part of the policy's config schema. */
  configKeys: (keyof GuardrailConfig)[];
  /** How to fix a violation. */
  remediation: string;
  rule: Rule;
}

/** One violation found by `evaluateStack`. */
export interface Finding {
  policy: string;
  enforcement: Enforcement;
  /** Logical name of the violating resource. */
  resource: string;
  /** Its type token. */
  type: string;
  message: string;
}

// ---------------------------------------------------------------------------
// Reading values that may not be known yet

/**
 * The sentinels the Pulumi engine sends for values not known during a preview: the generic one
 * (string) and the typed ones (boolean, number, array, asset, archive, object). A test compares
 * them with @pulumi/policy's own list.
 */
export const ENGINE_UNKNOWN_SENTINELS: readonly string[] = [
  "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  "030794c1-ac77-496b-92df-f27374a8bd58",
  "e48ece36-62e2-4504-bad9-02848725956a",
  "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
];
const SENTINELS = new Set(ENGINE_UNKNOWN_SENTINELS);

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * True for a marker of a value not known yet: an engine sentinel, a renderer's "(computed: ...)"
 * placeholder, the Pulumi SDK's `unknown` (what mocks deserialize an unknown to during a preview),
 * or an Output a recorder left unresolved.
 */
export function isUnknownMarker(value: unknown): boolean {
  if (typeof value === "string") return SENTINELS.has(value) || value.startsWith("(computed:");
  return isRecord(value) && (value.__pulumiUnknown === true || value.__pulumiOutput === true);
}

/** True when `value` is not known yet; `undefined` counts unless it means "absent". */
export function isUnknown(value: unknown, undefinedMeans: UndefinedMeans = "unknown"): boolean {
  return isUnknownMarker(value) || (value === undefined && undefinedMeans === "unknown");
}

/** Pulumi's wire format of a secret (what mocks hand a recorder): the value under a signature. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** A secret's value; anything else as it is. The rules judge values, secret or not. */
export function unwrapSecret(value: unknown): unknown {
  return isRecord(value) && value[SECRET_SIG_KEY] === SECRET_SIG ? unwrapSecret(value.value) : value;
}

/** What reading a property path returns when a step of it is not known yet. */
export const UNKNOWN: unique symbol = Symbol("unknown");

/**
 * The value of a schema property at a dotted path (`dockerImage.basicAuth.password`): `UNKNOWN`
 * when a step is not known yet, `undefined` when a step is absent. In "unknown" mode an
 * undefined step is `UNKNOWN`: a recorded preview cannot tell absent from not known.
 */
export function read(props: Props, dotted: string, undefinedMeans: UndefinedMeans): unknown {
  let value: unknown = props;
  for (const key of dotted.split(".")) {
    if (!isRecord(value)) return undefined;
    value = unwrapSecret(value[key]);
    if (isUnknown(value, undefinedMeans)) return UNKNOWN;
  }
  return value;
}

/**
 * A tag of a resource (`customTags` on a cluster, `tags` elsewhere). A known tag map lists its
 * keys, so a key it lacks is absent in either mode; a key present with an undefined value is not
 * known yet in "unknown" mode.
 */
export function readTag(type: string, props: Props, tag: string, undefinedMeans: UndefinedMeans): unknown {
  const tags = read(props, type === CLUSTER ? "customTags" : "tags", undefinedMeans);
  if (tags === UNKNOWN) return UNKNOWN;
  if (!isRecord(tags) || !(tag in tags)) return undefined;
  const value = unwrapSecret(tags[tag]);
  return isUnknown(value, undefinedMeans) ? UNKNOWN : value;
}

/** The stack name in a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function stackOfUrn(urn: string | undefined): string | undefined {
  return /^urn:pulumi:([^:]+)::/.exec(urn ?? "")?.[1];
}

/** Whether a cluster runs a custom container: true, false, or UNKNOWN. */
function runsContainer(props: Props, undefinedMeans: UndefinedMeans): boolean | typeof UNKNOWN {
  const image = read(props, "dockerImage", undefinedMeans);
  if (image === UNKNOWN) return UNKNOWN;
  return isRecord(image);
}

/**
 * Image hosts the registries of a stack serve: each registry's `loginServer`, and
 * `<name>.azurecr.io` from its name (the `registryName` input, or the `name` output a stack
 * policy sees after an update). `complete` is false when a registry has none of them (not known
 * yet, or not recorded): then no image host can be ruled out.
 */
export function registryHosts(stack: StackResource[]): { hosts: string[]; complete: boolean } {
  const hosts = new Set<string>();
  let complete = true;
  for (const r of stack.filter((x) => x.type === REGISTRY)) {
    const login = read(r.props, "loginServer", "absent");
    const names = [read(r.props, "registryName", "absent"), read(r.props, "name", "absent")].filter((n): n is string => typeof n === "string");
    if (typeof login === "string") hosts.add(login.toLowerCase());
    for (const n of names) hosts.add(`${n.toLowerCase()}.azurecr.io`);
    if (typeof login !== "string" && names.length === 0) complete = false;
  }
  return { hosts: [...hosts].sort(), complete };
}

/** The host part of an image reference. */
function hostOf(url: string): string {
  return url.split("/")[0].toLowerCase();
}

// ---------------------------------------------------------------------------
// The rules

/** The provider's auto-termination when `autoterminationMinutes` is not set (databricks.Cluster docs). */
export const PROVIDER_DEFAULT_AUTOTERMINATION = 60;

/** Access modes custom containers run in: dedicated (single user), under either name. */
export const DEDICATED_ACCESS_MODES = ["SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED"];

/** The build platform Databricks Container Services runs (no arm64). */
export const CONTAINER_PLATFORM = "linux/amd64";

export const acrAdminUserDisabled: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== REGISTRY || read(props, "adminUserEnabled", undefinedMeans) !== true) return [];
  const env = readTag(type, props, "environment", undefinedMeans);
  if (env === "dev" || env === UNKNOWN) return [];
  return [
    `registry ${name} enables the admin user: one shared password that cannot be scoped, rotated per consumer or audited. Set adminUserEnabled: false and push and pull with service principals (AcrPush, AcrPull); only a dev registry (tag environment=dev) may keep it on.`,
  ];
};

export const acrAdminUserDevOnly: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== REGISTRY || read(props, "adminUserEnabled", undefinedMeans) !== true) return [];
  if (readTag(type, props, "environment", undefinedMeans) !== "dev") return [];
  return [`dev registry ${name} enables the admin user; turn it off (dcs:registry.adminUserEnabled: false) once pushes use a service principal.`];
};

export const acrAnonymousPullDisabled: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== REGISTRY || read(props, "anonymousPullEnabled", undefinedMeans) !== true) return [];
  return [`registry ${name} allows anonymous pull, so anyone can read the team's images; set anonymousPullEnabled: false and grant AcrPull to the cluster's identity.`];
};

export const clusterImageByDigest: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== CLUSTER || runsContainer(props, undefinedMeans) !== true) return [];
  const url = read(props, "dockerImage.url", undefinedMeans);
  if (url === UNKNOWN) return [];
  if (typeof url === "string" && isDigestReference(url)) return [];
  return [
    `cluster ${name} runs image ${JSON.stringify(url ?? null)}, which is not pinned by digest; reference <registry>/<repository>@sha256:<64 hex> (the pushed image's repoDigest), never a movable tag.`,
  ];
};

export const clusterImageFromStackRegistry: Rule = (type, props, { name, stack, undefinedMeans }) => {
  if (type !== CLUSTER || runsContainer(props, undefinedMeans) !== true) return [];
  const url = read(props, "dockerImage.url", undefinedMeans);
  if (typeof url !== "string") return []; // not known yet, or missing (cluster-image-by-digest reports that)
  const host = hostOf(url);
  const { hosts, complete } = registryHosts(stack);
  if (hosts.includes(host) || !complete) return [];
  return [
    `cluster ${name} pulls its image from ${host}, not from a registry of this stack (${hosts.join(", ") || "none declared"}); build and push the image to the stack's own registry.`,
  ];
};

export const clusterImageBasicAuth: Rule = (type, props, { name, stack, undefinedMeans }) => {
  if (type !== CLUSTER || runsContainer(props, undefinedMeans) !== true) return [];
  const url = read(props, "dockerImage.url", undefinedMeans);
  const registries = stack.filter((r) => r.type === REGISTRY);
  // The registry the image comes from; while the url is not known, any registry of the stack.
  const serving = typeof url === "string" ? registries.filter((r) => registryHosts([r]).hosts.includes(hostOf(url))) : registries;
  const isPrivate = serving.some((r) => {
    // Not set: Azure's default, off. Only a marker is "not known yet" here.
    const anonymous = read(r.props, "anonymousPullEnabled", "absent");
    return anonymous !== true && anonymous !== UNKNOWN;
  });
  if (!isPrivate) return []; // public, not known, or not a registry of this stack (cluster-image-from-stack-registry)
  const auth = read(props, "dockerImage.basicAuth", undefinedMeans);
  if (auth === UNKNOWN) return [];
  const missing = ["username", "password"].filter((field) => {
    if (!isRecord(auth)) return true;
    const value = read(auth, field, undefinedMeans);
    return value !== UNKNOWN && (typeof value !== "string" || value === "");
  });
  if (missing.length === 0) return [];
  return [
    `cluster ${name} pulls from a private registry without basic auth (${missing.join(" and ")} missing); set dockerImage.basicAuth to the pull identity's client id and secret (a {{secrets/<scope>/<key>}} reference is best).`,
  ];
};

export const clusterDedicatedAccessMode: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== CLUSTER || runsContainer(props, undefinedMeans) !== true) return [];
  const mode = read(props, "dataSecurityMode", undefinedMeans);
  if (mode === UNKNOWN || (typeof mode === "string" && DEDICATED_ACCESS_MODES.includes(mode))) return [];
  const given = mode === undefined ? "sets no dataSecurityMode (Databricks then chooses the access mode)" : `uses access mode ${String(mode)}`;
  return [`cluster ${name} ${given}; custom containers need dedicated access mode: dataSecurityMode: SINGLE_USER with singleUserName.`];
};

export const clusterRuntimeSupportsContainers: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== CLUSTER || runsContainer(props, undefinedMeans) !== true) return [];
  const version = read(props, "sparkVersion", undefinedMeans);
  if (typeof version !== "string") return [];
  const reason = unsupportedRuntimeReason(version);
  return reason ? [`cluster ${name} runs ${version}: ${reason}; choose a standard runtime such as 16.4.x-scala2.12.`] : [];
};

export const clusterAutoTermination: Rule = (type, props, { name, config, undefinedMeans }) => {
  if (type !== CLUSTER) return [];
  const given = read(props, "autoterminationMinutes", undefinedMeans);
  if (given === UNKNOWN) return [];
  const minutes = given === undefined ? PROVIDER_DEFAULT_AUTOTERMINATION : Number(given);
  if (!Number.isFinite(minutes) || minutes <= 0) {
    return [`cluster ${name} never auto-terminates (autoterminationMinutes: ${JSON.stringify(given)}); set it to a number of idle minutes (dcs:cluster.autoterminationMinutes).`];
  }
  if (minutes <= config.maxAutoterminationMinutes) return [];
  const longRunning = readTag(type, props, "longRunning", undefinedMeans);
  if (longRunning === "true" || longRunning === UNKNOWN) return [];
  const source = given === undefined ? " (the provider's default)" : "";
  return [
    `cluster ${name} auto-terminates after ${minutes} minutes${source}, above the ${config.maxAutoterminationMinutes}-minute cap; lower autoterminationMinutes or opt out with the custom tag longRunning: "true" (dcs:cluster.longRunning: true).`,
  ];
};

export const registryProtectedInProd: Rule = (type, props, { name, urn, opts, config, undefinedMeans }) => {
  if (type !== REGISTRY) return [];
  const env = readTag(type, props, "environment", undefinedMeans);
  const stackName = stackOfUrn(urn);
  const because = [
    typeof env === "string" && config.protectedEnvironments.includes(env) ? `tag environment=${env}` : undefined,
    stackName !== undefined && config.protectedEnvironments.includes(stackName) ? `stack ${stackName}` : undefined,
  ].filter((x) => x !== undefined);
  if (because.length === 0) return [];
  const protect = opts === undefined ? (undefinedMeans === "unknown" ? UNKNOWN : undefined) : opts.protect;
  if (protect === true || protect === UNKNOWN) return [];
  return [
    `registry ${name} belongs to a protected environment (${because.join(", ")}) but is not protected from deletion; give it the protect resource option (dcs:registry.protect: true).`,
  ];
};

export const imagePlatformLinuxAmd64: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== IMAGE) return [];
  const build = read(props, "build", undefinedMeans);
  if (!isRecord(build)) return []; // no build here (or not known yet)
  const platform = read(props, "build.platform", undefinedMeans);
  if (platform === UNKNOWN || platform === CONTAINER_PLATFORM) return [];
  const given = platform === undefined ? "does not pin a build platform (it builds for the builder's own, arm64 on Apple silicon)" : `builds for ${String(platform)}`;
  return [`image ${name} ${given}; Databricks runs ${CONTAINER_PLATFORM} images only: set build.platform: ${CONTAINER_PLATFORM}.`];
};

export const initScriptsNotOnDbfs: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== CLUSTER) return [];
  const scripts = read(props, "initScripts", undefinedMeans);
  if (!Array.isArray(scripts)) return [];
  const onDbfs = scripts.filter((s) => isRecord(s) && s.dbfs !== undefined && s.dbfs !== null);
  if (onDbfs.length === 0) return [];
  const where = onDbfs.map((s) => {
    const destination = read(s as Props, "dbfs.destination", "absent");
    return typeof destination === "string" && !isUnknownMarker(destination) ? destination : "a destination not known yet";
  });
  return [
    `cluster ${name} runs init scripts from DBFS (${where.join(", ")}), a deprecated store new workspaces refuse; move them to workspace files ({ workspace: { destination: "/Workspace/..." } }) or a Unity Catalog volume ({ volumes: { destination: "/Volumes/<catalog>/<schema>/<volume>/..." } }), in dcs-platform with dcs:initScripts.store: workspace or volumes.`,
  ];
};

export const clusterCostTags: Rule = (type, props, { name, config, undefinedMeans }) => {
  if (type !== CLUSTER) return [];
  if (read(props, "customTags", undefinedMeans) === UNKNOWN) return [];
  const missing = config.costTags.filter((tag) => {
    const value = readTag(type, props, tag, undefinedMeans);
    return value !== UNKNOWN && (typeof value !== "string" || value.trim() === "");
  });
  if (missing.length === 0) return [];
  return [`cluster ${name} lacks the cost tags ${missing.join(", ")} in customTags; cost reports group clusters by them (dcs:team, dcs:costCenter, dcs:environment).`];
};

/** The pack, in the order `pulumi preview` lists it. */
export const GUARDRAILS: Guardrail[] = [
  {
    name: "acr-admin-user-disabled",
    description: "Container registries keep the admin user off: its single shared password cannot be scoped, rotated per consumer or audited (a dev registry gets an advisory instead).",
    enforcement: "mandatory",
    scope: "resource",
    appliesTo: REGISTRY,
    configKeys: [],
    remediation: "Set adminUserEnabled: false and use service principals with AcrPush (pipeline) and AcrPull (cluster).",
    rule: acrAdminUserDisabled,
  },
  {
    name: "acr-admin-user-dev-only",
    description: "A registry tagged environment=dev may enable the admin user; it is reported so it gets turned off.",
    enforcement: "advisory",
    scope: "resource",
    appliesTo: REGISTRY,
    configKeys: [],
    remediation: "Set adminUserEnabled: false once pushes use a service principal.",
    rule: acrAdminUserDevOnly,
  },
  {
    name: "acr-anonymous-pull-disabled",
    description: "Container registries do not allow anonymous pull: only granted identities read the team's images.",
    enforcement: "mandatory",
    scope: "resource",
    appliesTo: REGISTRY,
    configKeys: [],
    remediation: "Set anonymousPullEnabled: false and grant AcrPull to the identity clusters pull with.",
    rule: acrAnonymousPullDisabled,
  },
  {
    name: "cluster-image-by-digest",
    description: "Clusters on a custom container boot from an immutable image reference, <registry>/<repository>@sha256:<digest>, never a movable tag.",
    enforcement: "mandatory",
    scope: "resource",
    appliesTo: CLUSTER,
    configKeys: [],
    remediation: "Set dockerImage.url to the pushed image's repoDigest.",
    rule: clusterImageByDigest,
  },
  {
    name: "cluster-image-from-stack-registry",
    description: "A cluster's custom container comes from a registry declared in the same stack.",
    enforcement: "mandatory",
    scope: "stack",
    appliesTo: CLUSTER,
    configKeys: [],
    remediation: "Push the image to the stack's registry and reference it there.",
    rule: clusterImageFromStackRegistry,
  },
  {
    name: "cluster-image-basic-auth",
    description: "A cluster pulling from a private registry carries basic auth with both a username and a password.",
    enforcement: "mandatory",
    scope: "stack",
    appliesTo: CLUSTER,
    configKeys: [],
    remediation: "Set dockerImage.basicAuth to the pull identity's client id and secret, the secret as a {{secrets/<scope>/<key>}} reference.",
    rule: clusterImageBasicAuth,
  },
  {
    name: "cluster-dedicated-access-mode",
    description: "Clusters on a custom container use dedicated access mode (SINGLE_USER); custom containers do not run in standard (shared) mode.",
    enforcement: "mandatory",
    scope: "resource",
    appliesTo: CLUSTER,
    configKeys: [],
    remediation: "Set dataSecurityMode: SINGLE_USER (or DATA_SECURITY_MODE_DEDICATED) and singleUserName.",
    rule: clusterDedicatedAccessMode,
  },
  {
    name: "cluster-runtime-supports-containers",
    description: "Clusters on a custom container use a runtime that supports them: not ML (CPU or GPU), not Genomics.",
    enforcement: "mandatory",
    scope: "resource",
    appliesTo: CLUSTER,
    configKeys: [],
    remediation: "Choose a standard Databricks runtime (e.g. 16.4.x-scala2.12) and install ML libraries in the image.",
    rule: clusterRuntimeSupportsContainers,
  },
  {
    name: "cluster-auto-termination",
    description: "Clusters stop when idle: auto-termination is on, and at most maxAutoterminationMinutes unless the cluster is tagged longRunning=true.",
    enforcement: "mandatory",
    scope: "resource",
    appliesTo: CLUSTER,
    configKeys: ["maxAutoterminationMinutes"],
    remediation: 'Set autoterminationMinutes between 10 and the cap, or tag the cluster longRunning: "true".',
    rule: clusterAutoTermination,
  },
  {
    name: "registry-protected-in-prod",
    description: "A registry of a protected environment (its environment tag or its stack name is in protectedEnvironments) has the protect resource option.",
    enforcement: "mandatory",
    scope: "resource",
    appliesTo: REGISTRY,
    configKeys: ["protectedEnvironments"],
    remediation: "Create the registry with { protect: true }.",
    rule: registryProtectedInProd,
  },
  {
    name: "image-platform-linux-amd64",
    description: "Cluster images are built for linux/amd64, the only platform Databricks Container Services runs.",
    enforcement: "mandatory",
    scope: "resource",
    appliesTo: IMAGE,
    configKeys: [],
    remediation: "Set build.platform: linux/amd64 on the image.",
    rule: imagePlatformLinuxAmd64,
  },
  {
    name: "init-scripts-not-on-dbfs",
    description: "Init scripts do not come from DBFS, a deprecated store; workspace files and Unity Catalog volumes are the supported ones.",
    enforcement: "advisory",
    scope: "resource",
    appliesTo: CLUSTER,
    configKeys: [],
    remediation: "Upload the scripts as workspace files or to a Unity Catalog volume and reference them with workspace/volumes blocks.",
    rule: initScriptsNotOnDbfs,
  },
  {
    name: "cluster-cost-tags",
    description: "Clusters carry the cost tags of costTags (team, costCenter, environment by default) in customTags.",
    enforcement: "advisory",
    scope: "resource",
    appliesTo: CLUSTER,
    configKeys: ["costTags"],
    remediation: "Add the missing tags to customTags.",
    rule: clusterCostTags,
  },
];

/** The pack's settings with defaults for what is not given. */
export function withDefaults(config: Partial<GuardrailConfig> = {}): GuardrailConfig {
  return {
    maxAutoterminationMinutes: config.maxAutoterminationMinutes ?? DEFAULT_CONFIG.maxAutoterminationMinutes,
    costTags: config.costTags ?? DEFAULT_CONFIG.costTags,
    protectedEnvironments: config.protectedEnvironments ?? DEFAULT_CONFIG.protectedEnvironments,
  };
}

/** Options of `evaluateStack`. */
export interface EvaluateOptions {
  /** What `undefined` means in the recorded props; default "unknown". */
  undefinedMeans?: UndefinedMeans;
}

/** The options of a resource as the rules see them (`opts.protect` wins over a flat `protect`). */
export function optionsOf(r: StackResource): { protect?: boolean } | undefined {
  if (r.opts !== undefined) return { protect: r.opts.protect ?? r.protect };
  return r.protect === undefined ? undefined : { protect: r.protect };
}

/** The context a rule gets for one resource of a stack. */
export function contextFor(r: StackResource, stack: StackResource[], config: GuardrailConfig, undefinedMeans: UndefinedMeans): RuleContext {
  return { name: r.name, urn: r.urn, opts: optionsOf(r), config, stack, undefinedMeans };
}

/**
 * Runs every guardrail, resource and stack ones alike, over a stack's resources, as CrossGuard
 * would; findings in the pack's order, then the resources' order.
 */
export function evaluateStack(resources: StackResource[], config: Partial<GuardrailConfig> = {}, options: EvaluateOptions = {}): Finding[] {
  const cfg = withDefaults(config);
  const undefinedMeans = options.undefinedMeans ?? "unknown";
  const findings: Finding[] = [];
  for (const guard of GUARDRAILS) {
    for (const r of resources) {
      for (const message of guard.rule(r.type, r.props, contextFor(r, resources, cfg, undefinedMeans))) {
        findings.push({ policy: guard.name, enforcement: guard.enforcement, resource: r.name, type: r.type, message });
      }
    }
  }
  return findings;
}
