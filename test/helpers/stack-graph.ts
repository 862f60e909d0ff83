/**
 * Assertions shared by the per-stack tests: the whole resource graph of a
 * rendered stack file, checked the same way for every environment.
 */
import * as path from "node:path";
import { expect } from "vitest";
import { isDigestReference } from "../../components/naming";
import { readInitScripts } from "../../components/initScripts";
import type { Rendering } from "../../stacks/render/engine";
import { FAKE_SECRETS, input, one, ofType, providerUrn, ROOT } from "./record";

export const STACK_OUTPUTS = ["clusterId", "clusterUrl", "containerServicesManaged", "imageRef", "imageTag", "initScriptDestinations", "registryLoginServer"];

const UPLOAD_TYPES = ["databricks:index/workspaceFile:WorkspaceFile", "databricks:index/file:File", "databricks:index/dbfsFile:DbfsFile"];

/** Checks every invariant a stack must hold, whatever its environment. */
export function expectSoundGraph(r: Rendering): void {
  // Outputs: all present, none empty.
  expect(Object.keys(r.outputs).sort()).toEqual(STACK_OUTPUTS);
  for (const key of STACK_OUTPUTS) expect(r.outputs[key], key).not.toBeUndefined();

  // The image: built from infra/image for linux/amd64, pushed to the stack's own registry.
  const registry = one(r, "azure-native:containerregistry:Registry");
  const image = one(r, "docker:index/image:Image");
  expect(input(image, "build.context")).toBe(path.join(ROOT, "infra", "image"));
  expect(input(image, "build.platform")).toBe("linux/amd64");
  expect(String(image.inputs.imageName)).toBe(`${String(r.outputs.registryLoginServer)}/hydrology/dask:${String(r.outputs.imageTag)}`);
  expect(image.dependencies).toContain(registry.urn);
  expect(r.outputs.registryLoginServer).toBe(`${String(registry.inputs.registryName)}.azurecr.io`);

  // The cluster boots from the pushed image's digest reference.
  const cluster = one(r, "databricks:index/cluster:Cluster");
  const url = input(cluster, "dockerImage.url");
  expect(url).toBe(r.outputs.imageRef);
  expect(isDigestReference(String(url))).toBe(true);
  expect(String(url).startsWith(`${String(r.outputs.registryLoginServer)}/`)).toBe(true);
  expect(cluster.dependencies).toContain(image.urn);
  expect(cluster.inputs.dataSecurityMode).toBe("SINGLE_USER");

  // Its init scripts are the uploaded files, every *.sh of infra/init-scripts.
  const uploads = r.resources.filter((x) => UPLOAD_TYPES.includes(x.type));
  const scripts = readInitScripts(path.join(ROOT, "infra", "init-scripts"));
  expect(uploads).toHaveLength(scripts.length);
  const blocks = cluster.inputs.initScripts as Record<string, { destination: string }>[];
  const destinations = blocks.map((b) => Object.values(b)[0].destination);
  expect(destinations).toEqual(r.outputs.initScriptDestinations);
  expect(destinations.map((d) => path.posix.basename(d))).toEqual(scripts.map((s) => s.fileName));
  for (const upload of uploads) {
    expect(destinations.some((d) => d.endsWith(String(upload.inputs.path)))).toBe(true);
    expect(cluster.dependencies).toContain(upload.urn);
  }

  // Dask settings reach the init script.
  expect(input(cluster, "sparkEnvVars.DCS_DASK_SCHEDULER_PORT")).toMatch(/^\d+$/);

  // Every Databricks resource goes through the one workspace provider.
  const workspace = one(r, "pulumi:providers:databricks");
  for (const res of r.resources.filter((x) => x.type.startsWith("databricks:"))) expect(providerUrn(res), res.name).toBe(workspace.urn);

  // The toggle exists only where managed, and then it is kept on delete and gates the cluster.
  const toggles = ofType(r, "databricks:index/workspaceConf:WorkspaceConf");
  expect(toggles).toHaveLength(r.outputs.containerServicesManaged ? 1 : 0);
  for (const t of toggles) {
    expect(t.inputs.customConfig).toEqual({ enableDcs: "true" });
    expect(t.retainOnDelete).toBe(true);
    expect(cluster.dependencies).toContain(t.urn);
  }

  // Cost tags on everything that takes tags.
  for (const res of [registry, ...ofType(r, "azure-native:resources:ResourceGroup")]) {
    expect(res.inputs.tags).toMatchObject({ environment: expect.any(String), team: expect.any(String), costCenter: expect.any(String), managedBy: "dcs-platform" });
  }
  expect(cluster.inputs.customTags).toMatchObject({ environment: expect.any(String), team: expect.any(String), costCenter: expect.any(String) });

  // Secrets: no fake secret value anywhere, and the pull password masked or a reference.
  const text = JSON.stringify(r);
  for (const secret of Object.values(FAKE_SECRETS)) expect(text).not.toContain(secret);
  const password = input(cluster, "dockerImage.basicAuth.password");
  expect(password === "[secret]" || /^\{\{secrets\/[^}]+\}\}$/.test(String(password))).toBe(true);
}
