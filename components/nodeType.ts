/**
 * The node type a cluster or a job cluster runs on when the stack names none:
 * the workspace's smallest size with the cores, memory and local disk asked
 * for, and for a GPU image at least `minGpus` GPUs. A pooled cluster takes its
 * node types from the pool and looks nothing up.
 *
 * The lookup answers the cloud's default size when no size matches (provider
 * docs, databricks_node_type: "returns the smallest ... or the default"), so a
 * GPU lookup whose answer has no GPU fails here, naming the key to set.
 */
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { isGpuNodeType } from "./gpu";

export interface NodeTypeNeeds {
  /** The node type the stack names; no lookup then. */
  nodeType?: pulumi.Input<string>;
  /** The cluster draws from a pool; no lookup then. */
  pooled: boolean;
  minCores?: number;
  minMemoryGb?: number;
  /** GPUs per node for a GPU image. */
  minGpus?: number;
  /** The config key that names a node type, for the error. */
  key: string;
}

/** The node type: the one given, none for a pooled cluster, or the lookup's answer. */
export function nodeTypeFor(needs: NodeTypeNeeds, opts: pulumi.InvokeOptions): pulumi.Input<string> | undefined {
  if (needs.nodeType !== undefined || needs.pooled) return needs.nodeType;
  return databricks
    .getNodeTypeOutput(
      { minCores: needs.minCores ?? 4, minMemoryGb: needs.minMemoryGb ?? 16, localDisk: true, ...(needs.minGpus !== undefined ? { minGpus: needs.minGpus } : {}) },
      opts,
    )
    .apply((r) => checkLookupAnswer(r.id, needs));
}

/** The lookup's answer, or an error naming the key when a GPU lookup answered an Azure size without a GPU (its fallback). */
export function checkLookupAnswer(id: string, needs: Pick<NodeTypeNeeds, "minGpus" | "key">): string {
  // Anything but an Azure size (another cloud's name) is left to Databricks.
  if (needs.minGpus !== undefined && /^Standard_/.test(id) && !isGpuNodeType(id)) {
    throw new Error(`the node-type lookup for ${needs.minGpus} GPU(s) answered ${id}, which has no GPU; set ${needs.key} to a GPU size the workspace offers`);
  }
  return id;
}
