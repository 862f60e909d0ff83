/**
 * The program and its guardrails cannot drift apart: every committed stack,
 * rendered through the real entry, passes every policy of policy/, under the
 * renderer's reading and under CrossGuard's (a property not set is absent,
 * unknowns are marked); a stack configured badly on purpose produces exactly
 * the expected violations.
 */
import { describe, expect, it } from "vitest";
import { evaluateStack, type StackResource } from "../policy/rules";
import { guardrailFindings, type Rendering } from "../stacks/render/engine";
import { renderForTest } from "./helpers/record";

/** The rendered custom resources as the rules take them, options included. */
function stackOf(r: Rendering): StackResource[] {
  return r.resources.filter((x) => x.custom).map((x) => ({ type: x.type, name: x.name, urn: x.urn, props: x.inputs, opts: { protect: x.protect } }));
}

describe("the program under its own policy pack", () => {
  it.each(["dev", "prod", "platform-dev", "platform-prod"])("stack %s passes every policy, advisory ones included", async (stack) => {
    const r = await renderForTest(stack);
    expect(r.findings).toEqual([]);
    expect(guardrailFindings(r.resources)).toEqual([]);
    // The renderer marks unknowns with placeholders, so CrossGuard's reading applies too.
    expect(evaluateStack(stackOf(r), {}, { undefinedMeans: "absent" })).toEqual([]);
  });

  it("passes offline too, where cloud values are placeholders", async () => {
    const r = await renderForTest("dev", {}, "placeholders");
    expect(r.findings).toEqual([]);
    expect(evaluateStack(stackOf(r), {}, { undefinedMeans: "absent" })).toEqual([]);
  });

  it("reports exactly the expected violations for a deliberately bad configuration", async () => {
    // Valid as configuration (the stack opts into each choice), yet against the guardrails:
    // an unprotected prod registry (mandatory) and init scripts on DBFS (advisory).
    const r = await renderForTest("prod", {
      "dcs:registry": { name: "dcshydrologyprod", sku: "Premium", protect: false },
      "dcs:initScripts": { store: "dbfs" },
    });
    // The DBFS scripts are run by the cluster and by the smoke job's cluster alike.
    expect(r.findings.map((f) => `${f.enforcement}:${f.policy}`).sort()).toEqual(["advisory:init-scripts-not-on-dbfs", "advisory:init-scripts-not-on-dbfs", "mandatory:registry-protected-in-prod"]);
    expect(evaluateStack(stackOf(r), {}, { undefinedMeans: "absent" }).map((f) => `${f.enforcement}:${f.policy}:${f.type}`)).toEqual([
      "mandatory:registry-protected-in-prod:azure-native:containerregistry:Registry",
      "advisory:init-scripts-not-on-dbfs:databricks:index/job:Job",
      "advisory:init-scripts-not-on-dbfs:databricks:index/cluster:Cluster",
    ]);
    expect(r.warnings.some((w) => /deprecated/.test(w))).toBe(true);
  });
});
