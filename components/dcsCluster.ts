/**
 * DcsCluster: a Databricks cluster that boots from the team's image (by
 * digest or content tag), pulls it with the pull identity whose secret it
 * names by a `{{secrets/<scope>/<key>}}` reference, and runs the init scripts.
 */
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { computeSpec, GROUP_ACCESS_MIN_RUNTIME, validateComputePlacement, type ComputeOwner } from "./computeSpec";
import type { InitScriptBlock } from "./initScripts";
import { childName, unsupportedRuntimeReason } from "./naming";
import { isGpuNodeType, isPhotonRuntime } from "./gpu";
import { nodeTypeFor } from "./nodeType";

export { ACCESS_MODE, clusterLogConf } from "./computeSpec";

/**
 * Tags Databricks sets on every cluster and its VMs itself (Azure Databricks
 * docs, "Tag usage": default tags Vendor, Creator, ClusterName, ClusterId,
 * and Name on the VMs); a custom tag may not take these keys.
 */
export const RESERVED_CLUSTER_TAGS: readonly string[] = ["Name", "Vendor", "Creator", "ClusterName", "ClusterId"];

export interface DcsClusterArgs {
  /** Cluster name. */
  clusterName: string;
  /** Image reference: `<host>/<repo>@sha256:<digest>` or `<host>/<repo>:<content tag>`. */
  imageRef: pulumi.Input<string>;
  /** Registry user: the pull identity's client id. */
  pullUsername: pulumi.Input<string>;
  /** Registry password: a `{{secrets/<scope>/<key>}}` reference, never the secret itself (Databricks shows basic-auth values to other users). */
  pullPassword: string;
  /** Init-script blocks, in run order. Default: none. */
  initScripts?: InitScriptBlock[];
  /** Runtime key, e.g. 16.4.x-scala2.12. Default: looked up (latest LTS, never ML/Genomics/GPU). */
  sparkVersion?: string;
  /** major.minor the image was built for; a looked-up runtime must match it. */
  expectedRuntime?: string;
  /** Worker node type. Default: looked up from minCores/minMemoryGb. */
  nodeType?: string;
  /** Driver node type. Default: the worker node type. */
  driverNodeType?: string;
  /** Minimum cores for the node-type lookup. Default: 4. */
  minCores?: number;
  /** Minimum memory (GB) for the node-type lookup. Default: 16. */
  minMemoryGb?: number;
  /** Fixed size; exclusive with autoscale and singleNode. */
  numWorkers?: number;
  /** A single-node cluster (no workers; the driver runs the scheduler and a worker). Default: false. */
  singleNode?: boolean;
  /** The cluster boots a GPU image: the node-type lookup asks for this many GPUs, and a given node type must have one. Default: not a GPU image. */
  minGpus?: number;
  /** Autoscaling range; exclusive with numWorkers. */
  autoscale?: { minWorkers: number; maxWorkers: number };
  /** Minutes of inactivity before termination. Default: 30. */
  autoterminationMinutes?: number;
  /** Owner of the single-user cluster (user email or service principal application id). */
  singleUserName: string;
  /** Assign the dedicated cluster to this group instead of singleUserName (DBR 15.4+; unverified with custom containers). Default: none. */
  groupName?: string;
  /** Worker pool (and driver pool) the cluster draws from. Default: none. */
  instancePoolId?: pulumi.Input<string>;
  driverInstancePoolId?: pulumi.Input<string>;
  /** Azure spot workers with an on-demand driver and fallback. Default: off. */
  spot?: { maxPrice?: number };
  /** Custom tags (propagate to the Azure VMs). Default: none. */
  customTags?: Record<string, string>;
  /** Environment variables for Spark and the init scripts. Default: none. */
  sparkEnvVars?: Record<string, pulumi.Input<string>>;
  /** Spark configuration. Default: none. */
  sparkConf?: Record<string, string>;
  /**
   * Cluster policy the cluster is created under (a platform stack's). The cluster declares every
   * value the policy fixes itself instead of asking for the policy's defaults: with
   * applyPolicyDefaultValues the provider shows a diff on every plan (terraform-provider-databricks
   * issues #3985, #3653). Default: none.
   */
  policyId?: pulumi.Input<string>;
  /** Where Databricks delivers the cluster's logs: a `/Volumes/...` or `dbfs:/...` folder. Default: no delivery. */
  logDestination?: string;
  /** Resources the cluster waits for: the container-services toggle, the script uploads, the pull secret and grant. Default: none. */
  dependsOn?: pulumi.Resource[];
  /** Workspace-level Databricks provider. */
  provider: databricks.Provider;
}

/** True for a Databricks secret reference such as {{secrets/dcs/acr-pull}}. */
export function isSecretReference(value: pulumi.Input<string>): value is string {
  return typeof value === "string" && /^\{\{secrets\/[^/{}]+\/[^/{}]+\}\}$/.test(value);
}

/** Problems with the sizing arguments, as messages; empty when valid. */
export function validateClusterArgs(
  args: Pick<
    DcsClusterArgs,
    "numWorkers" | "autoscale" | "autoterminationMinutes" | "initScripts" | "customTags" | "pullPassword" | "logDestination" | "instancePoolId" | "driverInstancePoolId" | "spot" | "groupName" | "sparkVersion" | "singleNode" | "minGpus" | "nodeType" | "driverNodeType"
  >,
): string[] {
  const problems: string[] = [...validateComputePlacement(args)];
  if (args.groupName !== undefined && args.sparkVersion !== undefined) {
    const [major, minor] = args.sparkVersion.split(".").map(Number);
    const [minMajor, minMinor] = GROUP_ACCESS_MIN_RUNTIME.split(".").map(Number);
    if (major < minMajor || (major === minMajor && minor < minMinor)) problems.push(`a cluster dedicated to a group needs runtime ${GROUP_ACCESS_MIN_RUNTIME} or later (got ${args.sparkVersion})`);
  }
  if (!isSecretReference(args.pullPassword)) problems.push("pullPassword must be a {{secrets/<scope>/<key>}} reference, not a secret value");
  const reserved = Object.keys(args.customTags ?? {}).filter((k) => RESERVED_CLUSTER_TAGS.some((r) => r.toLowerCase() === k.toLowerCase()));
  if (reserved.length > 0) problems.push(`custom tags ${reserved.join(", ")} are reserved by Databricks`);
  if (args.singleNode) {
    if (args.numWorkers !== undefined || args.autoscale !== undefined) problems.push("a single-node cluster has no workers: leave numWorkers and autoscale unset");
  } else if ((args.numWorkers === undefined) === (args.autoscale === undefined)) problems.push("set exactly one of numWorkers and autoscale");
  if (args.minGpus !== undefined) {
    const cpu = [args.nodeType, args.driverNodeType].filter((t): t is string => t !== undefined && !isGpuNodeType(t));
    if (cpu.length > 0) problems.push(`the cluster boots a GPU image, and ${cpu.join(", ")} has no GPU`);
  } else {
    const gpu = [args.nodeType, args.driverNodeType].filter((t): t is string => t !== undefined && isGpuNodeType(t));
    if (gpu.length > 0) problems.push(`${gpu.join(", ")} is a GPU size, and the cluster's image is not a GPU image`);
  }
  if (args.minGpus !== undefined && args.sparkVersion !== undefined && isPhotonRuntime(args.sparkVersion)) problems.push(`${args.sparkVersion} runs Photon, which does not run on GPU nodes`);
  if (args.autoscale && args.autoscale.maxWorkers < args.autoscale.minWorkers) problems.push("autoscale.maxWorkers is below autoscale.minWorkers");
  if ((args.autoterminationMinutes ?? 30) <= 0) problems.push("autoterminationMinutes must be positive");
  if ((args.initScripts?.length ?? 0) > 10) problems.push("a cluster runs at most 10 init scripts");
  if (args.logDestination !== undefined && !/^(\/Volumes\/|dbfs:\/)/.test(args.logDestination)) problems.push(`log destination ${args.logDestination} is neither /Volumes/... nor dbfs:/...`);
  return problems;
}

/** Checks a looked-up runtime against the image's; returns it or throws with the key to set. */
export function checkRuntime(sparkVersion: string, expectedRuntime: string | undefined): string {
  const reason = unsupportedRuntimeReason(sparkVersion);
  if (reason) throw new Error(`runtime ${sparkVersion} cannot run the image: ${reason}; set dcs:clusters.<name>.sparkVersion`);
  if (expectedRuntime && !sparkVersion.startsWith(`${expectedRuntime}.`)) {
    throw new Error(`the latest LTS runtime is ${sparkVersion} but the image is built for ${expectedRuntime}; set dcs:clusters.<name>.sparkVersion to ${expectedRuntime}.x-scala2.12 or move dcs:image.runtime`);
  }
  return sparkVersion;
}

export class DcsCluster extends pulumi.ComponentResource {
  /** Databricks cluster id. */
  public readonly clusterId: pulumi.Output<string>;
  /** URL of the cluster page in the workspace. */
  public readonly url: pulumi.Output<string>;
  /** The runtime the cluster runs. */
  public readonly sparkVersion: pulumi.Output<string>;

  constructor(name: string, args: DcsClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    // Rejected before registration: nothing, not even this component, is declared.
    const problems = validateClusterArgs(args);
    if (problems.length > 0) throw new Error(`DcsCluster "${name}": ${problems.join("; ")}`);
    super("dcs:index:DcsCluster", name, {}, opts);

    const { provider } = args;
    const invokeOpts = { parent: this, provider };
    const sparkVersion =
      args.sparkVersion !== undefined
        ? pulumi.output(args.sparkVersion)
        : databricks
            .getSparkVersionOutput({ longTermSupport: true, latest: true, ml: false, genomics: false, gpu: false, photon: false }, invokeOpts)
            .apply((r) => checkRuntime(r.id, args.expectedRuntime));
    const nodeType = pulumi.output(
      nodeTypeFor(
        { nodeType: args.nodeType, pooled: args.instancePoolId !== undefined, minCores: args.minCores, minMemoryGb: args.minMemoryGb, minGpus: args.minGpus, key: "dcs:clusters.<name>.nodeType" },
        invokeOpts,
      ) ?? "",
    );

    const owner: ComputeOwner = args.groupName !== undefined ? { group: args.groupName } : { user: args.singleUserName };
    const cluster = new databricks.Cluster(
      childName(name, "cluster"),
      {
        clusterName: args.clusterName,
        autoterminationMinutes: args.autoterminationMinutes ?? 30,
        ...(computeSpec({
          imageRef: args.imageRef,
          pullUsername: args.pullUsername,
          pullPassword: args.pullPassword,
          sparkVersion,
          nodeType,
          driverNodeType: args.driverNodeType,
          numWorkers: args.numWorkers,
          autoscale: args.autoscale,
          singleNode: args.singleNode,
          owner,
          initScripts: args.initScripts,
          customTags: args.customTags,
          sparkEnvVars: args.sparkEnvVars,
          sparkConf: args.sparkConf,
          logDestination: args.logDestination,
          policyId: args.policyId,
          instancePoolId: args.instancePoolId,
          driverInstancePoolId: args.driverInstancePoolId,
          spot: args.spot,
        }) as Partial<databricks.ClusterArgs>),
        sparkVersion,
      },
      { parent: this, provider, dependsOn: args.dependsOn ?? [] },
    );

    // A cluster dedicated to a group: its members attach and start it (the deployer creates it).
    if (args.groupName !== undefined) {
      new databricks.Permissions(
        childName(name, "group-restart"),
        { clusterId: cluster.clusterId, accessControls: [{ groupName: args.groupName, permissionLevel: "CAN_RESTART" }] },
        { parent: this, provider },
      );
    }

    this.clusterId = cluster.clusterId;
    this.url = cluster.url;
    this.sparkVersion = sparkVersion;
    this.registerOutputs({ clusterId: this.clusterId, url: this.url, sparkVersion });
  }
}
