/**
 * WarmPool: a Databricks instance pool of one node type whose VMs already
 * hold the team's image and the runtime, so a cluster (or job cluster) that
 * draws from it skips the image pull at start. Idle VMs cost their price
 * while they wait: `minIdleInstances` and `idleMinutes` are that trade.
 *
 * Provider and service rules it follows (terraform-provider-databricks, which
 * @pulumi/databricks wraps: pools/resource_instance_pool.go,
 * docs/resources/instance_pool.md; Databricks Instance Pools API and CLI
 * reference; Azure Databricks "Pool best practices"):
 * - replacing fields: the preloaded images (URL and both basic-auth fields),
 *   the preloaded runtime list, `azure_attributes` (availability and max
 *   price), `node_type_id`, `enable_elastic_disk`, `disk_spec` and
 *   `node_type_flexibility` are all ForceNew: changing any of them creates a
 *   new pool. The name, `min_idle_instances`, `max_capacity` and
 *   `idle_instance_autotermination_minutes` are edited in place, and so are
 *   `custom_tags` (since provider PR #2400);
 * - the pool's name must be unique in the workspace and 1 to 99 characters
 *   (provider docs: "unique, non-empty, and less than 100 characters"; the
 *   Instance Pools create reference says the same); pools are found by name
 *   (`getInstancePool({ name })`), so two of one name are ambiguous at best;
 * - on Azure, `availability` is validated by the provider to `SPOT_AZURE` or
 *   `ON_DEMAND_AZURE` (default on demand): the clusters' fallback mode
 *   `SPOT_WITH_FALLBACK_AZURE` does not exist for pools. A max price of -1
 *   means the VM is never evicted for price (it pays up to the on-demand
 *   price); an omitted price is not a diff against what the API reads back
 *   (provider PR #3970). Azure advises spot pools for workers only and an
 *   on-demand pool for the driver;
 * - `preloaded_spark_versions` holds at most one runtime;
 * - `basic_auth.password` is a sensitive field, and the provider docs advise
 *   a `{{secrets/<scope>/<key>}}` reference instead of the credential, which
 *   other workspace users could otherwise read through the UI or the API
 *   (provider PR #5154: references have long been supported); this pool takes
 *   the same reference the cluster's `dockerImage` does;
 * - `idle_instance_autotermination_minutes` is 0 to 10000 (0: excess idle
 *   VMs go as soon as possible); the idle minimum is kept regardless;
 * - `enable_elastic_disk` defaults to true and is ForceNew; before provider
 *   PR #5802 (v1.118) a `false` was dropped from the request and the pool was
 *   replaced on every plan, so this component sends `true` (an image adds to
 *   the local disk it needs) and never `false`;
 * - the resource's id is the API's `instance_pool_id` (set on create; the
 *   computed `instance_pool_id` attribute is filled by the read that follows
 *   create); the docs export `id`, and clusters reference a pool by it;
 * - deleting a pool is permanent and its idle VMs are terminated
 *   asynchronously (Instance Pools API, delete).
 *
 * Replacement: every new image tag replaces the pool. Pulumi replaces
 * create-before-delete by default, so the new pool must not need the old
 * pool's name. Two ways out: `deleteBeforeReplace`, or a name that changes
 * whenever a replacing field does. This component takes the second: the pool
 * name ends in a short hash of every field that forces a replacement
 * (`<poolName>-<8 hex>`). With it, a new image creates the new pool while the
 * old one still serves; the clusters are then edited onto the new pool (one
 * edit, which restarts a running cluster, together with their own image
 * change); only then is the old pool deleted. If creating the new pool fails
 * (quota, a bad reference), the old pool and every cluster on it are left as
 * they were. Delete-first would delete the pool while clusters still point at
 * it (a cluster's `instance_pool_id` is edited, not replaced, so Pulumi keeps
 * the clusters and edits them after the new pool exists): a cluster that
 * starts or scales in that window has no pool, and if the new pool's create
 * fails every cluster is left on a pool id that no longer exists. The cost of create-first: for the minutes of an update, both pools
 * hold their idle VMs (twice `minIdleInstances` against the vCPU quota), and
 * the name carries a suffix.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { isSecretReference } from "./dcsCluster";
import { childName, unsupportedRuntimeReason } from "./naming";

/** Pool availabilities on Azure (the provider accepts only these two). */
export const POOL_AVAILABILITIES = ["ON_DEMAND_AZURE", "SPOT_AZURE"] as const;
export type PoolAvailability = (typeof POOL_AVAILABILITIES)[number];

/** Longest pool name Databricks accepts ("less than 100 characters"). */
export const MAX_POOL_NAME = 99;
/** Length of the generation suffix: '-' and 8 hex characters. */
const SUFFIX_LENGTH = 9;
/** Most idle-timeout minutes the API accepts. */
export const MAX_IDLE_MINUTES = 10_000;
/** Most custom tags Databricks allows on a pool. */
export const MAX_POOL_TAGS = 43;

export interface WarmPoolArgs {
  /** Base name of the pool; the pool is named `<poolName>-<generation>` (see generationKey). At most 90 characters. */
  poolName: string;
  /** Azure VM size of the pool's instances, e.g. Standard_D4ds_v5. */
  nodeType: string;
  /** Image to preload: the same reference the clusters on the pool boot from. */
  imageRef: pulumi.Input<string>;
  /** Registry user: the pull identity's client id. */
  pullUsername: pulumi.Input<string>;
  /** Registry password: a `{{secrets/<scope>/<key>}}` reference, the same as the cluster's; never the secret itself. */
  pullPassword: string;
  /** Runtime key to preload, e.g. 16.4.x-scala2.12; the clusters on the pool should run this one. */
  sparkVersion: string;
  /** Idle VMs the pool keeps ready, whatever the timeout (each costs its VM's price). */
  minIdleInstances: number;
  /** Most VMs the pool holds, idle and in use. Default: no limit. */
  maxCapacity?: number;
  /** Minutes an idle VM beyond minIdleInstances is kept (idleInstanceAutoterminationMinutes), 0 to 10000. */
  idleMinutes: number;
  /** ON_DEMAND_AZURE, or SPOT_AZURE (no fallback mode for pools; not for a driver's pool). */
  availability: PoolAvailability;
  /** Highest spot price, or -1 for up to the on-demand price; only with SPOT_AZURE. Default with spot: -1. */
  spotMaxPrice?: number;
  /** Tags for the pool's VMs and disks (they propagate to clusters on the pool; a cluster may not repeat a pool's tag). Default: none. */
  customTags?: Record<string, string>;
  /** Resources the pool waits for: the container-services toggle, the pull secret and its grants. Default: none. */
  dependsOn?: pulumi.Resource[];
  /** Workspace-level Databricks provider. */
  provider: databricks.Provider;
}

/** Problems with WarmPoolArgs, as messages; empty when valid. */
export function validateWarmPoolArgs(
  args: Pick<WarmPoolArgs, "poolName" | "nodeType" | "pullPassword" | "sparkVersion" | "minIdleInstances" | "maxCapacity" | "idleMinutes" | "availability" | "spotMaxPrice" | "customTags">,
): string[] {
  const problems: string[] = [];
  const isCount = (n: number) => Number.isInteger(n) && n >= 0;
  if (args.poolName.trim().length === 0 || args.poolName.length > MAX_POOL_NAME - SUFFIX_LENGTH) {
    problems.push(`poolName must be 1 to ${MAX_POOL_NAME - SUFFIX_LENGTH} characters (the pool's name adds a ${SUFFIX_LENGTH}-character generation suffix; Databricks allows ${MAX_POOL_NAME})`);
  }
  if (args.nodeType.trim().length === 0) problems.push("nodeType is empty");
  if (!isSecretReference(args.pullPassword)) problems.push("pullPassword must be a {{secrets/<scope>/<key>}} reference, not a secret value");
  const runtime = unsupportedRuntimeReason(args.sparkVersion);
  if (runtime) problems.push(`sparkVersion ${args.sparkVersion} cannot run the image: ${runtime}`);
  if (!isCount(args.minIdleInstances)) problems.push(`minIdleInstances must be a whole number >= 0 (got ${args.minIdleInstances})`);
  if (args.maxCapacity !== undefined) {
    if (!Number.isInteger(args.maxCapacity) || args.maxCapacity < 1) problems.push(`maxCapacity must be a whole number >= 1 (got ${args.maxCapacity})`);
    else if (args.maxCapacity < args.minIdleInstances) problems.push(`maxCapacity (${args.maxCapacity}) is below minIdleInstances (${args.minIdleInstances})`);
  }
  if (!isCount(args.idleMinutes) || args.idleMinutes > MAX_IDLE_MINUTES) problems.push(`idleMinutes must be a whole number from 0 to ${MAX_IDLE_MINUTES} (got ${args.idleMinutes})`);
  if (!(POOL_AVAILABILITIES as readonly string[]).includes(args.availability)) {
    problems.push(`availability must be ${POOL_AVAILABILITIES.join(" or ")} (got ${String(args.availability)}; pools have no fallback mode)`);
  }
  if (args.spotMaxPrice !== undefined) {
    if (args.availability !== "SPOT_AZURE") problems.push("spotMaxPrice is only used with availability SPOT_AZURE");
    if (args.spotMaxPrice !== -1 && !(args.spotMaxPrice > 0)) problems.push("spotMaxPrice is -1 (up to the on-demand price) or a positive price");
  }
  if (Object.keys(args.customTags ?? {}).length > MAX_POOL_TAGS) problems.push(`a pool carries at most ${MAX_POOL_TAGS} custom tags`);
  return problems;
}

/** The pool's `azureAttributes`: on demand, or spot with its max price (default -1: never evicted for price). */
export function poolAzureAttributes(availability: PoolAvailability, spotMaxPrice?: number): { availability: PoolAvailability; spotBidMaxPrice?: number } {
  return availability === "SPOT_AZURE" ? { availability, spotBidMaxPrice: spotMaxPrice ?? -1 } : { availability };
}

/** Every input that replaces the pool when it changes (ForceNew in the provider). */
export interface PoolGeneration {
  imageRef: string;
  pullUsername: string;
  pullPassword: string;
  sparkVersion: string;
  nodeType: string;
  azureAttributes: { availability: string; spotBidMaxPrice?: number };
  enableElasticDisk: boolean;
}

/** 8 hex characters that change whenever a field that replaces the pool does, and only then. */
export function generationKey(g: PoolGeneration): string {
  const canonical = JSON.stringify([
    g.imageRef,
    g.pullUsername,
    g.pullPassword,
    g.sparkVersion,
    g.nodeType,
    g.azureAttributes.availability,
    g.azureAttributes.spotBidMaxPrice ?? null,
    g.enableElasticDisk,
  ]);
  return createHash("sha256").update(canonical).digest("hex").slice(0, 8);
}

/** The pool's name: the base name and the generation key, so a replacement never needs the old pool's name. */
export function poolInstanceName(poolName: string, key: string): string {
  return `${poolName}-${key}`;
}

export class WarmPool extends pulumi.ComponentResource {
  /** The pool's id, for a cluster's instancePoolId / driverInstancePoolId. */
  public readonly poolId: pulumi.Output<string>;
  /** The pool's name in the workspace: `<poolName>-<generation>`. */
  public readonly poolName: pulumi.Output<string>;

  constructor(name: string, args: WarmPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    // Rejected before registration: nothing, not even this component, is declared.
    const problems = validateWarmPoolArgs(args);
    if (problems.length > 0) throw new Error(`WarmPool "${name}": ${problems.join("; ")}`);
    super("dcs:index:WarmPool", name, {}, opts);

    const { provider } = args;
    const azureAttributes = poolAzureAttributes(args.availability, args.spotMaxPrice);
    const enableElasticDisk = true;
    const instancePoolName = pulumi
      .all([args.imageRef, args.pullUsername])
      .apply(([imageRef, pullUsername]) =>
        poolInstanceName(
          args.poolName,
          generationKey({ imageRef, pullUsername, pullPassword: args.pullPassword, sparkVersion: args.sparkVersion, nodeType: args.nodeType, azureAttributes, enableElasticDisk }),
        ),
      );

    const pool = new databricks.InstancePool(
      childName(name, "pool"),
      {
        instancePoolName,
        nodeTypeId: args.nodeType,
        minIdleInstances: args.minIdleInstances,
        maxCapacity: args.maxCapacity,
        idleInstanceAutoterminationMinutes: args.idleMinutes,
        azureAttributes,
        enableElasticDisk,
        preloadedSparkVersions: [args.sparkVersion],
        preloadedDockerImages: [
          {
            url: args.imageRef,
            // A reference, resolved by Databricks when it pulls: not a secret itself.
            basicAuth: { username: args.pullUsername, password: args.pullPassword },
          },
        ],
        customTags: args.customTags ?? {},
      },
      // Create-before-delete (Pulumi's default) on purpose: the generation in the name lets the new
      // pool exist beside the old one until the clusters have moved (see the header).
      { parent: this, provider, dependsOn: args.dependsOn ?? [] },
    );

    this.poolId = pool.id;
    this.poolName = pool.instancePoolName;
    this.registerOutputs({ poolId: this.poolId, poolName: this.poolName });
  }
}
