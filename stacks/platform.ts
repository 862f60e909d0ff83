/**
 * A platform stack: one per Databricks workspace, run by a workspace admin.
 * It declares what belongs to the workspace and to no team, and exports what
 * the team stacks read through their StackReference (stacks/platformContract.ts).
 * Read top to bottom:
 *   1. the workspace provider;
 *   2. the container-services switch (enableDcs), kept on delete;
 *   3. per team, cluster policies (one for all-purpose clusters, one for job
 *      clusters, which have no auto-termination) for custom-container clusters that bind
 *      clusters made in the UI or the API as well (images only from the team's
 *      approved registries, dedicated access mode, the allowed runtimes,
 *      auto-termination within bounds, the cost tags), and CAN_USE on it for
 *      the team's group;
 *   4. the outputs: workspace URL and id, whether container services are on,
 *      and each team's policy id, group, registries and fixed tags. Nothing secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { policyFixedValues, TeamClusterPolicy, type PolicyRules } from "../components/clusterPolicy";
import { ContainerServices } from "../components/containerServices";
import type { PlatformStackConfig } from "./config";
import type { PlatformTeam } from "./platformContract";
import { workspaceInfo, workspaceProvider } from "./workspace";

/** The rules of one team's policy: the platform's policy settings and the team's own registries and tags. */
export function teamPolicyRules(cfg: Pick<PlatformStackConfig, "policy">, team: string, entry: PlatformStackConfig["teams"][string]): PolicyRules {
  return {
    registries: entry.registries,
    sparkVersions: cfg.policy.sparkVersions,
    autotermination: cfg.policy.autoterminationMinutes,
    // The team tag is fixed to the team; the cost center is fixed when the platform knows it, required otherwise.
    costTags: { team, costCenter: entry.costCenter, environment: undefined },
  };
}

/** The platform stack: its outputs. */
export function platformStack(cfg: PlatformStackConfig): Record<string, unknown> {
  // 1. The workspace.
  const workspace = workspaceProvider(cfg.workspace);
  const info = workspaceInfo(cfg.workspace);

  // 2. The switch: only a workspace admin may set it; kept when the stack is destroyed.
  const containerServices = new ContainerServices("container-services", { manage: cfg.containerServices.manage, provider: workspace });

  // 3. A cluster policy per team, and CAN_USE for its group.
  const teams: Record<string, pulumi.Output<PlatformTeam>> = {};
  for (const [name, entry] of Object.entries(cfg.teams)) {
    const rules = teamPolicyRules(cfg, name, entry);
    const policy = new TeamClusterPolicy(`policy-${name}`, { team: name, groupName: entry.group, rules: { ...rules, clusterType: "all-purpose" }, provider: workspace });
    // Job clusters have no auto-termination field: a policy of their own, usable by the jobs' service principals.
    const jobPolicy = new TeamClusterPolicy(`policy-${name}-jobs`, {
      team: name,
      groupName: entry.group,
      servicePrincipals: entry.jobPrincipals,
      policyName: `dcs-${name}-custom-container-jobs`,
      rules: { ...rules, clusterType: "job" },
      provider: workspace,
    });
    teams[name] = pulumi.output({ policyId: policy.policyId, jobPolicyId: jobPolicy.policyId, group: entry.group, registries: entry.registries, fixedTags: policyFixedValues(rules) });
  }

  // 4. What team stacks read.
  const enabled = containerServices.toggle ? containerServices.toggle.customConfig.apply((c) => c?.enableDcs === "true") : pulumi.output(false);
  return {
    containerServicesManaged: containerServices.managed,
    containerServicesEnabled: enabled,
    workspaceUrl: info.apply((w) => w.url),
    workspaceId: info.apply((w) => w.orgId),
    teams: pulumi.output(teams),
  };
}
