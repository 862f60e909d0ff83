/**
 * The GPU facts the config rules, the components and the policy pack share
 * (components/gpu.ts): node families, version order, what a CUDA needs of the
 * driver, and what a cluster on a GPU image tells its init script.
 */
import { describe, expect, it } from "vitest";
import { compareVersions, compatibleDriverFloor, cudaBaseImage, cudaDriverNote, cudaDriverProblem, gpuEnvVars, isGpuNodeType, isPhotonRuntime, minDriverFor, unofferedGpuSizeReason } from "../components/gpu";

describe("GPU facts", () => {
  it("knows Azure's GPU families (NC, ND, NV) from every other size", () => {
    for (const gpu of ["Standard_NC4as_T4_v3", "Standard_NC24ads_A100_v4", "Standard_NC40ads_H100_v5", "Standard_ND96asr_v4", "Standard_NV36ads_A10_v5", "Standard_NC6"]) expect(isGpuNodeType(gpu), gpu).toBe(true);
    for (const cpu of ["Standard_D4ds_v5", "Standard_E8ds_v5", "Standard_F4s", "Standard_DS3_v2", "Standard_NP10s", "Standard_L8s_v3", "Standard_M8ms"]) expect(isGpuNodeType(cpu), cpu).toBe(false);
  });

  it("knows which GPU sizes Azure Databricks does not offer", () => {
    for (const offered of ["Standard_NC4as_T4_v3", "Standard_NC64as_T4_v3", "Standard_NC24ads_A100_v4", "Standard_NC40ads_H100_v5", "Standard_ND96asr_v4", "Standard_NV36ads_A10_v5", "Standard_NV72ads_A10_v5"]) expect(unofferedGpuSizeReason(offered), offered).toBeUndefined();
    for (const gone of ["Standard_NC6s_v3", "Standard_NC24rs_v3", "Standard_NC6", "Standard_NV12s_v2", "Standard_NV6ads_A10_v5", "Standard_NV18ads_A10_v5"]) expect(unofferedGpuSizeReason(gone), gone).toBeDefined();
  });

  it("orders driver versions by number, not by text", () => {
    expect(compareVersions("535.54.03", "525.60.13")).toBeGreaterThan(0);
    expect(compareVersions("580", "575.51.03")).toBeGreaterThan(0);
    expect(compareVersions("99.1", "100.0")).toBeLessThan(0); // as text, "99.1" > "100.0"
    expect(compareVersions("550.54.14", "550.54.14")).toBe(0);
  });

  it("lets a driver run every CUDA of the major releases it reaches, and notes when only through minor version compatibility", () => {
    expect(compatibleDriverFloor("12.6.3")).toBe("525.60.13");
    expect(minDriverFor("12.6.3")).toBe("560.28.03");
    expect(cudaDriverProblem("12.2.2", "535.54.03")).toBeUndefined();
    expect(cudaDriverNote("12.2.2", "535.54.03")).toBeUndefined();
    expect(cudaDriverProblem("12.6.3", "535.54.03")).toBeUndefined();
    expect(cudaDriverNote("12.6.3", "535.54.03")).toMatch(/every feature from driver 560\.28\.03.*minor version compatibility/);
    expect(cudaDriverProblem("13.0.1", "535.54.03")).toMatch(/needs NVIDIA driver 580 or newer/);
    expect(cudaDriverProblem("12.6.3", "520.61.05")).toMatch(/needs NVIDIA driver 525\.60\.13 or newer/);
    expect(cudaDriverProblem("10.2.89", "535.54.03")).toMatch(/not a release the program knows/);
  });

  it("tells the init script the image's CUDA and the lowest driver that runs it; names NVIDIA's runtime base", () => {
    expect(gpuEnvVars("12.6.3")).toEqual({ DCS_CUDA_VERSION: "12.6.3", DCS_CUDA_MIN_DRIVER: "525.60.13" });
    expect(cudaBaseImage("12.6.3", "24.04")).toBe("nvidia/cuda:12.6.3-runtime-ubuntu24.04");
  });

  it("recognises Photon runtime keys", () => {
    expect(isPhotonRuntime("16.4.x-photon-scala2.12")).toBe(true);
    expect(isPhotonRuntime("16.4.x-scala2.12")).toBe(false);
  });
});
