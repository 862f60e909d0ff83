import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { childName, hashBuildContext, imageTag, isDigestReference, isRegistryName, listFiles, standardTags } from "../components/naming";

const dirs: string[] = [];
function tempContext(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-ctx-"));
  dirs.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

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

describe("build context hash", () => {
  it("is stable for the same files and build arguments", () => {
    const a = tempContext({ Dockerfile: "FROM x\n", "req/requirements.txt": "dask==1\n" });
    const b = tempContext({ "req/requirements.txt": "dask==1\n", Dockerfile: "FROM x\n" });
    expect(hashBuildContext(a, { RUNTIME_TAG: "16.4-LTS" })).toBe(hashBuildContext(b, { RUNTIME_TAG: "16.4-LTS" }));
  });

  it("changes when a file's content, a file name, the exec bit or a build argument changes", () => {
    const dir = tempContext({ Dockerfile: "FROM x\n", "requirements.txt": "dask==1\n" });
    const base = hashBuildContext(dir, { RUNTIME_TAG: "16.4-LTS" });
    expect(hashBuildContext(dir, { RUNTIME_TAG: "15.4-LTS" })).not.toBe(base);
    fs.chmodSync(path.join(dir, "Dockerfile"), 0o755);
    const withExec = hashBuildContext(dir, { RUNTIME_TAG: "16.4-LTS" });
    expect(withExec).not.toBe(base);
    fs.writeFileSync(path.join(dir, "requirements.txt"), "dask==2\n");
    expect(hashBuildContext(dir, { RUNTIME_TAG: "16.4-LTS" })).not.toBe(withExec);
    fs.renameSync(path.join(dir, "requirements.txt"), path.join(dir, "reqs.txt"));
    expect(listFiles(dir)).toEqual(["Dockerfile", "reqs.txt"]);
  });
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
