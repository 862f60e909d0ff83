/**
 * The dcs-platform program: what `pulumi up` runs for every stack, and what
 * the tests and the offline renderer run too.
 *
 *   1. The stack's configuration is validated as a whole: nothing is declared
 *      when any key is wrong.
 *   2. Its kind picks the composition:
 *      - stacks/platform.ts, one per workspace (dcs:kind: platform), run by a
 *        workspace admin: the container-services switch and a cluster policy
 *        per team, exported for the team stacks;
 *      - stacks/team.ts, a team's stack: registry, image, pull secret, init
 *        scripts and cluster, in the workspace its platform stack names.
 *
 * The program exports an async function (the Pulumi Node.js runtime calls it
 * and awaits it): a team stack reads its platform stack's outputs before it
 * declares anything, so a wrong pairing is refused before anything is created.
 */
import { loadStackConfig } from "./config";
import { platformStack } from "./platform";
import { teamStack } from "./team";

export = async (): Promise<Record<string, unknown>> => {
  const cfg = loadStackConfig();
  return cfg.kind === "platform" ? platformStack(cfg) : teamStack(cfg);
};
