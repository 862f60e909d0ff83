import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it } from "vitest";
import { baseImage, ClusterImage, IMAGE_PLATFORM, INLINE_CACHE_ARG, planImageBuild, projectRelative, type ClusterImageArgs } from "../components/clusterImage";
import { isDigestReference } from "../components/naming";
import { RenderError } from "../stacks/render/engine";
import { one, recordResources, TestResource } from "./helpers/record";

const IMAGE = "docker:index/image:Image";
const dirs: string[] = [];
function context(dockerfile = "ARG RUNTIME_TAG\nFROM databricksruntime/standard:${RUNTIME_TAG}\n"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-image-"));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, "Dockerfile"), dockerfile);
  fs.writeFileSync(path.join(dir, "requirements.txt"), "dask==2024.1.0\n");
  return dir;
}
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function declare(args: Partial<ClusterImageArgs> & { context: string }) {
  return () => {
    const image = new ClusterImage("image", { registryServer: "dcshydrodev.azurecr.io", runtime: "16.4-LTS", repository: "hydrology/dask", ...args });
    return { digestRef: image.digestRef, tag: image.tag, imageName: image.imageName };
  };
}

describe("ClusterImage", () => {
  it("builds for linux/amd64 with the runtime and label arguments and pushes under the content tag", async () => {
    const ctx = context();
    const root = path.dirname(ctx);
    const rel = path.basename(ctx);
    const plan = planImageBuild({ context: rel, projectRoot: root, runtime: "16.4-LTS", source: "https://example.org/repo" });
    const r = await recordResources(declare({ context: rel, projectRoot: root, source: "https://example.org/repo" }));
    const img = one(r, IMAGE);
    expect(img.inputs.imageName).toBe(`dcshydrodev.azurecr.io/hydrology/dask:${plan.tag}`);
    // Relative to the project, as the Docker provider resolves them from its working directory.
    expect(img.inputs.build).toEqual({
      context: rel,
      dockerfile: `${rel}/Dockerfile`,
      platform: IMAGE_PLATFORM,
      builderVersion: "BuilderBuildKit",
      args: {
        RUNTIME_TAG: "16.4-LTS",
        BASE_IMAGE: "databricksruntime/standard:16.4-LTS",
        IMAGE_SOURCE: "https://example.org/repo",
        IMAGE_REVISION: plan.contextHash,
        IMAGE_VERSION: plan.tag,
      },
    });
    expect(IMAGE_PLATFORM).toBe("linux/amd64");
    expect(img.inputs.skipPush).toBe(false);
    expect(plan.tag).toMatch(/^16\.4-lts-[0-9a-f]{12}$/);
    expect(r.outputs.tag).toBe(plan.tag);
    expect(isDigestReference(String(r.outputs.digestRef))).toBe(true);
    expect(String(r.outputs.digestRef)).toMatch(/^dcshydrodev\.azurecr\.io\/hydrology\/dask@sha256:/);
    expect(r.outputs.imageName).toBe(`dcshydrodev.azurecr.io/hydrology/dask:${plan.tag}`);
  });

  it("gives the engine the same paths and tag from any checkout path, and a changed build path only when the project's layout changes", () => {
    const a = context();
    const b = context();
    const planA = planImageBuild({ context: path.basename(a), projectRoot: path.dirname(a), runtime: "16.4-LTS" });
    const planB = planImageBuild({ context: b, projectRoot: path.dirname(b), runtime: "16.4-LTS" }); // absolute in, relative out
    expect(planB.context).toBe(path.basename(b));
    expect(planA.tag).toBe(planB.tag);
    expect(projectRelative("/p/infra/image", "/p")).toBe("infra/image");
    expect(projectRelative("infra/image/", "/p")).toBe("infra/image");
  });

  it("pins the base by digest when asked, and the digest moves the tag", () => {
    const ctx = context();
    const digest = `sha256:${"c".repeat(64)}`;
    const plain = planImageBuild({ context: ctx, runtime: "16.4-LTS" });
    const pinned = planImageBuild({ context: ctx, runtime: "16.4-LTS", baseDigest: digest });
    expect(pinned.buildArgs.BASE_IMAGE).toBe(`databricksruntime/standard:16.4-LTS@${digest}`);
    expect(baseImage("16.4-LTS")).toBe("databricksruntime/standard:16.4-LTS");
    expect(pinned.tag).not.toBe(plain.tag);
  });

  it("builds from the base imported into the registry, reusing the registry's inline build cache", async () => {
    const ctx = context();
    const r = await recordResources(declare({ context: ctx, baseRegistry: "dcshydrodev.azurecr.io", cacheFrom: "dcshydrodev.azurecr.io/hydrology/dask:buildcache" }));
    const build = one(r, IMAGE).inputs.build as Record<string, unknown>;
    expect(build.cacheFrom).toEqual({ images: ["dcshydrodev.azurecr.io/hydrology/dask:buildcache"] });
    expect(build.args).toMatchObject({ BASE_IMAGE: "dcshydrodev.azurecr.io/databricksruntime/standard:16.4-LTS", ...INLINE_CACHE_ARG });
    // Where the base comes from is part of the tag; the cache setting is not.
    const hub = planImageBuild({ context: ctx, runtime: "16.4-LTS" });
    const imported = planImageBuild({ context: ctx, runtime: "16.4-LTS", baseRegistry: "dcshydrodev.azurecr.io" });
    expect(imported.tag).not.toBe(hub.tag);
    expect(imported.buildArgs).not.toHaveProperty("BUILDKIT_INLINE_CACHE");
    const plain = await recordResources(declare({ context: ctx }));
    expect((one(plain, IMAGE).inputs.build as Record<string, unknown>).cacheFrom).toBeUndefined();
  });

  it("waits for what it is told to (the AcrPush grant) before building", async () => {
    const r = await recordResources(() => {
      const gate = new TestResource("test:index:Gate", "gate");
      const image = new ClusterImage("image", { registryServer: "r.azurecr.io", runtime: "16.4-LTS", context: context(), dependsOn: [gate] });
      return { tag: image.tag };
    });
    expect(one(r, IMAGE).dependencies).toContain(one(r, "test:index:Gate").urn);
  });

  it("keeps its tag for an unchanged context and gets a new one when the context changes", () => {
    const ctx = context();
    const first = planImageBuild({ context: ctx, runtime: "16.4-LTS" }).tag;
    expect(planImageBuild({ context: ctx, runtime: "16.4-LTS" }).tag).toBe(first);
    fs.appendFileSync(path.join(ctx, "requirements.txt"), "zarr==2.18.3\n");
    const second = planImageBuild({ context: ctx, runtime: "16.4-LTS" }).tag;
    expect(second).not.toBe(first);
    expect(planImageBuild({ context: ctx, runtime: "15.4-LTS" }).tag).toMatch(/^15\.4-lts-/);
  });

  it("pushes with the given credentials, the password kept secret", async () => {
    const r = await recordResources(declare({ context: context(), credentials: { username: "push-sp", password: pulumi.secret("hunter2-push") } }));
    const img = one(r, IMAGE);
    expect(img.secretInputs).toContain("registry");
    // The password is not a known config secret here, so the whole block is masked.
    expect(img.inputs.registry).toBe("[secret]");
    expect(JSON.stringify(r)).not.toContain("hunter2-push");
  });

  it("uses the runner's Docker credentials when none are given", async () => {
    const r = await recordResources(declare({ context: context() }));
    expect(one(r, IMAGE).inputs.registry).toBeUndefined();
  });

  it("refuses a context without a Dockerfile", async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-empty-"));
    dirs.push(empty);
    const err = await recordResources(declare({ context: empty })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as Error).message).toMatch(/no Dockerfile/);
  });

  it("a GPU image builds on NVIDIA's CUDA base with the CUDA and Python arguments; extra build arguments move the tag; a CPU image's arguments are what they were", async () => {
    const ctx = context();
    const root = path.dirname(ctx);
    const rel = path.basename(ctx);
    const cpu = planImageBuild({ context: rel, projectRoot: root, runtime: "16.4-LTS" });
    expect(Object.keys(cpu.buildArgs)).toEqual(["RUNTIME_TAG", "BASE_IMAGE", "IMAGE_SOURCE", "IMAGE_REVISION", "IMAGE_VERSION"]);
    const gpuArgs = { context: rel, projectRoot: root, runtime: "16.4-LTS", base: "nvidia/cuda:12.6.3-runtime-ubuntu24.04", gpu: { cuda: "12.6.3", python: "3.12" } };
    const gpu = planImageBuild(gpuArgs);
    expect(gpu.buildArgs).toMatchObject({ BASE_IMAGE: "nvidia/cuda:12.6.3-runtime-ubuntu24.04", CUDA_VERSION: "12.6.3", PYTHON_VERSION: "3.12", RUNTIME_TAG: "16.4-LTS" });
    expect(gpu.tag).not.toBe(cpu.tag);
    expect(planImageBuild({ ...gpuArgs, baseRegistry: "dcshydrodev.azurecr.io", baseDigest: `sha256:${"c".repeat(64)}` }).buildArgs.BASE_IMAGE).toBe(`dcshydrodev.azurecr.io/nvidia/cuda:12.6.3-runtime-ubuntu24.04@sha256:${"c".repeat(64)}`);
    expect(planImageBuild({ ...gpuArgs, gpu: { cuda: "12.8.1", python: "3.12" } }).tag).not.toBe(gpu.tag);
    const extra = planImageBuild({ ...gpuArgs, buildArgs: { TORCH_INDEX_URL: "https://mirror.example.org/whl" } });
    expect(extra.buildArgs.TORCH_INDEX_URL).toBe("https://mirror.example.org/whl");
    expect(extra.tag).not.toBe(gpu.tag);
    const r = await recordResources(declare({ ...gpuArgs, repository: "hydrology/dask-gpu" }));
    expect(one(r, IMAGE).inputs.imageName).toBe(`dcshydrodev.azurecr.io/hydrology/dask-gpu:${gpu.tag}`);
    await expect(recordResources(declare({ context: rel, projectRoot: root, buildArgs: { BASE_IMAGE: "ubuntu:24.04" } }))).rejects.toThrow(/build arguments BASE_IMAGE are set by the component/);
  });
});
