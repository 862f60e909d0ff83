import * as databricks from "@pulumi/databricks";
import { describe, expect, it } from "vitest";
import { ACCESS_MODE, checkRuntime, DcsCluster, isSecretReference, RESERVED_CLUSTER_TAGS, validateClusterArgs, type DcsClusterArgs } from "../components/dcsCluster";
import { checkLookupAnswer } from "../components/nodeType";
import { RenderError } from "../stacks/render/engine";
import { one, recordResources } from "./helpers/record";

const CLUSTER = "databricks:index/cluster:Cluster";
const DIGEST = `dcshydrodev.azurecr.io/hydrology/dask@sha256:${"b".repeat(64)}`;
const REFERENCE = "{{secrets/dcs-hydrology-test/acr-pull}}";

function declare(args: Partial<DcsClusterArgs> = {}) {
  return () => {
    const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
    const gate = new databricks.WorkspaceConf("gate", { customConfig: { enableDcs: "true" } }, { provider });
    const cluster = new DcsCluster("cluster", {
      clusterName: "hydrology-dask-test",
      imageRef: DIGEST,
      pullUsername: "3f6c1f1e-58b4-4c1a-9a55-2d8a0c6b7e01",
      pullPassword: REFERENCE,
      initScripts: [{ workspace: { destination: "/Shared/dcs/t/dask.sh" } }],
      sparkVersion: "16.4.x-scala2.12",
      nodeType: "Standard_D4ds_v5",
      autoscale: { minWorkers: 1, maxWorkers: 3 },
      singleUserName: "someone@contoso.com",
      customTags: { team: "hydrology" },
      sparkEnvVars: { DCS_DASK_SCHEDULER_PORT: "8786" },
      dependsOn: [gate],
      provider,
      ...args,
    });
    return { clusterId: cluster.clusterId, url: cluster.url, sparkVersion: cluster.sparkVersion };
  };
}

describe("DcsCluster", () => {
  it("boots from the image digest in single-user mode, with the pull identity and init scripts", async () => {
    const r = await recordResources(declare({ sparkConf: { "spark.databricks.unityCatalog.volumes.enabled": "true" } }));
    const c = one(r, CLUSTER);
    expect(c.inputs.dockerImage).toEqual({ url: DIGEST, basicAuth: { username: "3f6c1f1e-58b4-4c1a-9a55-2d8a0c6b7e01", password: REFERENCE } });
    expect(c.secretInputs).toEqual([]);
    expect(c.inputs.sparkConf).toEqual({ "spark.databricks.unityCatalog.volumes.enabled": "true" });
    expect(c.inputs).toMatchObject({
      clusterName: "hydrology-dask-test",
      sparkVersion: "16.4.x-scala2.12",
      nodeTypeId: "Standard_D4ds_v5",
      driverNodeTypeId: "Standard_D4ds_v5",
      autoscale: { minWorkers: 1, maxWorkers: 3 },
      autoterminationMinutes: 30,
      dataSecurityMode: ACCESS_MODE,
      singleUserName: "someone@contoso.com",
      initScripts: [{ workspace: { destination: "/Shared/dcs/t/dask.sh" } }],
      customTags: { team: "hydrology" },
      sparkEnvVars: { DCS_DASK_SCHEDULER_PORT: "8786" },
    });
    expect(ACCESS_MODE).toBe("SINGLE_USER");
    expect(c.dependencies).toContain(one(r, "databricks:index/workspaceConf:WorkspaceConf").urn);
    expect(r.invokes).toEqual([]);
    expect(String(r.outputs.clusterId)).toMatch(/^0101-/);
  });

  it("refuses a raw secret as the registry password, and reserved tags, before declaring anything", async () => {
    expect(isSecretReference("{{secrets/dcs/acr-pull}}")).toBe(true);
    expect(isSecretReference("plain")).toBe(false);
    const err = await recordResources(declare({ pullPassword: "the-client-secret" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as Error).message).toMatch(/pullPassword must be a \{\{secrets\/<scope>\/<key>\}\} reference/);
    expect((err as Error).message).not.toContain("the-client-secret");
    expect((err as RenderError).recorded.filter((x) => x.type === CLUSTER)).toHaveLength(0);
    for (const tag of RESERVED_CLUSTER_TAGS) {
      expect(validateClusterArgs({ numWorkers: 1, pullPassword: REFERENCE, customTags: { [tag]: "x" } })).toContain(`custom tags ${tag} are reserved by Databricks`);
    }
    expect(RESERVED_CLUSTER_TAGS).toEqual(["Name", "Vendor", "Creator", "ClusterName", "ClusterId"]);
  });

  it("looks up an LTS runtime without ML, Genomics or GPU, and a node type, when not configured", async () => {
    const r = await recordResources(declare({ sparkVersion: undefined, nodeType: undefined, expectedRuntime: "16.4", minCores: 8, minMemoryGb: 32 }));
    const spark = r.invokes.find((i) => i.token === "databricks:index/getSparkVersion:getSparkVersion");
    expect(spark?.args).toMatchObject({ longTermSupport: true, ml: false, genomics: false, gpu: false });
    const node = r.invokes.find((i) => i.token === "databricks:index/getNodeType:getNodeType");
    expect(node?.args).toMatchObject({ minCores: 8, minMemoryGb: 32, localDisk: true });
    const c = one(r, CLUSTER);
    expect(c.inputs.sparkVersion).toBe("16.4.x-scala2.12");
    expect(c.inputs.nodeTypeId).toBe("Standard_D4ds_v5");
  });

  it("runs a fixed size when numWorkers is given", async () => {
    const r = await recordResources(declare({ autoscale: undefined, numWorkers: 2, driverNodeType: "Standard_E8ds_v5" }));
    const c = one(r, CLUSTER);
    expect(c.inputs.numWorkers).toBe(2);
    expect(c.inputs.autoscale).toBeUndefined();
    expect(c.inputs.driverNodeTypeId).toBe("Standard_E8ds_v5");
  });

  it("rejects contradictory sizing and too many init scripts", () => {
    expect(validateClusterArgs({ pullPassword: REFERENCE, numWorkers: 2, autoscale: { minWorkers: 1, maxWorkers: 2 } })).toContain("set exactly one of numWorkers and autoscale");
    expect(validateClusterArgs({ pullPassword: REFERENCE })).toContain("set exactly one of numWorkers and autoscale");
    expect(validateClusterArgs({ pullPassword: REFERENCE, autoscale: { minWorkers: 3, maxWorkers: 2 } })).toContain("autoscale.maxWorkers is below autoscale.minWorkers");
    expect(validateClusterArgs({ pullPassword: REFERENCE, numWorkers: 1, autoterminationMinutes: 0 })).toContain("autoterminationMinutes must be positive");
    expect(validateClusterArgs({ pullPassword: REFERENCE, numWorkers: 1, initScripts: Array(11).fill({ workspace: { destination: "/x" } }) })).toContain("a cluster runs at most 10 init scripts");
    expect(validateClusterArgs({ pullPassword: REFERENCE, numWorkers: 1 })).toEqual([]);
  });

  it("refuses looked-up runtimes that cannot run the image", () => {
    expect(checkRuntime("16.4.x-scala2.12", "16.4")).toBe("16.4.x-scala2.12");
    expect(() => checkRuntime("17.3.x-scala2.13", "16.4")).toThrow(/dcs:clusters\.<name>\.sparkVersion/);
    expect(() => checkRuntime("16.4.x-cpu-ml-scala2.12", "16.4")).toThrow(/ML/);
    expect(() => checkRuntime("16.4.x-hls-scala2.12", undefined)).toThrow(/Genomics/);
  });
});

describe("a cluster dedicated to a group", () => {
  it("runs in dedicated mode for the group and lets the group restart it", async () => {
    const r = await recordResources(declare({ groupName: "hydrology-team" }));
    const c = one(r, CLUSTER);
    expect(c.inputs).toMatchObject({ dataSecurityMode: "DATA_SECURITY_MODE_DEDICATED", singleUserName: "hydrology-team", kind: "CLASSIC_PREVIEW" });
    const grant = one(r, "databricks:index/permissions:Permissions");
    expect(grant.inputs.accessControls).toEqual([{ groupName: "hydrology-team", permissionLevel: "CAN_RESTART" }]);
    expect(grant.dependencies).toContain(c.urn);
    const single = await recordResources(declare());
    expect(single.resources.filter((x) => x.type === "databricks:index/permissions:Permissions")).toEqual([]);
  });
});

describe("a cluster on a GPU image", () => {
  it("a GPU cluster without a node type looks one up by GPU count; a lookup answered without a GPU fails naming the key", async () => {
    const r = await recordResources(declare({ nodeType: undefined, minGpus: 2, autoscale: undefined, numWorkers: 1 }));
    expect(r.invokes.find((i) => i.token === "databricks:index/getNodeType:getNodeType")!.args).toMatchObject({ minGpus: 2, localDisk: true });
    expect(one(r, CLUSTER).inputs).toMatchObject({ nodeTypeId: "Standard_NC4as_T4_v3", numWorkers: 1 });
    // A CPU image looks up without a GPU count.
    const cpu = await recordResources(declare({ nodeType: undefined }));
    expect(cpu.invokes.find((i) => i.token === "databricks:index/getNodeType:getNodeType")!.args.minGpus).toBeUndefined();
    // The lookup falls back to the cloud's default size when no size matches (provider docs, databricks_node_type).
    expect(() => checkLookupAnswer("Standard_D3_v2", { minGpus: 1, key: "dcs:clusters.<name>.nodeType" })).toThrow(/answered Standard_D3_v2, which has no GPU; set dcs:clusters.<name>.nodeType/);
    expect(checkLookupAnswer("Standard_NC4as_T4_v3", { minGpus: 1, key: "k" })).toBe("Standard_NC4as_T4_v3");
    expect(checkLookupAnswer("Standard_D3_v2", { key: "k" })).toBe("Standard_D3_v2");
  });
});
