import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as databricks from "@pulumi/databricks";
import { afterEach, describe, expect, it } from "vitest";
import { DBFS_DEPRECATION, defaultInitScriptFolder, InitScripts, MAX_INIT_SCRIPTS, planInitScripts, readInitScripts, type InitScriptStore } from "../components/initScripts";
import { RenderError } from "../stacks/render/engine";
import { one, providerUrn, recordResources } from "./helpers/record";

const dirs: string[] = [];
function scriptsDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcs-scripts-"));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
  return dir;
}
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function declare(store: InitScriptStore, folder: string, dir: string) {
  return () => {
    const provider = new databricks.Provider("ws", { host: "https://adb-1.1.azuredatabricks.net" });
    const scripts = new InitScripts("init-scripts", { store, folder, dir, provider });
    return { destinations: scripts.destinations, blocks: scripts.blocks };
  };
}

describe("planning", () => {
  const files = [{ fileName: "a.sh", contentBase64: "" }, { fileName: "b.sh", contentBase64: "" }];

  it("maps each store to its resource path and cluster block", () => {
    expect(planInitScripts("dbfs", "dbfs:/dcs/dev/init-scripts/", files).map((p) => [p.uploadPath, p.block])).toEqual([
      ["/dcs/dev/init-scripts/a.sh", { dbfs: { destination: "dbfs:/dcs/dev/init-scripts/a.sh" } }],
      ["/dcs/dev/init-scripts/b.sh", { dbfs: { destination: "dbfs:/dcs/dev/init-scripts/b.sh" } }],
    ]);
    expect(planInitScripts("workspace", "/Shared/dcs/dev", files)[0].block).toEqual({ workspace: { destination: "/Shared/dcs/dev/a.sh" } });
    expect(planInitScripts("volumes", "/Volumes/main/dcs/scripts", files)[1].block).toEqual({ volumes: { destination: "/Volumes/main/dcs/scripts/b.sh" } });
  });

  it("rejects folders of the wrong store, no scripts, and more than a cluster accepts", () => {
    expect(() => planInitScripts("dbfs", "/dcs", files)).toThrow(/dbfs:\//);
    expect(() => planInitScripts("volumes", "/Shared/x", files)).toThrow(/\/Volumes\//);
    expect(() => planInitScripts("workspace", "Shared/x", files)).toThrow(/absolute/);
    expect(() => planInitScripts("workspace", "/Shared/x", [])).toThrow(/no \*\.sh/);
    const eleven = Array.from({ length: MAX_INIT_SCRIPTS + 1 }, (_, i) => ({ fileName: `s${i}.sh`, contentBase64: "" }));
    expect(() => planInitScripts("workspace", "/Shared/x", eleven)).toThrow(/at most 10/);
  });

  it("reads only *.sh files, in name order", () => {
    const dir = scriptsDir({ "b.sh": "echo b\n", "a.sh": "echo a\n", "README.md": "docs" });
    expect(readInitScripts(dir).map((f) => [f.fileName, Buffer.from(f.contentBase64, "base64").toString()])).toEqual([
      ["a.sh", "echo a\n"],
      ["b.sh", "echo b\n"],
    ]);
  });

  it("has a default folder per store, none for volumes", () => {
    expect(defaultInitScriptFolder("workspace", "dev")).toBe("/Shared/dcs/dev/init-scripts");
    expect(defaultInitScriptFolder("dbfs", "dev")).toBe("dbfs:/dcs/dev/init-scripts");
    expect(defaultInitScriptFolder("volumes", "dev")).toBeUndefined();
  });
});

describe("InitScripts", () => {
  it.each([
    ["workspace", "/Shared/dcs/t", "databricks:index/workspaceFile:WorkspaceFile", "/Shared/dcs/t/dask.sh"],
    ["volumes", "/Volumes/main/dcs/scripts", "databricks:index/file:File", "/Volumes/main/dcs/scripts/dask.sh"],
    ["dbfs", "dbfs:/dcs/t", "databricks:index/dbfsFile:DbfsFile", "/dcs/t/dask.sh"],
  ] as const)("uploads to %s through the workspace provider", async (store, folder, type, uploadPath) => {
    const body = "#!/bin/bash\necho dask\n";
    const r = await recordResources(declare(store, folder, scriptsDir({ "dask.sh": body })));
    const upload = one(r, type);
    expect(upload.inputs.path).toBe(uploadPath);
    expect(upload.inputs.contentBase64).toMatch(/^sha256:[0-9a-f]{64} \(22 bytes\)$/);
    expect(providerUrn(upload)).toBe(one(r, "pulumi:providers:databricks").urn);
    expect(r.outputs.destinations).toEqual([`${folder}/dask.sh`]);
  });

  it("warns that DBFS is deprecated and says how to switch, only for DBFS", async () => {
    const dbfs = await recordResources(declare("dbfs", "dbfs:/dcs/t", scriptsDir({ "a.sh": "echo\n" })));
    expect(dbfs.warnings).toContain(DBFS_DEPRECATION);
    expect(DBFS_DEPRECATION).toMatch(/deprecated/);
    expect(DBFS_DEPRECATION).toMatch(/dcs:initScripts\.store workspace/);
    const ws = await recordResources(declare("workspace", "/Shared/t", scriptsDir({ "a.sh": "echo\n" })));
    expect(ws.warnings).toEqual([]);
  });

  it("changes the upload's content when the script changes", async () => {
    const dir = scriptsDir({ "a.sh": "echo one\n" });
    const before = one(await recordResources(declare("workspace", "/Shared/t", dir)), "databricks:index/workspaceFile:WorkspaceFile");
    fs.writeFileSync(path.join(dir, "a.sh"), "echo two\n");
    const after = one(await recordResources(declare("workspace", "/Shared/t", dir)), "databricks:index/workspaceFile:WorkspaceFile");
    expect(after.inputs.path).toBe(before.inputs.path);
    expect(after.inputs.contentBase64).not.toBe(before.inputs.contentBase64);
  });

  it("declares nothing when the folder has no scripts", async () => {
    const err = await recordResources(declare("workspace", "/Shared/t", scriptsDir({ "notes.txt": "x" }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as Error).message).toMatch(/InitScripts "init-scripts": no \*\.sh/);
    expect((err as RenderError).recorded.map((x) => x.type)).not.toContain("dcs:index:InitScripts");
  });
});
