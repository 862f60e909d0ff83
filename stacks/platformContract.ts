/**
 * What a platform stack exports and a team stack reads through a
 * StackReference: the one contract between the two kinds of stack.
 *
 * The team stack checks the platform's outputs before it declares anything,
 * so a wrong pairing is refused at preview with the key to fix. A value the
 * offline renderer could not know ("(computed: ...)", or an engine unknown)
 * is not refused: it cannot be judged until the platform stack is deployed.
 */
import { isUnknownMarker } from "../policy/reading";

/** Output names of a platform stack, all of which a team stack reads. */
export const PLATFORM_OUTPUTS = ["workspaceUrl", "workspaceId", "containerServicesEnabled", "teams"] as const;

/** A team's entry in the platform stack's `teams` output. */
export interface PlatformTeam {
  /** Id of the team's cluster policy for all-purpose clusters. */
  policyId: string;
  /** Id of the team's cluster policy for job clusters (older platform stacks: absent, the jobs use policyId). */
  jobPolicyId?: string;
  /** The team's Databricks group (CAN_USE on the policy). */
  group: string;
  /** Registry hosts the policy lets the team's clusters pull from. */
  registries: string[];
  /** Custom tags the policy fixes, which the team's clusters must carry with exactly these values. */
  fixedTags: Record<string, string>;
}

/** The platform stack's outputs as a team stack reads them. */
export interface PlatformOutputs {
  workspaceUrl: string;
  workspaceId: string;
  containerServicesEnabled: boolean;
  teams: Record<string, PlatformTeam>;
}

/** What a team stack knows when it checks its platform stack. */
export interface PlatformCheck {
  /** The platform stack's name, as dcs:platform.stack gives it. */
  platformStack: string;
  /** The team (dcs:team). */
  team: string;
  /** The team's registry host (<dcs:registry.name>.azurecr.io). */
  registryHost: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The problems of a platform stack's outputs for one team, each naming the key
 * to fix; empty when the team stack can deploy against them.
 */
export function platformProblems(outputs: Record<string, unknown>, check: PlatformCheck): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  const from = `platform stack ${check.platformStack}`;
  const missing = PLATFORM_OUTPUTS.filter((k) => outputs[k] === undefined || outputs[k] === null);
  if (missing.length === PLATFORM_OUTPUTS.length) {
    return [{ key: "dcs:platform.stack", message: `${from} has no outputs: it is not deployed yet (or the name is wrong). Deploy it first (pulumi up on ${check.platformStack}), then this stack` }];
  }
  for (const k of missing) problems.push({ key: "dcs:platform.stack", message: `${from} does not export ${k}; update it to a version of dcs-platform that does, and deploy it` });
  const enabled = outputs.containerServicesEnabled;
  if (enabled !== undefined && !isUnknownMarker(enabled) && enabled !== true) {
    problems.push({ key: "dcs:platform.stack", message: `${from} has not enabled container services (containerServicesEnabled is ${JSON.stringify(enabled)}); a workspace admin deploys it with dcs:containerServices.manage: true first` });
  }
  const teams = outputs.teams;
  if (teams !== undefined && !isUnknownMarker(teams)) {
    const entry = isRecord(teams) ? teams[check.team] : undefined;
    if (!isRecord(entry)) {
      problems.push({ key: "dcs:team", message: `${from} lists no team "${check.team}" (it lists ${isRecord(teams) ? Object.keys(teams).join(", ") || "none" : "none"}); add the team to its dcs:teams` });
    } else {
      const registries = entry.registries;
      if (!isUnknownMarker(registries) && !(Array.isArray(registries) && registries.map(String).includes(check.registryHost))) {
        problems.push({
          key: "dcs:registry.name",
          message: `${check.registryHost} is not among the registries ${from} approves for team ${check.team} (${Array.isArray(registries) ? registries.join(", ") : "none"}); add it to dcs:teams.${check.team}.registries there`,
        });
      }
      if (entry.policyId === undefined || entry.policyId === "") problems.push({ key: "dcs:platform.stack", message: `${from} exports no cluster policy for team ${check.team}` });
    }
  }
  return problems;
}
