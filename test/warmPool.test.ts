import * as databricks from "@pulumi/databricks";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { generationKey, poolAzureAttributes, poolInstanceName, validateWarmPoolArgs, WarmPool, type PoolGeneration, type WarmPoolArgs } from "../components/warmPool";
import { RenderError } from "../stacks/render/engine";
import { one, ofType, providerUrn, recordResources, TestResource } from "./helpers/record";

const COMPONENT = "dcs:index:WarmPool";
const POOL = "databricks:index/instancePool:InstancePool";
const IMAGE = "acrhydrology.azurecr.io/dcs/hydrology:16.4-lts-3f2a9c1b7d0e";
const REFERENCE = "{{secrets/dcs-hydrology-dev/acr-pull}}";
const CLIENT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

type Args = Omit<WarmPoolArgs, "provider">;
const BASE: Args = {
  poolName: "hydrology-d4ds-dev",
  nodeType: "Standard_D4ds_v5",
  imageRef: IMAGE,
  pullUsername: CLIENT_ID,
  pullPassword: REFERENCE,
  sparkVersion: "16.4.x-scala2.12",
  minIdleInstances: 1,
  maxCapacity: 8,
  idleMinutes: 20,
  availability: "SPOT_AZURE",
};

function declare(overrides: Partial<Args> = {}, withDependency = false) {
  return () => {
    const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
    const dependsOn = withDependency ? [new TestResource("test:index:Toggle", "dcs-toggle")] : undefined;
    const pool = new WarmPool("pool-d4ds", { ...BASE, ...overrides, dependsOn, provider });
    return { poolId: pool.poolId, poolName: pool.poolName };
  };
}

const generation: PoolGeneration = {
  imageRef: IMAGE,
  pullUsername: CLIENT_ID,
  pullPassword: REFERENCE,
  sparkVersion: "16.4.x-scala2.12",
  nodeType: "Standard_D4ds_v5",
  azureAttributes: { availability: "SPOT_AZURE", spotBidMaxPrice: -1 },
  enableElasticDisk: true,
};

describe("WarmPool", () => {
  it("declares one instance pool with the image (pulled with the secret reference) and the runtime preloaded", async () => {
    const r = await recordResources(declare({ customTags: { team: "hydrology" } }, true));
    const component = one(r, COMPONENT);
    const pool = one(r, POOL);
    expect(pool.inputs).toEqual({
      instancePoolName: poolInstanceName("hydrology-d4ds-dev", generationKey(generation)),
      nodeTypeId: "Standard_D4ds_v5",
      minIdleInstances: 1,
      maxCapacity: 8,
      idleInstanceAutoterminationMinutes: 20,
      azureAttributes: { availability: "SPOT_AZURE", spotBidMaxPrice: -1 },
      enableElasticDisk: true,
      preloadedSparkVersions: ["16.4.x-scala2.12"],
      preloadedDockerImages: [{ url: IMAGE, basicAuth: { username: CLIENT_ID, password: REFERENCE } }],
      customTags: { team: "hydrology" },
    });
    expect(pool.inputs.instancePoolName).toMatch(/^hydrology-d4ds-dev-[0-9a-f]{8}$/);
    // The reference is no secret: it stays reviewable, and no clear credential is anywhere.
    expect(pool.secretInputs).toEqual([]);
    // Under the component, through the workspace provider, after what it waits for.
    expect(pool.parent).toBe(component.urn);
    expect(providerUrn(pool)).toBe(one(r, "pulumi:providers:databricks").urn);
    expect(pool.dependencies).toContain(one(r, "test:index:Toggle").urn);
    // The id the recorder gives a pool (the provider's `id`, which is the API's instance_pool_id).
    expect(r.outputs).toEqual({ poolId: "pool-d4ds-pool-id", poolName: pool.inputs.instancePoolName });
  });

  it("declares an on-demand pool without a price, a limit or tags", async () => {
    const r = await recordResources(declare({ availability: "ON_DEMAND_AZURE", maxCapacity: undefined, minIdleInstances: 0, idleMinutes: 0 }));
    const pool = one(r, POOL);
    expect(pool.inputs.azureAttributes).toEqual({ availability: "ON_DEMAND_AZURE" });
    expect(pool.inputs).not.toHaveProperty("maxCapacity");
    expect(pool.inputs).toMatchObject({ minIdleInstances: 0, idleInstanceAutoterminationMinutes: 0, customTags: {} });
    expect(pool.dependencies).toEqual([]);
  });

  it("takes the image as an output and resolves poolId in a preview-like rendering too", async () => {
    const r = await recordResources(declare({ imageRef: pulumi.output(IMAGE) }), "placeholders");
    expect(one(r, POOL).inputs.preloadedDockerImages).toEqual([{ url: IMAGE, basicAuth: { username: CLIENT_ID, password: REFERENCE } }]);
    expect(r.outputs.poolId).toBe("(computed: pool-d4ds-pool.id)");
  });

  it("is replaced create-first under a new name when the image changes, and edited in place otherwise", async () => {
    const before = one(await recordResources(declare()), POOL);
    const newImage = one(await recordResources(declare({ imageRef: IMAGE.replace("3f2a9c1b7d0e", "9d8c7b6a5f4e") })), POOL);
    const resized = one(await recordResources(declare({ minIdleInstances: 3, maxCapacity: 20, idleMinutes: 60, customTags: { costCenter: "cc-1" } })), POOL);
    for (const p of [before, newImage, resized]) {
      expect(p.urn).toBe(before.urn); // one logical resource: Pulumi replaces it, it does not add a second
      expect(p.deleteBeforeReplace).toBe(false); // the old pool serves until the clusters have moved
    }
    expect(newImage.inputs.instancePoolName).not.toBe(before.inputs.instancePoolName);
    expect(String(newImage.inputs.instancePoolName)).toMatch(/^hydrology-d4ds-dev-[0-9a-f]{8}$/);
    // Size, timeout and tags are edited in place: the name (and so the pool) stays.
    expect(resized.inputs.instancePoolName).toBe(before.inputs.instancePoolName);
  });

  it("changes the generation with every field that replaces the pool, and only with those", () => {
    const key = generationKey(generation);
    const replacing: Partial<PoolGeneration>[] = [
      { imageRef: `${IMAGE}x` },
      { pullUsername: "another-client" },
      { pullPassword: "{{secrets/dcs-hydrology-dev/acr-pull-2}}" },
      { sparkVersion: "17.3.x-scala2.13" },
      { nodeType: "Standard_E8ds_v5" },
      { azureAttributes: { availability: "ON_DEMAND_AZURE" } },
      { azureAttributes: { availability: "SPOT_AZURE", spotBidMaxPrice: 0.5 } },
      { enableElasticDisk: false },
    ];
    const keys = replacing.map((change) => generationKey({ ...generation, ...change }));
    for (const k of keys) expect(k).toMatch(/^[0-9a-f]{8}$/);
    expect(new Set([key, ...keys]).size).toBe(replacing.length + 1);
    expect(generationKey({ ...generation })).toBe(key);
    expect(poolInstanceName("p", "0123abcd")).toBe("p-0123abcd");
  });

  it("builds Azure attributes: spot with -1 unless priced, on demand without a price", () => {
    expect(poolAzureAttributes("SPOT_AZURE")).toEqual({ availability: "SPOT_AZURE", spotBidMaxPrice: -1 });
    expect(poolAzureAttributes("SPOT_AZURE", 0.42)).toEqual({ availability: "SPOT_AZURE", spotBidMaxPrice: 0.42 });
    expect(poolAzureAttributes("ON_DEMAND_AZURE")).toEqual({ availability: "ON_DEMAND_AZURE" });
  });

  it("lists every problem with its arguments", () => {
    expect(validateWarmPoolArgs(BASE)).toEqual([]);
    expect(validateWarmPoolArgs({ ...BASE, pullPassword: "pull-SECRET-value" })).toEqual([expect.stringMatching(/pullPassword must be a \{\{secrets/)]);
    expect(validateWarmPoolArgs({ ...BASE, minIdleInstances: -1 })).toEqual([expect.stringMatching(/minIdleInstances must be a whole number >= 0/)]);
    expect(validateWarmPoolArgs({ ...BASE, minIdleInstances: 1.5 })).toEqual([expect.stringMatching(/minIdleInstances/)]);
    expect(validateWarmPoolArgs({ ...BASE, minIdleInstances: 4, maxCapacity: 3 })).toEqual([expect.stringMatching(/maxCapacity \(3\) is below minIdleInstances \(4\)/)]);
    expect(validateWarmPoolArgs({ ...BASE, minIdleInstances: 0, maxCapacity: 0 })).toEqual([expect.stringMatching(/maxCapacity must be a whole number >= 1/)]);
    expect(validateWarmPoolArgs({ ...BASE, idleMinutes: 10_001 })).toEqual([expect.stringMatching(/idleMinutes must be a whole number from 0 to 10000/)]);
    expect(validateWarmPoolArgs({ ...BASE, idleMinutes: -5 })).toHaveLength(1);
    expect(validateWarmPoolArgs({ ...BASE, idleMinutes: 0 })).toEqual([]);
    expect(validateWarmPoolArgs({ ...BASE, idleMinutes: 10_000 })).toEqual([]);
    expect(validateWarmPoolArgs({ ...BASE, sparkVersion: "16.4.x-cpu-ml-scala2.12" })).toEqual([expect.stringMatching(/ML runtimes do not support custom containers/)]);
    expect(validateWarmPoolArgs({ ...BASE, sparkVersion: "16.4.x-gpu-ml-scala2.12" })).toHaveLength(1);
    expect(validateWarmPoolArgs({ ...BASE, sparkVersion: "10.4.x-hls-scala2.12" })).toEqual([expect.stringMatching(/Genomics/)]);
    expect(validateWarmPoolArgs({ ...BASE, availability: "ON_DEMAND_AZURE", spotMaxPrice: 0.3 })).toEqual([expect.stringMatching(/spotMaxPrice is only used with availability SPOT_AZURE/)]);
    expect(validateWarmPoolArgs({ ...BASE, spotMaxPrice: 0 })).toEqual([expect.stringMatching(/-1 \(up to the on-demand price\) or a positive price/)]);
    expect(validateWarmPoolArgs({ ...BASE, spotMaxPrice: -1 })).toEqual([]);
    expect(validateWarmPoolArgs({ ...BASE, availability: "SPOT_WITH_FALLBACK_AZURE" as never })).toEqual([expect.stringMatching(/pools have no fallback mode/)]);
    expect(validateWarmPoolArgs({ ...BASE, poolName: "" })).toEqual([expect.stringMatching(/poolName must be 1 to 90 characters/)]);
    expect(validateWarmPoolArgs({ ...BASE, poolName: "p".repeat(90) })).toEqual([]);
    expect(validateWarmPoolArgs({ ...BASE, poolName: "p".repeat(91) })).toHaveLength(1);
    expect(validateWarmPoolArgs({ ...BASE, nodeType: " " })).toEqual([expect.stringMatching(/nodeType is empty/)]);
    expect(validateWarmPoolArgs({ ...BASE, customTags: Object.fromEntries(Array.from({ length: 44 }, (_, i) => [`t${i}`, "v"])) })).toEqual([expect.stringMatching(/at most 43 custom tags/)]);
    expect(validateWarmPoolArgs({ ...BASE, pullPassword: "x", minIdleInstances: -1, idleMinutes: 99_999, availability: "ON_DEMAND_AZURE", spotMaxPrice: 1 })).toHaveLength(4);
  });

  it("refuses bad input before declaring anything, the component included", async () => {
    const err = await recordResources(declare({ pullPassword: "pull-SECRET-value", minIdleInstances: 5, maxCapacity: 2 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as RenderError).message).toMatch(/WarmPool "pool-d4ds": pullPassword must be .*; maxCapacity \(2\) is below minIdleInstances \(5\)/);
    const recorded = (err as RenderError).recorded;
    expect(recorded.filter((x) => x.type === POOL || x.type === COMPONENT)).toHaveLength(0);
    expect(JSON.stringify(recorded)).not.toContain("pull-SECRET-value");
  });

  it("declares one pool per component, so pools per node type sit side by side", async () => {
    const r = await recordResources(() => {
      const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
      const workers = new WarmPool("pool-workers", { ...BASE, provider });
      const driver = new WarmPool("pool-driver", { ...BASE, poolName: "hydrology-e8ds-dev", nodeType: "Standard_E8ds_v5", availability: "ON_DEMAND_AZURE", maxCapacity: 2, minIdleInstances: 0, provider });
      return { workers: workers.poolId, driver: driver.poolId };
    });
    const pools = ofType(r, POOL);
    expect(pools.map((p) => p.inputs.nodeTypeId).sort()).toEqual(["Standard_D4ds_v5", "Standard_E8ds_v5"]);
    expect(new Set(pools.map((p) => p.inputs.instancePoolName)).size).toBe(2);
    expect(r.outputs).toEqual({ workers: "pool-workers-pool-id", driver: "pool-driver-pool-id" });
  });
});
