/**
 * What the offline renderer answers in place of the clouds: the values Azure,
 * Databricks and the Docker registry assign on create, and the answers to the
 * program's invokes. "simulated" gives plausible values (tests, benchmarks);
 * "placeholders" marks each as computed, as a preview shows what it cannot know.
 */
import { createHash } from "node:crypto";

/** How the renderer stands in for the clouds. */
export type CloudMode = "placeholders" | "simulated";

/** The placeholder for a value the cloud assigns. */
export function computed(what: string): string {
  return `(computed: ${what})`;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Values the cloud assigns on create, per resource type. */
export function cloudState(type: string, name: string, inputs: Record<string, unknown>, mode: CloudMode): { id: string; state: Record<string, unknown> } {
  const sim = mode === "simulated";
  const sub = sim ? "00000000-0000-0000-0000-000000000000" : computed("subscription");
  const placeholder = (prop: string) => computed(`${name}.${prop}`);
  const id = sim ? `${name}-id` : placeholder("id");
  switch (type) {
    case "azure-native:resources:ResourceGroup": {
      const rg = String(inputs.resourceGroupName ?? name);
      return { id: `/subscriptions/${sub}/resourceGroups/${rg}`, state: { name: rg } };
    }
    case "azure-native:containerregistry:Registry": {
      const reg = String(inputs.registryName ?? name);
      const rid = `/subscriptions/${sub}/resourceGroups/${String(inputs.resourceGroupName)}/providers/Microsoft.ContainerRegistry/registries/${reg}`;
      return { id: rid, state: { name: reg, loginServer: sim ? `${reg.toLowerCase()}.azurecr.io` : placeholder("loginServer") } };
    }
    case "azure-native:authorization:RoleAssignment":
      return { id: sim ? `${String(inputs.scope)}/providers/Microsoft.Authorization/roleAssignments/${name}` : placeholder("id"), state: { name: placeholder("name") } };
    case "docker:index/image:Image": {
      const imageName = String(inputs.imageName);
      const repo = imageName.replace(/:[^:/]+$/, "");
      return { id, state: { repoDigest: sim ? `${repo}@sha256:${sha256(imageName)}` : placeholder("repoDigest"), registryServer: repo.split("/")[0] } };
    }
    case "databricks:index/cluster:Cluster": {
      const cid = sim ? `0101-000000-${sha256(name).slice(0, 8)}` : placeholder("clusterId");
      return { id: cid, state: { clusterId: cid, url: sim ? `https://adb-0.0.azuredatabricks.net/#setting/clusters/${cid}/configuration` : placeholder("url"), state: "RUNNING" } };
    }
    case "databricks:index/job:Job":
      return { id, state: { url: sim ? `https://adb-0.0.azuredatabricks.net/#job/${id}` : placeholder("url") } };
    case "databricks:index/instancePool:InstancePool":
      return { id, state: { instancePoolId: id } };
    case "databricks:index/secretScope:SecretScope":
      return { id: String(inputs.name), state: { name: inputs.name, backendType: "DATABRICKS" } };
    case "databricks:index/secret:Secret": {
      const ref = `{{secrets/${String(inputs.scope)}/${String(inputs.key)}}}`;
      return { id: `${String(inputs.scope)}|||${String(inputs.key)}`, state: { configReference: ref } };
    }
    case "databricks:index/secretAcl:SecretAcl":
      return { id: `${String(inputs.scope)}|||${String(inputs.principal)}`, state: {} };
    case "databricks:index/dbfsFile:DbfsFile":
      return { id, state: { dbfsPath: `dbfs:${String(inputs.path)}` } };
    case "databricks:index/workspaceFile:WorkspaceFile":
      return { id, state: { workspacePath: `/Workspace${String(inputs.path)}` } };
    default:
      return { id, state: {} };
  }
}

/**
 * A node-type lookup's answer: the smallest size the workspace offers, which
 * for a GPU lookup (minGpus) is a GPU size (NC T4 v3 is Azure Databricks'
 * smallest GPU family).
 */
function nodeTypeAnswer(inputs: Record<string, unknown>, mode: CloudMode): string {
  const gpus = Number(inputs.minGpus ?? 0);
  if (mode === "simulated") return gpus > 0 ? "Standard_NC4as_T4_v3" : "Standard_D4ds_v5";
  return gpus > 0 ? computed(`node type with >= ${gpus} GPU(s)`) : computed(`node type with >= ${String(inputs.minCores)} cores`);
}

/** What an invoke answers offline, and where the answer comes from; undefined for an invoke the renderer does not know. */
export function invokeAnswer(
  token: string,
  inputs: Record<string, unknown>,
  mode: CloudMode,
  options: { sparkVersionAnswer?: string; deployer?: string },
): { answeredFrom: string; result: Record<string, unknown> } | undefined {
  const answer = (answeredFrom: string, result: Record<string, unknown>) => ({ answeredFrom, result });
  switch (token) {
      case "databricks:index/getSparkVersion:getSparkVersion":
        return answer("dcs:image.runtime", { ...inputs, id: options.sparkVersionAnswer ?? "16.4.x-scala2.12" });
      case "databricks:index/getNodeType:getNodeType":
        return answer("placeholder", { ...inputs, id: nodeTypeAnswer(inputs, mode) });
      case "databricks:index/getCurrentUser:getCurrentUser": {
        const userName = mode === "simulated" ? (options.deployer ?? "deployer@example.com") : computed("identity running pulumi up");
        return answer("placeholder", { userName, id: "1", aclPrincipalId: `users/${userName}`, alphanumeric: "deployer", externalId: "", home: `/Users/${userName}`, repos: "", workspaceUrl: "" });
      }
      case "azure-native:databricks:getWorkspace": {
        const id = mode === "simulated" ? "1234567890123456" : computed("workspace id");
        const url = mode === "simulated" ? `adb-${id}.7.azuredatabricks.net` : computed("workspace URL");
        return answer("placeholder", { workspaceId: id, workspaceUrl: url, name: inputs.workspaceName });
      }
      case "azure-native:containerregistry:listRegistryCredentials":
        return answer("placeholder", { username: String(inputs.registryName), passwords: [{ name: "password", value: computed("admin password") }] });
    default:
      return undefined;
  }
}
