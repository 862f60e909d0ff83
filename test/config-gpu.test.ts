/**
 * Several images and GPU clusters in a stack's configuration: every refusal
 * names its key before anything is created (issue: GPU clusters on a GPU
 * image of their own). Each case mutates the committed dev stack, which
 * already declares a GPU image, a GPU pool and a single-node GPU cluster.
 */
import { describe, expect, it } from "vitest";
import { secretKeysNeeded } from "../stacks/config";
import { devWithSecret, parse, parseTeam, problemsOf, type Raw } from "./helpers/config";

/** The committed dev stack with a change, parsed; its problems, or [] when it parses. */
function problemsWith(mutate: (r: Raw) => void, secretKeys?: string[]): { key: string; message: string }[] {
  const raw = devWithSecret();
  mutate(raw);
  try {
    parse(raw, "dev", secretKeys);
    return [];
  } catch {
    return problemsOf(() => parse(raw, "dev", secretKeys));
  }
}

describe("the images of a stack", () => {
  it("dev: the default image from dcs:image and the GPU image from dcs:images, each in its own repository, with the runtime's driver figure", () => {
    const c = parseTeam(devWithSecret());
    expect(Object.keys(c.images)).toEqual(["default", "gpu"]);
    expect(c.images.default).toMatchObject({ repository: "hydrology/dask", context: "infra/image", runtime: "16.4-LTS" });
    expect(c.images.default.gpu).toBeUndefined();
    expect(c.images.gpu).toMatchObject({ repository: "hydrology/dask-gpu", context: "infra/image-gpu", gpu: { cuda: "12.6.3", ubuntu: "24.04", driver: "535.54.03" } });
    expect(c.clusters.dask.image).toBe("default");
    expect(c.clusters.gpu).toMatchObject({ image: "gpu", singleNode: true, numWorkers: undefined, spot: false });
    expect(c.pools.gpu.image).toBe("gpu");
    expect(c.jobs.smoke.image).toBe("default");
    // CUDA 12.6 on the 535 driver runs through minor version compatibility: said at every preview.
    expect(c.warnings).toEqual([{ key: "dcs:images.gpu.gpu.cuda", message: expect.stringMatching(/CUDA 12\.6\.3 has every feature from driver 560\.28\.03.*535\.54\.03.*minor version compatibility/) }]);
  });

  it("a stack that sets nothing new keeps one image, named default, booted by every cluster", () => {
    const raw = devWithSecret();
    delete raw.images;
    delete raw.pools;
    delete raw.clusters.gpu;
    const c = parseTeam(raw);
    expect(Object.keys(c.images)).toEqual(["default"]);
    expect(c.clusters.dask.image).toBe("default");
    expect(c.warnings).toEqual([]);
  });

  it("a driver figure from config replaces the runtime's: a CUDA 13 image on a 580 driver, without a warning", () => {
    const raw = devWithSecret();
    raw.images.gpu.gpu = { cuda: "13.0.1", ubuntu: "24.04", driver: "580.65.06" };
    const c = parseTeam(raw);
    expect(c.images.gpu.gpu).toEqual({ cuda: "13.0.1", ubuntu: "24.04", driver: "580.65.06", python: "3.12" });
    expect(c.warnings).toEqual([]);
  });

  it("a runtime the program has no figures for takes the driver and the Python from config", () => {
    const raw = devWithSecret();
    raw.images.gpu.runtime = "17.3-LTS";
    raw.images.gpu.gpu = { cuda: "12.6.3", driver: "570.86.15", python: "3.12" };
    raw.clusters.gpu.sparkVersion = "17.3.x-scala2.12";
    expect(parseTeam(raw).images.gpu.gpu).toEqual({ cuda: "12.6.3", ubuntu: "24.04", driver: "570.86.15", python: "3.12" });
    expect(parseTeam(devWithSecret()).images.gpu.gpu).toEqual({ cuda: "12.6.3", ubuntu: "24.04", driver: "535.54.03", python: "3.12" });
  });

  it("asks for the image's own pull secret only when it has its own identity without a reference", () => {
    const values = (r: Raw) => Object.fromEntries(Object.entries(r).map(([k, v]) => [`dcs:${k}`, v]));
    const raw = devWithSecret();
    expect(secretKeysNeeded(values(raw))).toEqual(["pullClientSecret"]);
    raw.images.gpu.pullIdentity = { clientId: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", objectId: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f" };
    expect(secretKeysNeeded(values(raw))).toEqual(["pullClientSecret", "imagePullSecrets"]);
    raw.images.gpu.pullIdentity.secretReference = "{{secrets/gpu-team/acr-pull}}";
    expect(secretKeysNeeded(values(raw))).toEqual(["pullClientSecret"]);
  });
});

type Case = [title: string, mutate: (r: Raw) => void, key: string, message: RegExp, secretKeys?: string[]];

const T4 = "Standard_NC4as_T4_v3";
const CPU = "Standard_D4ds_v5";

const cases: Case[] = [
  // Rule 3 of the issue: GPU clusters that Databricks will start.
  ["a GPU image on a CPU node type", (r) => (r.clusters.dask.image = "gpu"), "dcs:clusters.dask.nodeType", /Standard_D4ds_v5 has no GPU, and image gpu is a GPU image \(dcs:images\.gpu\.gpu\)/],
  ["a CPU image on a GPU node type", (r) => (r.clusters.dask.nodeType = T4), "dcs:clusters.dask.image", /Standard_NC4as_T4_v3 is a GPU size, and image default has no CUDA/],
  ["a CPU image on a GPU driver node type", (r) => (r.clusters.dask.driverNodeType = "Standard_NC24ads_A100_v4"), "dcs:clusters.dask.image", /Standard_NC24ads_A100_v4 is a GPU size/],
  ["an ML runtime key on a GPU cluster", (r) => (r.clusters.gpu.sparkVersion = "16.4.x-cpu-ml-scala2.12"), "dcs:clusters.gpu.sparkVersion", /ML runtimes do not support custom containers/],
  ["a gpu-ml runtime key on a GPU cluster", (r) => (r.clusters.gpu.sparkVersion = "16.4.x-gpu-ml-scala2.12"), "dcs:clusters.gpu.sparkVersion", /ML runtimes do not support custom containers/],
  ["Photon on a GPU node", (r) => (r.clusters.gpu.sparkVersion = "16.4.x-photon-scala2.12"), "dcs:clusters.gpu.sparkVersion", /runs Photon, which does not run on GPU nodes.*16\.4\.x-scala2\.12/],
  ["a CUDA newer than the runtime's driver runs", (r) => (r.images.gpu.gpu.cuda = "13.0.1"), "dcs:images.gpu.gpu.cuda", /CUDA 13\.0\.1 needs NVIDIA driver 580 or newer, and the runtime's GPU nodes run 535\.54\.03/],
  ["a CUDA newer than a configured driver runs", (r) => (r.images.gpu.gpu.driver = "470.82.01"), "dcs:images.gpu.gpu.cuda", /CUDA 12\.6\.3 needs NVIDIA driver 525\.60\.13 or newer.*470\.82\.01/],
  ["a runtime without a driver figure", (r) => { r.images.gpu.runtime = "17.3-LTS"; r.clusters.gpu.sparkVersion = "17.3.x-scala2.12"; }, "dcs:images.gpu.gpu.driver", /knows no NVIDIA driver figure for runtime 17\.3-LTS/],
  ["a runtime without a Python figure", (r) => { r.images.gpu.runtime = "17.3-LTS"; r.clusters.gpu.sparkVersion = "17.3.x-scala2.12"; }, "dcs:images.gpu.gpu.python", /knows no Python figure for runtime 17\.3-LTS/],
  ["a Python version that is no version", (r) => (r.images.gpu.gpu.python = "three"), "dcs:images.gpu.gpu.python", /Python version such as 3\.12/],
  ["a cluster runtime that is not its image's", (r) => (r.clusters.gpu.sparkVersion = "15.4.x-scala2.12"), "dcs:clusters.gpu.sparkVersion", /does not match the image gpu built on 16\.4-LTS \(dcs:images\.gpu\.runtime\)/],
  ["a CUDA release that is no release", (r) => (r.images.gpu.gpu.cuda = "12.6"), "dcs:images.gpu.gpu.cuda", /CUDA release such as 12\.6\.3/],
  ["a driver figure that is no version", (r) => (r.images.gpu.gpu.driver = "latest"), "dcs:images.gpu.gpu.driver", /driver version such as/],
  ["a retired NC v3 size", (r) => (r.pools.gpu.nodeType = "Standard_NC6s_v3"), "dcs:pools.gpu.nodeType", /Standard_NC6s_v3: NC v3 sizes are no longer offered/],
  ["a fraction of an A10", (r) => (r.pools.gpu.nodeType = "Standard_NV12ads_A10_v5"), "dcs:pools.gpu.nodeType", /fraction of an A10/],
  ["a first-generation NC size", (r) => (r.pools.gpu.nodeType = "Standard_NC6"), "dcs:pools.gpu.nodeType", /retired/],
  // Pools and jobs pick images by name, under the same rules.
  ["a GPU pool on a CPU node type", (r) => (r.pools.gpu.nodeType = CPU), "dcs:pools.gpu.nodeType", /Standard_D4ds_v5 has no GPU, and image gpu is a GPU image/],
  ["a GPU cluster drawing from a CPU pool", (r) => { r.pools.cpu = { nodeType: CPU, image: "gpu" }; r.clusters.gpu.pool = { workers: "cpu" }; }, "dcs:clusters.gpu.pool", /Standard_D4ds_v5 has no GPU/],
  ["a CPU pool image on a GPU node type", (r) => (r.pools.gpu.image = "default"), "dcs:pools.gpu.image", /Standard_NC4as_T4_v3 is a GPU size, and image default has no CUDA/],
  ["a cluster booting another image than its pool preloads", (r) => { r.pools.warm = { nodeType: CPU }; r.clusters.dask.pool = { workers: "warm" }; delete r.clusters.dask.nodeType; r.clusters.dask.image = "gpu"; }, "dcs:clusters.dask.image", /is gpu, but pool warm preloads image default \(dcs:pools\.warm\.image\)/],
  ["a GPU job on a CPU node type", (r) => { r.jobs.smoke.image = "gpu"; r.jobs.smoke.nodeType = CPU; }, "dcs:jobs.smoke.nodeType", /Standard_D4ds_v5 has no GPU, and image gpu is a GPU image/],
  ["a CPU job on the GPU pool", (r) => (r.jobs.smoke.pool = { workers: "gpu" }), "dcs:jobs.smoke.image", /is default, but pool gpu preloads image gpu/],
  ["an image name nobody declared", (r) => (r.clusters.dask.image = "cuda"), "dcs:clusters.dask.image", /names no image: default, gpu/],
  ["a pool naming no image", (r) => (r.pools.gpu.image = "cuda"), "dcs:pools.gpu.image", /names no image/],
  ["a job naming no image", (r) => (r.jobs.smoke.image = "cuda"), "dcs:jobs.smoke.image", /names no image/],
  // The images themselves.
  ["an image named default in dcs:images", (r) => (r.images.default = { ...r.images.gpu, repository: "hydrology/other" }), "dcs:images.default", /declared by dcs:image/],
  ["two images in one repository", (r) => (r.images.gpu.repository = "hydrology/dask"), "dcs:images.gpu.repository", /hydrology\/dask is already the repository of image default/],
  ["an image without a build context", (r) => delete r.images.gpu.context, "dcs:images.gpu.context", /required/],
  ["a build argument the program sets", (r) => (r.images.gpu.buildArgs = { BASE_IMAGE: "ubuntu:24.04" }), "dcs:images.gpu.buildArgs.BASE_IMAGE", /set by the program/],
  ["a push setting on a named image", (r) => (r.images.gpu.push = { mode: "adminUser" }), "dcs:images.gpu.push", /not a configuration key/],
  ["an image name that is not short", (r) => (r.images.GPU_Image = r.images.gpu), "dcs:images.GPU_Image", /names are short, lower-case/],
  // Single-node clusters.
  ["a single-node cluster with workers", (r) => (r.clusters.gpu.numWorkers = 2), "dcs:clusters.gpu.singleNode", /has no workers: remove dcs:clusters\.gpu\.numWorkers/],
  ["a single-node cluster with a driver pool", (r) => (r.clusters.gpu.pool = { workers: "gpu", driver: "gpu" }), "dcs:clusters.gpu.pool.driver", /has only a driver/],
  ["a single-node cluster on spot", (r) => { delete r.clusters.gpu.pool; r.clusters.gpu.nodeType = T4; r.clusters.gpu.spot = true; }, "dcs:clusters.gpu.spot", /all driver, and a driver never runs on spot/],
  // An image's own pull identity.
  ["an own pull identity without its secret", (r) => (r.images.gpu.pullIdentity = { clientId: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", objectId: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f" }), "dcs:imagePullSecrets.gpu", /pulumi config set --secret --path 'dcs:imagePullSecrets\.gpu'/],
  ["a pull secret for an image without its own identity", (r) => (r.imagePullSecrets = { gpu: "s" }), "dcs:imagePullSecrets.gpu", /no pull identity of its own/, ["dcs:pullClientSecret", "dcs:imagePullSecrets"]],
  ["an image's pull secret in plain text", (r) => { r.images.gpu.pullIdentity = { clientId: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", objectId: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f" }; r.imagePullSecrets = { gpu: "s" }; }, "dcs:imagePullSecrets", /plain text/],
  ["an own identity beside a stack secret kept elsewhere", (r) => { r.pullIdentity.secretReference = "{{secrets/dcs/pull}}"; delete r.pullClientSecret; r.images.gpu.pullIdentity = { clientId: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", objectId: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f" }; }, "dcs:images.gpu.pullIdentity.secretReference", /declares no secret scope/],
];

describe("refused before anything is created, naming the key", () => {
  it.each(cases)("%s", (_title, mutate, key, message, secretKeys) => {
    const problems = problemsWith(mutate, secretKeys);
    const hit = problems.find((p) => p.key === key && message.test(p.message));
    expect(hit, `no problem for ${key} matching ${message}; got ${JSON.stringify(problems)}`).toBeDefined();
  });

  it("a broken dcs:images reports its own problem, not every cluster that names one of its images", () => {
    const problems = problemsWith((r) => (r.images.gpu.repository = "Not A Repository"));
    expect(problems.map((p) => p.key)).toEqual(["dcs:images.gpu.repository"]);
  });

  it("the committed dev stack itself has no problem", () => {
    expect(problemsWith(() => undefined)).toEqual([]);
  });
});
