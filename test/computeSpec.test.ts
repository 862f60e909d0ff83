import { describe, expect, it } from "vitest";
import { accessFields, computeSpec, spotAttributes, validateComputePlacement, type ComputeArgs } from "../components/computeSpec";
import { validateClusterArgs } from "../components/dcsCluster";

const REF = "{{secrets/dcs-hydrology-dev/acr-pull}}";
const base: ComputeArgs = {
  imageRef: "r.azurecr.io/hydrology/dask@sha256:" + "a".repeat(64),
  pullUsername: "client-id",
  pullPassword: REF,
  sparkVersion: "16.4.x-scala2.12",
  nodeType: "Standard_D4ds_v5",
  numWorkers: 2,
  owner: { user: "hydro@contoso.com" },
};

describe("the compute shape clusters and job clusters share", () => {
  it("puts the workers on spot, the first node (the driver) on demand, with on-demand fallback", () => {
    const spec = computeSpec({ ...base, spot: {} });
    expect(spec.azureAttributes).toEqual({ availability: "SPOT_WITH_FALLBACK_AZURE", firstOnDemand: 1, spotBidMaxPrice: -1 });
    // Without spot the attributes are still stated: the provider keeps a removed block, and firstOnDemand never changes.
    expect(computeSpec(base).azureAttributes).toEqual({ availability: "ON_DEMAND_AZURE", firstOnDemand: 1 });
    expect(spotAttributes(0.25).spotBidMaxPrice).toBe(0.25);
  });

  it("takes node types and Azure attributes from the pools when it draws from them", () => {
    const spec = computeSpec({ ...base, instancePoolId: "pool-w", driverInstancePoolId: "pool-d" });
    expect(spec).toMatchObject({ instancePoolId: "pool-w", driverInstancePoolId: "pool-d" });
    expect(spec).not.toHaveProperty("nodeTypeId");
    expect(spec).not.toHaveProperty("driverNodeTypeId");
    expect(spec).not.toHaveProperty("azureAttributes");
    // One pool for both.
    expect(computeSpec({ ...base, instancePoolId: "pool-w" }).driverInstancePoolId).toBe("pool-w");
  });

  it("refuses a driver pool without a worker pool, spot beside a pool, and a price that is neither -1 nor positive", () => {
    expect(validateComputePlacement({ driverInstancePoolId: "d" })).toEqual(["a driver pool needs a worker pool (instancePoolId)"]);
    expect(validateComputePlacement({ instancePoolId: "w", spot: {} })).toEqual([expect.stringMatching(/spot lives on the pool/)]);
    expect(validateComputePlacement({ spot: { maxPrice: 0 } })).toEqual([expect.stringMatching(/-1.*positive/)]);
    expect(validateComputePlacement({ spot: { maxPrice: -1 } })).toEqual([]);
  });

  it("dedicates a cluster to one user in SINGLE_USER mode, or to a group in dedicated mode with kind CLASSIC_PREVIEW", () => {
    expect(accessFields({ user: "a@b.c" })).toEqual({ dataSecurityMode: "SINGLE_USER", singleUserName: "a@b.c" });
    expect(accessFields({ group: "hydrology-team" })).toEqual({ dataSecurityMode: "DATA_SECURITY_MODE_DEDICATED", singleUserName: "hydrology-team", kind: "CLASSIC_PREVIEW" });
    expect(computeSpec({ ...base, owner: { group: "hydrology-team" } })).toMatchObject({ dataSecurityMode: "DATA_SECURITY_MODE_DEDICATED", kind: "CLASSIC_PREVIEW" });
  });

  it("refuses a group-dedicated cluster below runtime 15.4", () => {
    const args = { numWorkers: 1, pullPassword: REF, groupName: "g" };
    expect(validateClusterArgs({ ...args, sparkVersion: "14.3.x-scala2.12" })).toContain("a cluster dedicated to a group needs runtime 15.4 or later (got 14.3.x-scala2.12)");
    expect(validateClusterArgs({ ...args, sparkVersion: "15.4.x-scala2.12" })).toEqual([]);
  });

  it("names the image by the given reference and pulls with the secret reference", () => {
    expect(computeSpec(base).dockerImage).toEqual({ url: base.imageRef, basicAuth: { username: "client-id", password: REF } });
  });

  it("makes a single-node cluster the way the provider accepts one: no workers, the single-node profile, a local master, the ResourceClass tag", () => {
    const spec = computeSpec({ ...base, numWorkers: undefined, singleNode: true, sparkConf: { a: "b" }, customTags: { team: "hydrology" }, sparkEnvVars: { X: "1" } });
    expect(spec.numWorkers).toBe(0);
    expect(spec.autoscale).toBeUndefined();
    // terraform-provider-databricks Cluster.Validate: num_workers 0 needs all three.
    expect(spec.sparkConf).toEqual({ a: "b", "spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*, 4]" });
    expect(String((spec.sparkConf as Record<string, string>)["spark.master"]).startsWith("local")).toBe(true);
    expect(spec.customTags).toEqual({ team: "hydrology", ResourceClass: "SingleNode" });
    expect(spec.sparkEnvVars).toEqual({ X: "1", DCS_SINGLE_NODE: "true" });
    const multi = computeSpec(base);
    expect(multi.numWorkers).toBe(2);
    expect(multi.sparkConf).toEqual({});
    expect((multi.sparkEnvVars as Record<string, string>).DCS_SINGLE_NODE).toBeUndefined();
  });

  it("refuses workers on a single-node cluster, a GPU image on a CPU size, a CPU image on a GPU size, and Photon on a GPU image", () => {
    const args = { pullPassword: REF, numWorkers: 2 };
    expect(validateClusterArgs({ ...args, singleNode: true })).toContain("a single-node cluster has no workers: leave numWorkers and autoscale unset");
    expect(validateClusterArgs({ pullPassword: REF, singleNode: true })).toEqual([]);
    expect(validateClusterArgs({ ...args, minGpus: 1, nodeType: "Standard_D4ds_v5" })).toContain("the cluster boots a GPU image, and Standard_D4ds_v5 has no GPU");
    expect(validateClusterArgs({ ...args, minGpus: 1, nodeType: "Standard_NC4as_T4_v3", driverNodeType: "Standard_E8ds_v5" })).toContain("the cluster boots a GPU image, and Standard_E8ds_v5 has no GPU");
    expect(validateClusterArgs({ ...args, nodeType: "Standard_NC24ads_A100_v4" })).toContain("Standard_NC24ads_A100_v4 is a GPU size, and the cluster's image is not a GPU image");
    expect(validateClusterArgs({ ...args, minGpus: 1, sparkVersion: "16.4.x-photon-scala2.12" })).toContain("16.4.x-photon-scala2.12 runs Photon, which does not run on GPU nodes");
    expect(validateClusterArgs({ ...args, minGpus: 1, nodeType: "Standard_NC4as_T4_v3", sparkVersion: "16.4.x-scala2.12" })).toEqual([]);
  });
});
