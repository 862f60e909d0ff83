/**
 * The dcs-guardrails CrossGuard pack: `pulumi preview --policy-pack policy`.
 * Constructing a PolicyPack starts the analyzer's gRPC server, so this file
 * does that and nothing else; the rules are in rules.ts, their translation
 * to CrossGuard policies in crossguard.ts.
 */
import { PolicyPack } from "@pulumi/policy";
import { crossGuardPolicies } from "./crossguard";
import { PACK_DESCRIPTION, PACK_NAME } from "./rules";

new PolicyPack(PACK_NAME, { description: PACK_DESCRIPTION, policies: crossGuardPolicies() });
