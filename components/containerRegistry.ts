/**
 * ContainerRegistry: the Azure Container Registry the cluster image lives in,
 * its resource group, the AcrPull grant for the identity clusters pull with and,
 * when a service principal pushes, its AcrPush grant; each grant followed by
 * the wait Azure needs to apply it (see registryGrant.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import * as containerregistry from "@pulumi/azure-native/containerregistry";
import * as resources from "@pulumi/azure-native/resources";
import { childName, isRegistryName, REGISTRY_NAME_RULE } from "./naming";
import { ACR_PULL_ROLE_ID, ACR_PUSH_ROLE_ID, RegistryGrant } from "./registryGrant";

export { ACR_PULL_ROLE_ID, ACR_PUSH_ROLE_ID, roleDefinitionIdFor } from "./registryGrant";

export interface ContainerRegistryArgs {
  /** Azure region of the registry (and of the resource group when created). */
  location: string;
  /** The resource group: created by this component unless `existing` is true. */
  resourceGroup: { name: string; existing?: boolean };
  /** Registry name: 5 to 50 letters and digits, unique across Azure. */
  registryName: string;
  /** Service tier. Default: Basic. */
  sku?: "Basic" | "Standard" | "Premium";
  /** Enable the ACR admin user. Default: false (only dev stacks may turn it on). */
  adminUserEnabled?: boolean;
  /** Object id of the service principal that clusters pull with; it gets AcrPull on the registry. */
  pullPrincipalObjectId: pulumi.Input<string>;
  /** Further pull identities (an image's own), by a short name: each gets AcrPull on the whole registry, like the stack's (repository-scoped permissions are not used). Default: none. */
  morePullPrincipals?: Record<string, pulumi.Input<string>>;
  /** Object id of the service principal `pulumi up` pushes with; it gets AcrPush. Default: none (the runner's identity needs AcrPush by other means). */
  pushPrincipalObjectId?: pulumi.Input<string>;
  /** Seconds to wait after a new role assignment before relying on it. Default: 300. */
  grantWaitSeconds?: number;
  /** Protect the registry from deletion (`pulumi destroy` then refuses). Default: false. */
  protect?: boolean;
  /** Tags for the group and the registry. Default: none. */
  tags?: Record<string, string>;
}

/** Problems with ContainerRegistryArgs, as messages; empty when valid. */
export function validateContainerRegistryArgs(args: ContainerRegistryArgs): string[] {
  const problems: string[] = [];
  if (!isRegistryName(args.registryName)) problems.push(`registry name "${args.registryName}" ${REGISTRY_NAME_RULE}`);
  if (!args.location) problems.push("location is required");
  if (!args.resourceGroup.name) problems.push("resourceGroup.name is required");
  return problems;
}

export class ContainerRegistry extends pulumi.ComponentResource {
  /** Registry host, e.g. dcshydrodev.azurecr.io. */
  public readonly loginServer: pulumi.Output<string>;
  /** Azure resource id of the registry. */
  public readonly registryId: pulumi.Output<string>;
  /** Registry name. */
  public readonly registryName: pulumi.Output<string>;
  /** Name of the resource group holding the registry. */
  public readonly resourceGroupName: pulumi.Output<string>;
  /** What a cluster waits for before it pulls: the AcrPull grant, applied. */
  public readonly pullReady: pulumi.Resource;
  /** The further pull identities' grants, applied, by their short names. */
  public readonly morePullReady: Record<string, pulumi.Resource> = {};
  /** What the image push waits for: the AcrPush grant, applied (undefined when no push principal is given). */
  public readonly pushReady?: pulumi.Resource;
  /** Admin credentials (password secret), only when the admin user is enabled. */
  public readonly adminCredentials?: { username: pulumi.Output<string>; password: pulumi.Output<string> };

  constructor(name: string, args: ContainerRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    // Rejected before registration: nothing, not even this component, is declared.
    const problems = validateContainerRegistryArgs(args);
    if (problems.length > 0) throw new Error(`ContainerRegistry "${name}": ${problems.join("; ")}`);
    super("dcs:index:ContainerRegistry", name, {}, opts);

    const { location, tags, registryName } = args;
    const resourceGroupName = args.resourceGroup.existing
      ? pulumi.output(args.resourceGroup.name)
      : new resources.ResourceGroup(childName(name, "rg"), { resourceGroupName: args.resourceGroup.name, location, tags }, { parent: this }).name;

    const registry = new containerregistry.Registry(
      childName(name, "acr"),
      {
        registryName,
        resourceGroupName,
        location,
        sku: { name: args.sku ?? "Basic" },
        adminUserEnabled: args.adminUserEnabled ?? false,
        anonymousPullEnabled: false,
        tags,
      },
      { parent: this, protect: args.protect ?? false },
    );

    const waitSeconds = args.grantWaitSeconds ?? 300;
    this.pullReady = new RegistryGrant(
      childName(name, "acrpull"),
      {
        registryId: registry.id,
        principalObjectId: args.pullPrincipalObjectId,
        roleId: ACR_PULL_ROLE_ID,
        description: "Databricks clusters pull their container image with this identity",
        waitSeconds,
        // The assignment was declared directly under the registry before; keep it rather than replace it.
        assignmentAliases: [{ name: childName(name, "acrpull"), parent: this }],
      },
      { parent: this },
    ).ready;
    for (const [short, objectId] of Object.entries(args.morePullPrincipals ?? {})) {
      this.morePullReady[short] = new RegistryGrant(
        childName(name, `acrpull-${short}`),
        { registryId: registry.id, principalObjectId: objectId, roleId: ACR_PULL_ROLE_ID, description: `Databricks clusters pull the ${short} image with this identity`, waitSeconds },
        { parent: this },
      ).ready;
    }
    if (args.pushPrincipalObjectId !== undefined) {
      this.pushReady = new RegistryGrant(
        childName(name, "acrpush"),
        { registryId: registry.id, principalObjectId: args.pushPrincipalObjectId, roleId: ACR_PUSH_ROLE_ID, description: "pulumi up pushes the cluster image with this identity", waitSeconds },
        { parent: this },
      ).ready;
    }

    if (args.adminUserEnabled) {
      const creds = containerregistry.listRegistryCredentialsOutput({ registryName: registry.name, resourceGroupName }, { parent: this });
      this.adminCredentials = {
        username: creds.apply((c) => c.username ?? ""),
        password: pulumi.secret(creds.apply((c) => c.passwords?.[0]?.value ?? "")),
      };
    }

    this.loginServer = registry.loginServer;
    this.registryId = registry.id;
    this.registryName = registry.name;
    this.resourceGroupName = resourceGroupName;
    this.registerOutputs({ loginServer: this.loginServer, registryId: this.registryId, registryName: this.registryName, resourceGroupName });
  }
}
