/**
 * The program and its guardrails cannot drift apart: every committed stack,
 * rendered through the real entry, passes every mandatory policy; a stack
 * configured badly on purpose produces exactly the expected violations.
 */
import { describe, expect, it } from "vitest";
import { guardrailFindings } from "../stacks/render/engine";
import { renderForTest } from "./helpers/record";

describe("the program under its own policy pack", () => {
  it.each(["dev", "prod", "admin"])("stack %s passes every policy, advisory ones included", async (stack) => {
    const r = await renderForTest(stack);
    expect(r.findings).toEqual([]);
    expect(guardrailFindings(r.resources)).toEqual([]);
  });

  it("passes offline too, where cloud values are placeholders", async () => {
    const r = await renderForTest("dev", {}, "placeholders");
    expect(r.findings).toEqual([]);
  });

  it("reports exactly the expected violations for a deliberately bad configuration", async () => {
    // Valid as configuration (the stack opts into each choice), yet against the guardrails:
    // an unprotected prod registry (mandatory) and init scripts on DBFS (advisory).
    const r = await renderForTest("prod", {
      "dcs:registry": { name: "dcshydrologyprod", sku: "Premium", protect: false },
      "dcs:initScripts": { store: "dbfs" },
    });
    expect(r.findings.map((f) => `${f.enforcement}:${f.policy}`).sort()).toEqual(["advisory:init-scripts-not-on-dbfs", "mandatory:registry-protected-in-prod"]);
    expect(r.warnings.some((w) => /deprecated/.test(w))).toBe(true);
  });
});
