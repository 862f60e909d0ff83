/**
 * RegistryGrant: an Azure role on the registry for one service principal, and
 * a deliberate wait after the assignment is created.
 *
 * Azure applies a new role assignment only after a delay (Microsoft's RBAC
 * troubleshooting guide: changes can take up to 10 minutes to take effect),
 * and what relies on the grant fails hard without it: the Databricks provider
 * deletes a cluster that does not reach RUNNING on create and fails `up`;
 * a push without AcrPush is refused. The wait is a `time.Sleep` whose
 * `createDuration` runs on create only; its trigger is the assignment's id, so
 * it runs again only when the assignment is replaced, never on later updates
 * (pulumiverse/pulumi-time, which wraps hashicorp/time's time_sleep).
 */
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as time from "@pulumiverse/time";
import { childName } from "./naming";

/** Built-in Azure role "AcrPull": pull images. */
export const ACR_PULL_ROLE_ID = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
/** Built-in Azure role "AcrPush": push and pull images. */
export const ACR_PUSH_ROLE_ID = "8311e382-0749-4cb8-b61a-304f252e45ec";

/** `/subscriptions/<id>/providers/...` role definition id, from any resource id in the subscription. */
export function roleDefinitionIdFor(resourceId: string, roleId: string): string {
  const m = /^\/subscriptions\/([^/]+)\//i.exec(resourceId);
  if (!m) throw new Error(`not an Azure resource id: ${resourceId}`);
  return `/subscriptions/${m[1]}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`;
}

/** The Sleep's duration for a number of seconds, in Go's duration syntax. */
export function sleepDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`wait must be a whole number of seconds, got ${seconds}`);
  return `${seconds}s`;
}

export interface RegistryGrantArgs {
  /** Resource id of the registry (the assignment's scope). */
  registryId: pulumi.Input<string>;
  /** Object id of the service principal that gets the role. */
  principalObjectId: pulumi.Input<string>;
  /** Built-in role id (ACR_PULL_ROLE_ID or ACR_PUSH_ROLE_ID). */
  roleId: string;
  /** Why the principal has the role, stored on the assignment. */
  description: string;
  /** Seconds to wait after a new assignment. Default: 300. 0 declares no wait. */
  waitSeconds?: number;
  /** Former names of the assignment, so moving it here does not replace it (Azure refuses a second identical assignment). */
  assignmentAliases?: pulumi.Input<pulumi.Alias>[];
}

export class RegistryGrant extends pulumi.ComponentResource {
  /** What to depend on: the wait after the assignment (or the assignment itself when there is no wait). */
  public readonly ready: pulumi.Resource;
  /** The role assignment's id. */
  public readonly assignmentId: pulumi.Output<string>;

  constructor(name: string, args: RegistryGrantArgs, opts?: pulumi.ComponentResourceOptions) {
    const waitSeconds = args.waitSeconds ?? 300;
    const duration = sleepDuration(waitSeconds); // rejected before registration
    super("dcs:index:RegistryGrant", name, {}, opts);

    const assignment = new authorization.RoleAssignment(
      childName(name, "assignment"),
      {
        scope: args.registryId,
        principalId: args.principalObjectId,
        // A new principal may not have replicated yet; with the type given, Azure does not look it up.
        principalType: "ServicePrincipal",
        roleDefinitionId: pulumi.output(args.registryId).apply((id) => roleDefinitionIdFor(id, args.roleId)),
        description: args.description,
      },
      { parent: this, aliases: args.assignmentAliases },
    );
    this.assignmentId = assignment.id;
    this.ready =
      waitSeconds === 0
        ? assignment
        : new time.Sleep(childName(name, "propagation"), { createDuration: duration, triggers: { roleAssignmentId: assignment.id } }, { parent: this, dependsOn: [assignment] });
    this.registerOutputs({ assignmentId: this.assignmentId });
  }
}
