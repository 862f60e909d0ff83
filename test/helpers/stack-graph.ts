/**
 * Assertions shared by the per-stack tests: the whole resource graph of a
 * rendered stack file, checked the same way for every environment.
 */
import * as path from "node:path";
import { expect } from "vitest";
import { isDigestReference } from "../../components/naming";
import { readInitScripts, SCRIPTS_HASH_VAR, scriptsHash } from "../../components/initScripts";
import { ACR_PULL_ROLE_ID } from "../../components/registryGrant";
import type { Rendering } from "../../stacks/render/engine";
import { FAKE_SECRETS, input, one, ofType, providerUrn, ROOT } from "./record";

export const STACK_OUTPUTS = [
  "clusters",
  "containerServicesManaged",
  "externalPrerequisites",
  "imageRef",
  "imageTag",
  "images",
  "initScriptDestinations",
  "jobs",
  "pools",
  "pullSecretReference",
  "registryLoginServer",
];

/** The short name a cluster has in the stack's clusters map: from its resource name `cluster-<name>-cluster`. */
export function clusterName(cluster: { name: string }): string {
  return cluster.name.replace(/^cluster-/, "").replace(/-cluster$/, "");
}

/** URNs `urn` depends on, directly or through its dependencies. */
export function dependencyClosure(r: Rendering, urn: string): Set<string> {
  const byUrn = new Map(r.resources.map((x) => [x.urn, x]));
  const seen = new Set<string>();
  const visit = (u: string) => {
    for (const dep of byUrn.get(u)?.dependencies ?? []) {
      if (!seen.has(dep)) {
        seen.add(dep);
        visit(dep);
      }
    }
  };
  visit(urn);
  return seen;
}

const UPLOAD_TYPES = ["databricks:index/workspaceFile:WorkspaceFile", "databricks:index/file:File", "databricks:index/dbfsFile:DbfsFile"];

/** Checks every invariant a stack must hold, whatever its environment. */
export function expectSoundGraph(r: Rendering): void {
  // Outputs: all present, none empty.
  expect(Object.keys(r.outputs).sort()).toEqual(STACK_OUTPUTS);
  for (const key of STACK_OUTPUTS) expect(r.outputs[key], key).not.toBeUndefined();

  // The images: each built for linux/amd64 from its context, pushed to its own repository of the stack's registry.
  const registry = one(r, "azure-native:containerregistry:Registry");
  const images = r.outputs.images as Record<string, { ref: string; tagged: string; tag: string; repository: string; cuda?: string }>;
  const built = ofType(r, "docker:index/image:Image");
  expect(built).toHaveLength(Object.keys(images).length);
  expect(new Set(Object.values(images).map((i) => i.repository)).size).toBe(built.length);
  expect(JSON.stringify(r.resources)).not.toContain(ROOT);
  const imageResourceOf = (name: string) => built.find((b) => String(b.inputs.imageName) === images[name].tagged)!;
  for (const [name, exported] of Object.entries(images)) {
    const image = imageResourceOf(name);
    expect(image, `image ${name}`).toBeDefined();
    // Paths as the engine receives them: relative to the project, so no checkout path reaches the Docker provider.
    const context = String(input(image, "build.context"));
    expect(context.startsWith("infra/")).toBe(true);
    expect(input(image, "build.dockerfile")).toBe(`${context}/Dockerfile`);
    expect(input(image, "build.platform")).toBe("linux/amd64");
    expect(String(image.inputs.imageName)).toBe(`${String(r.outputs.registryLoginServer)}/${exported.repository}:${exported.tag}`);
    expect(image.dependencies).toContain(registry.urn);
    expect(input(image, "build.args.CUDA_VERSION")).toBe(exported.cuda);
  }
  expect(images.default.tag).toBe(r.outputs.imageTag);
  expect(String(input(imageResourceOf("default"), "build.context"))).toBe("infra/image");
  expect(r.outputs.registryLoginServer).toBe(`${String(registry.inputs.registryName)}.azurecr.io`);

  const assignments = ofType(r, "azure-native:authorization:RoleAssignment");
  const pullGrants = assignments.filter((x) => String(x.inputs.roleDefinitionId).endsWith(ACR_PULL_ROLE_ID));
  expect(pullGrants.length, "AcrPull assignments").toBeGreaterThan(0);
  const grantWaits = ofType(r, "time:index/sleep:Sleep").filter((x) => assignments.some((g) => x.dependencies.includes(g.urn)));
  const secrets = ofType(r, "databricks:index/secret:Secret");
  const external = (r.outputs.externalPrerequisites as string[]).some((p) => p.startsWith("Databricks secret "));
  const uploads = r.resources.filter((x) => UPLOAD_TYPES.includes(x.type) && (x.parent ?? "").endsWith("::init-scripts"));
  const scripts = readInitScripts(path.join(ROOT, "infra", "init-scripts"));
  expect(uploads).toHaveLength(scripts.length);
  const toggles = ofType(r, "databricks:index/workspaceConf:WorkspaceConf");

  for (const cluster of ofType(r, "databricks:index/cluster:Cluster")) {
    // The cluster boots from the digest reference of one of the stack's images, and waits for its push.
    const url = String(input(cluster, "dockerImage.url"));
    const imageName = Object.keys(images).find((n) => images[n].ref === url);
    expect(imageName, `${cluster.name} boots one of the stack's images`).toBeDefined();
    expect(isDigestReference(url)).toBe(true);
    expect(url.startsWith(`${String(r.outputs.registryLoginServer)}/`)).toBe(true);
    expect(cluster.dependencies).toContain(imageResourceOf(imageName!).urn);
    // A GPU image tells the init script its CUDA; a CPU image does not.
    expect(input(cluster, "sparkEnvVars.DCS_CUDA_VERSION")).toBe(images[imageName!].cuda);

    // It waits for an applied AcrPull grant: an assignment, then the propagation wait.
    expect(grantWaits.some((w) => cluster.dependencies.includes(w.urn)), `${cluster.name} waits for an applied grant`).toBe(true);
    const before = dependencyClosure(r, cluster.urn);
    expect(pullGrants.some((g) => before.has(g.urn)), `${cluster.name} comes after an AcrPull assignment`).toBe(true);

    // The pull secret: a reference to a secret the stack declares (or names, when external), never the value.
    const password = String(input(cluster, "dockerImage.basicAuth.password"));
    expect(password).toMatch(/^\{\{secrets\/[^/]+\/[^/]+\}\}$/);
    if (imageName === "default") expect(password).toBe(r.outputs.pullSecretReference);
    expect(cluster.secretInputs).toEqual([]);
    if (!external) {
      const scope = one(r, "databricks:index/secretScope:SecretScope");
      const secret = secrets.find((x) => password === `{{secrets/${String(scope.inputs.name)}/${String(x.inputs.key)}}}`);
      expect(secret, `${cluster.name}'s secret is declared`).toBeDefined();
      expect(secret!.secretInputs).toEqual(["stringValue"]);
      expect(secret!.inputs.stringValue).toBe("[secret]");
      expect(cluster.dependencies).toContain(secret!.urn);
      const acls = ofType(r, "databricks:index/secretAcl:SecretAcl");
      expect(acls.map((a) => a.inputs.principal)).toContain(cluster.inputs.singleUserName);
      for (const acl of acls) {
        expect(acl.inputs).toMatchObject({ scope: scope.inputs.name, permission: "READ" });
        expect(cluster.dependencies).toContain(acl.urn);
      }
    }
    expect(cluster.inputs.dataSecurityMode).toBe("SINGLE_USER");

    // Its init scripts are the uploaded files, every *.sh of infra/init-scripts.
    const blocks = cluster.inputs.initScripts as Record<string, { destination: string }>[];
    const destinations = blocks.map((b) => Object.values(b)[0].destination);
    expect(destinations).toEqual(r.outputs.initScriptDestinations);
    expect(destinations.map((d) => path.posix.basename(d))).toEqual(scripts.map((s) => s.fileName));
    for (const upload of uploads) {
      expect(destinations.some((d) => d.endsWith(String(upload.inputs.path)))).toBe(true);
      expect(cluster.dependencies).toContain(upload.urn);
    }

    // Dask settings reach the init script; an edit of a script reaches the spec through the content hash.
    expect(input(cluster, "sparkEnvVars.DCS_DASK_SCHEDULER_PORT")).toMatch(/^\d+$/);
    expect(input(cluster, `sparkEnvVars.${SCRIPTS_HASH_VAR}`)).toBe(scriptsHash(scripts));
    expect(cluster.inputs.customTags).toMatchObject({ environment: expect.any(String), team: expect.any(String), costCenter: expect.any(String) });
    // The switch, where this stack manages it, comes first.
    for (const t of toggles) expect(cluster.dependencies).toContain(t.urn);

    // The Dask dashboard through the driver proxy, on the configured port.
    const exported = (r.outputs.clusters as Record<string, { id: string; url: string; dashboardUrl: string }>)[clusterName(cluster)];
    expect(exported.id).toMatch(/\S/);
    expect(exported.dashboardUrl).toMatch(new RegExp(`^https://adb-\\d+\\.\\d+\\.azuredatabricks\\.net/driver-proxy/o/\\d+/${exported.id}/${String(input(cluster, "sparkEnvVars.DCS_DASK_DASHBOARD_PORT"))}/status$`));
  }
  if (external) {
    expect(secrets).toHaveLength(0);
    expect(ofType(r, "databricks:index/secretScope:SecretScope")).toHaveLength(0);
  }

  // Every Databricks resource goes through the one workspace provider.
  const workspace = one(r, "pulumi:providers:databricks");
  for (const res of r.resources.filter((x) => x.type.startsWith("databricks:"))) expect(providerUrn(res), res.name).toBe(workspace.urn);

  // The toggle exists only where managed, and then it is kept on delete.
  expect(toggles).toHaveLength(r.outputs.containerServicesManaged ? 1 : 0);
  for (const t of toggles) {
    expect(t.inputs.customConfig).toEqual({ enableDcs: "true" });
    expect(t.retainOnDelete).toBe(true);
  }

  // Cost tags on everything that takes tags.
  for (const res of [registry, ...ofType(r, "azure-native:resources:ResourceGroup")]) {
    expect(res.inputs.tags).toMatchObject({ environment: expect.any(String), team: expect.any(String), costCenter: expect.any(String), managedBy: "dcs-platform" });
  }

  // Secrets: no fake secret value anywhere.
  const text = JSON.stringify(r);
  for (const secret of Object.values(FAKE_SECRETS)) expect(text).not.toContain(secret);
}
