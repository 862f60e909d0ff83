import { describe, expect, it } from "vitest";
import { childName, imageTag, isDigestReference, isRegistryName, standardTags } from "../components/naming";

describe("registry names", () => {
  it.each([
    ["dcshydrodev", true],
    ["ABCDE", true],
    ["a".repeat(50), true],
    ["abcd", false],
    ["a".repeat(51), false],
    ["dcs-hydro", false],
    ["dcs_hydro", false],
  ])("%s -> %s", (name, ok) => expect(isRegistryName(name)).toBe(ok));
});

describe("image tags", () => {
  it("derive from runtime and hash, never latest", () => {
    const tag = imageTag("16.4-LTS", "3f2a9c1b7d0e55aa");
    expect(tag).toBe("16.4-lts-3f2a9c1b7d0e");
    expect(tag).not.toMatch(/latest/);
    expect(() => imageTag("16.4-LTS", "latest")).toThrow(/hex/);
  });

  it("recognises immutable digest references", () => {
    expect(isDigestReference(`dcshydrodev.azurecr.io/hydrology/dask@sha256:${"a".repeat(64)}`)).toBe(true);
    expect(isDigestReference("dcshydrodev.azurecr.io/hydrology/dask:latest")).toBe(false);
    expect(isDigestReference(`dcshydrodev.azurecr.io/hydrology/dask@sha256:${"a".repeat(63)}`)).toBe(false);
  });
});

describe("names and tags", () => {
  it("derives child names from the component name", () => expect(childName("registry", "acr")).toBe("registry-acr"));
  it("standard tags win over extra tags of the same name", () => {
    expect(standardTags({ environment: "dev", team: "hydrology", costCenter: "C1" }, { team: "other", project: "p" })).toEqual({
      project: "p",
      environment: "dev",
      team: "hydrology",
      costCenter: "C1",
      managedBy: "dcs-platform",
    });
  });
});
