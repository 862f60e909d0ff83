/**
 * The Databricks workspace a stack deploys into: the provider every
 * Databricks resource goes through, and the host and organisation id that
 * driver-proxy links need. Shared by both kinds of stack.
 */
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import * as azureDatabricks from "@pulumi/azure-native/databricks";
import { orgIdOfWorkspaceUrl, workspaceHost, workspaceOfResourceId } from "../components/workspace";

/** Where the workspace is: its URL (possibly from a platform stack's output), or its Azure resource id. */
export interface WorkspaceLocation {
  url?: pulumi.Input<string>;
  resourceId?: string;
}

/**
 * The workspace-level provider. Credentials come from the environment (Azure
 * CLI login, OIDC or ARM_* variables), as the Databricks provider reads them.
 */
export function workspaceProvider(at: WorkspaceLocation): databricks.Provider {
  return new databricks.Provider("workspace", { host: at.url, azureWorkspaceResourceId: at.resourceId });
}

/** Host and organisation id: from the URL when there is one, else from Azure, which knows the workspace by its resource id. */
export function workspaceInfo(at: WorkspaceLocation): pulumi.Output<{ host: string; orgId: string; url: string }> {
  if (at.url !== undefined) {
    return pulumi.output(at.url).apply((url) => ({ host: workspaceHost(url), orgId: orgIdOfWorkspaceUrl(url) ?? "", url: `https://${workspaceHost(url)}` }));
  }
  return azureDatabricks
    .getWorkspaceOutput(workspaceOfResourceId(at.resourceId!))
    .apply((w) => ({ host: workspaceHost(w.workspaceUrl), orgId: w.workspaceId, url: `https://${workspaceHost(w.workspaceUrl)}` }));
}
