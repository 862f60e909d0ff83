/**
 * The compute shape an interactive cluster and a job's cluster share: the
 * image and its pull credentials, init scripts, environment, access mode,
 * size, pools and spot. One pure function, so a `databricks.Cluster` and a
 * job task's `newCluster` are built the same way and checked the same way.
 *
 * Provider and service rules it follows:
 * - a cluster that draws from an instance pool takes its node types and its
 *   Azure attributes from the pool: the provider refuses `nodeTypeId` and
 *   `driverNodeTypeId` beside `instancePoolId` and drops `azureAttributes`
 *   (terraform-provider-databricks clusters/resource_cluster.go), and a driver
 *   pool needs a worker pool; spot then lives on the pool;
 * - without a pool, Azure spot for the workers with the driver on demand is
 *   `azure_attributes { availability = SPOT_WITH_FALLBACK_AZURE,
 *   first_on_demand = 1 }` (the first node, the driver, on demand; workers fall
 *   back to on-demand VMs when spot capacity is gone), and a max price of -1
 *   means "up to the on-demand price" (Clusters API, AzureAttributes);
 * - dedicated access mode assigned to a group (`data_security_mode =
 *   DATA_SECURITY_MODE_DEDICATED`, `single_user_name = <group>`, `kind =
 *   CLASSIC_PREVIEW`) needs Databricks Runtime 15.4 or later (Azure Databricks
 *   docs, "Dedicated group access"); no source says it works with a custom
 *   container, so it is opt-in and the README marks it unverified.
 */
import * as pulumi from "@pulumi/pulumi";
import type { InitScriptBlock } from "./initScripts";

/** Access mode custom containers need: dedicated (single user). Shared mode is not supported. */
export const ACCESS_MODE = "SINGLE_USER";
/** Dedicated access mode under its newer name, required to assign a cluster to a group. */
export const DEDICATED_ACCESS_MODE = "DATA_SECURITY_MODE_DEDICATED";
/** Lowest runtime (major.minor) for dedicated access assigned to a group. */
export const GROUP_ACCESS_MIN_RUNTIME = "15.4";

/** Who a cluster is dedicated to. */
export type ComputeOwner = { user: string } | { group: string };

/** What a cluster or a job cluster is made of. */
export interface ComputeArgs {
  /** Image reference: digest or content tag. */
  imageRef: pulumi.Input<string>;
  /** Registry user: the pull identity's client id. */
  pullUsername: pulumi.Input<string>;
  /** Registry password: a `{{secrets/<scope>/<key>}}` reference. */
  pullPassword: string;
  /** Runtime key. */
  sparkVersion: pulumi.Input<string>;
  /** Worker node type; ignored with a worker pool. */
  nodeType?: pulumi.Input<string>;
  /** Driver node type; default the worker's; ignored with a driver pool. */
  driverNodeType?: pulumi.Input<string>;
  /** Fixed size; exclusive with autoscale. */
  numWorkers?: number;
  /** Autoscaling range; exclusive with numWorkers. */
  autoscale?: { minWorkers: number; maxWorkers: number };
  /** Who the cluster is dedicated to. */
  owner: ComputeOwner;
  /** Init-script blocks, in run order. */
  initScripts?: InitScriptBlock[];
  customTags?: Record<string, string>;
  sparkEnvVars?: Record<string, pulumi.Input<string>>;
  sparkConf?: Record<string, string>;
  /** Log delivery destination (`/Volumes/...` or `dbfs:/...`). */
  logDestination?: string;
  /** Cluster policy id. */
  policyId?: pulumi.Input<string>;
  /** Pool the workers (and, without a driver pool, the driver) come from. */
  instancePoolId?: pulumi.Input<string>;
  /** Pool the driver comes from (needs instancePoolId). */
  driverInstancePoolId?: pulumi.Input<string>;
  /** Azure spot for the workers, the driver on demand, on-demand fallback; not with pools. */
  spot?: { maxPrice?: number };
  /** A single-node cluster: no workers; the driver does the work (numWorkers and autoscale unset). */
  singleNode?: boolean;
}

/**
 * What makes a cluster single-node: no workers, Spark's single-node profile
 * with a local master, and the ResourceClass tag. The provider accepts
 * num_workers = 0 only with all three (terraform-provider-databricks
 * clusters/clusters_api.go, Cluster.Validate: "NumWorkers could be 0 only for
 * SingleNode clusters"); the values are Databricks' single-node settings.
 * DCS_SINGLE_NODE tells the init script to start a Dask worker on the driver.
 */
export const SINGLE_NODE = {
  sparkConf: { "spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*, 4]" },
  customTags: { ResourceClass: "SingleNode" },
  sparkEnvVars: { DCS_SINGLE_NODE: "true" },
} as const;

/** The cluster's `clusterLogConf` block for a log destination (a Unity Catalog volume folder or DBFS). */
export function clusterLogConf(destination: string | undefined): { volumes: { destination: string } } | { dbfs: { destination: string } } | undefined {
  if (destination === undefined) return undefined;
  if (destination.startsWith("/Volumes/")) return { volumes: { destination } };
  if (destination.startsWith("dbfs:/")) return { dbfs: { destination } };
  throw new Error(`log destination ${destination} is neither /Volumes/... nor dbfs:/...`);
}

/** The `azureAttributes` of spot workers with an on-demand driver and on-demand fallback. */
export function spotAttributes(maxPrice = -1): { availability: string; firstOnDemand: number; spotBidMaxPrice: number } {
  return { availability: "SPOT_WITH_FALLBACK_AZURE", firstOnDemand: 1, spotBidMaxPrice: maxPrice };
}

/**
 * The `azureAttributes` of a cluster without spot, always sent: the provider
 * keeps a removed block as it was (so turning spot off would leave the cluster
 * on spot), and `first_on_demand` cannot change over a cluster's life (provider
 * docs, cluster azure_attributes), so every cluster states both from the start.
 */
export const ON_DEMAND_ATTRIBUTES = { availability: "ON_DEMAND_AZURE", firstOnDemand: 1 } as const;

/** Problems with the pool and spot combination, as messages; empty when valid. */
export function validateComputePlacement(args: Pick<ComputeArgs, "instancePoolId" | "driverInstancePoolId" | "spot">): string[] {
  const problems: string[] = [];
  if (args.driverInstancePoolId !== undefined && args.instancePoolId === undefined) problems.push("a driver pool needs a worker pool (instancePoolId)");
  if (args.spot && args.instancePoolId !== undefined) problems.push("spot lives on the pool when the cluster draws from one; set it on the worker pool");
  if (args.spot?.maxPrice !== undefined && args.spot.maxPrice !== -1 && args.spot.maxPrice <= 0) problems.push("spot maxPrice is -1 (up to the on-demand price) or a positive price");
  return problems;
}

/** The access-mode fields for an owner. */
export function accessFields(owner: ComputeOwner): { dataSecurityMode: string; singleUserName: string; kind?: string } {
  return "group" in owner ? { dataSecurityMode: DEDICATED_ACCESS_MODE, singleUserName: owner.group, kind: "CLASSIC_PREVIEW" } : { dataSecurityMode: ACCESS_MODE, singleUserName: owner.user };
}

/** The fields a `databricks.Cluster` and a job task's `newCluster` share. */
export function computeSpec(args: ComputeArgs): Record<string, unknown> {
  const pooled = args.instancePoolId !== undefined;
  return {
    sparkVersion: args.sparkVersion,
    ...(pooled
      ? { instancePoolId: args.instancePoolId, driverInstancePoolId: args.driverInstancePoolId ?? args.instancePoolId }
      : { nodeTypeId: args.nodeType, driverNodeTypeId: args.driverNodeType ?? args.nodeType, azureAttributes: args.spot ? spotAttributes(args.spot.maxPrice) : ON_DEMAND_ATTRIBUTES }),
    numWorkers: args.singleNode ? 0 : args.numWorkers,
    autoscale: args.singleNode ? undefined : args.autoscale,
    ...accessFields(args.owner),
    dockerImage: {
      url: args.imageRef,
      // A reference, resolved by Databricks at start with the owner's READ on the scope:
      // not a secret itself, so the image URL stays reviewable in previews.
      basicAuth: { username: args.pullUsername, password: args.pullPassword },
    },
    initScripts: args.initScripts ?? [],
    customTags: { ...(args.customTags ?? {}), ...(args.singleNode ? SINGLE_NODE.customTags : {}) },
    sparkEnvVars: { ...(args.sparkEnvVars ?? {}), ...(args.singleNode ? SINGLE_NODE.sparkEnvVars : {}) },
    sparkConf: { ...(args.sparkConf ?? {}), ...(args.singleNode ? SINGLE_NODE.sparkConf : {}) },
    clusterLogConf: clusterLogConf(args.logDestination),
    policyId: args.policyId,
  };
}
