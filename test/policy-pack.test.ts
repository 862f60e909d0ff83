/**
 * The policy pack as the Pulumi CLI runs it, without the CLI: started the way
 * the Node.js language host starts a policy pack (`node <@pulumi/pulumi
 * resolved from policy/>/cmd/run-policy-pack <engine> <pack dir>`, working
 * directory policy/, TypeScript compiled and type-checked on the fly), then
 * driven over the analyzer gRPC protocol the engine speaks: analyzer info,
 * configuration, per-resource and whole-stack analysis, unknowns as the
 * engine's sentinels and secrets in its wire format.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { CLUSTER, DEFAULT_CONFIG, GUARDRAILS, PACK_NAME, REGISTRY } from "../policy/rules";

const PACK_DIR = path.resolve(__dirname, "..", "policy");
const fromPack = createRequire(path.join(PACK_DIR, "package.json"));
// The SDK's own copy of gRPC, so the generated client and the credentials match.
const grpc = createRequire(fromPack.resolve("@pulumi/pulumi"))("@grpc/grpc-js") as { credentials: { createInsecure(): unknown } };

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
const urn = (type: string, name: string) => `urn:pulumi:prod::dcs-platform::${type}::${name}`;
const DIGEST = `dcshydroprod.azurecr.io/hydrology/dask@sha256:${"a".repeat(64)}`;
const TAGS = { environment: "prod", team: "hydrology", costCenter: "HYD-4410", managedBy: "dcs-platform" };
const LEVEL: Record<number, string> = { [pb.EnforcementLevel.ADVISORY]: "advisory", [pb.EnforcementLevel.MANDATORY]: "mandatory", [pb.EnforcementLevel.DISABLED]: "disabled" };

let pack: ChildProcess;
let client: AnalyzerClient;
let stderr = "";

/** Calls a unary method of the analyzer client as a promise. */
function call<Req, Res>(method: (req: Req, cb: (err: Error | null, res: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, (err, res) => (err ? reject(err) : resolve(res))));
}

function resource(type: string, name: string, props: Record<string, unknown>, protect = false): { urn: string; type: string; name: string; properties: Struct; options: pb.AnalyzerResourceOptions } {
  return { urn: urn(type, name), type, name, properties: Struct.fromJavaScript(props as never), options: new pb.AnalyzerResourceOptions().setProtect(protect) };
}

async function analyze(type: string, name: string, props: Record<string, unknown>, protect = false): Promise<string[]> {
  const r = resource(type, name, props, protect);
  const req = new pb.AnalyzeRequest().setType(r.type).setName(r.name).setUrn(r.urn).setProperties(r.properties).setOptions(r.options);
  const res = await call<pb.AnalyzeRequest, pb.AnalyzeResponse>(client.analyze, req);
  return res.getDiagnosticsList().map((d) => `${LEVEL[d.getEnforcementlevel()]}:${d.getPolicyname()}`);
}

/** Configures the pack as the CLI does: every policy with its level and schema defaults, then the overrides. */
async function configure(overrides: Record<string, { enforcementLevel?: pb.EnforcementLevel; properties?: Record<string, unknown> }> = {}): Promise<void> {
  const info = await call<Empty, pb.AnalyzerInfo>(client.getAnalyzerInfo, new Empty());
  const req = new pb.ConfigureAnalyzerRequest();
  for (const p of info.getPoliciesList()) {
    const schema = (p.getConfigschema()?.getProperties()?.toJavaScript() ?? {}) as Record<string, { default?: unknown }>;
    const defaults = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, v.default]));
    const o = overrides[p.getName()] ?? {};
    const config = new pb.PolicyConfig().setEnforcementlevel(o.enforcementLevel ?? p.getEnforcementlevel());
    config.setProperties(Struct.fromJavaScript({ ...defaults, ...o.properties } as never));
    req.getPolicyconfigMap().set(p.getName(), config);
  }
  await call(client.configure, req);
}

const soundCluster = {
  clusterName: "hydrology-dask-prod",
  dockerImage: { url: DIGEST, basicAuth: { username: "5b2e7d4a", password: secret("{{secrets/dcs-hydrology/acr-pull-secret}}") } },
  dataSecurityMode: "SINGLE_USER",
  singleUserName: "5b2e7d4a",
  sparkVersion: "16.4.x-scala2.12",
  autoterminationMinutes: 90,
  customTags: TAGS,
  initScripts: [{ workspace: { destination: "/Shared/dcs/prod/init-scripts/init_script_dask.sh" } }],
};
const soundRegistry = { registryName: "dcshydroprod", sku: { name: "Premium" }, adminUserEnabled: false, anonymousPullEnabled: false, tags: TAGS };

beforeAll(async () => {
  const runPolicyPack = fromPack.resolve("@pulumi/pulumi/cmd/run-policy-pack");
  pack = spawn(process.execPath, [runPolicyPack, "127.0.0.1:1", PACK_DIR], { cwd: PACK_DIR, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PULUMI_NODEJS_STACK: "prod" } });
  pack.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    pack.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && /^\d+$/.test(line.trim())) resolve(line.trim());
    });
    pack.on("exit", (code) => reject(new Error(`the pack exited (${code}) before serving: ${stderr}${out}`)));
  });
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure() as never);
}, 60_000);

afterAll(() => {
  client?.close();
  if (pack?.pid !== undefined && pack.exitCode === null) pack.kill();
});

describe("the pack under the analyzer protocol", () => {
  it("loads from policy/ with the repository's node_modules and describes every policy", async () => {
    const info = await call<Empty, pb.AnalyzerInfo>(client.getAnalyzerInfo, new Empty());
    expect(info.getName()).toBe(PACK_NAME);
    expect(info.getVersion()).toBe((fromPack("./package.json") as { version: string }).version);
    expect(info.getSupportsconfig()).toBe(true);
    expect(info.getPoliciesList().map((p) => [p.getName(), LEVEL[p.getEnforcementlevel()]])).toEqual(GUARDRAILS.map((g) => [g.name, g.enforcement]));
    const schema = (name: string) => info.getPoliciesList().find((p) => p.getName() === name)?.getConfigschema()?.getProperties()?.toJavaScript();
    expect(schema("cluster-auto-termination")).toMatchObject({ maxAutoterminationMinutes: { type: "integer", default: DEFAULT_CONFIG.maxAutoterminationMinutes } });
    expect(schema("cluster-cost-tags")).toMatchObject({ costTags: { default: DEFAULT_CONFIG.costTags } });
    expect(stderr).toBe("");
  });

  it("finds nothing in a sound registry and cluster", async () => {
    await configure();
    expect(await analyze(REGISTRY, "registry-acr", soundRegistry, true)).toEqual([]);
    expect(await analyze(CLUSTER, "cluster-dask-cluster", soundCluster)).toEqual([]);
  });

  it("reports a bad prod registry's violations, mandatory", async () => {
    const bad = { ...soundRegistry, adminUserEnabled: true, anonymousPullEnabled: true };
    expect(await analyze(REGISTRY, "registry-acr", bad, false)).toEqual(["mandatory:acr-admin-user-disabled", "mandatory:acr-anonymous-pull-disabled", "mandatory:registry-protected-in-prod"]);
  });

  it("neither flags nor gives up on values not known during a preview", async () => {
    const unknown = {
      ...soundCluster,
      dockerImage: { url: UNKNOWN, basicAuth: { username: UNKNOWN, password: secret(UNKNOWN) } },
      dataSecurityMode: UNKNOWN,
      sparkVersion: UNKNOWN,
      autoterminationMinutes: UNKNOWN,
      customTags: UNKNOWN,
    };
    expect(await analyze(CLUSTER, "cluster-dask-cluster", unknown)).toEqual([]);
    expect(await analyze(REGISTRY, "registry-acr", { ...soundRegistry, adminUserEnabled: UNKNOWN, tags: UNKNOWN }, true)).toEqual([]);
    // The stack name in the URN still says prod: an unprotected registry is flagged even with its tags unknown.
    expect(await analyze(REGISTRY, "registry-acr", { ...soundRegistry, tags: UNKNOWN }, false)).toEqual(["mandatory:registry-protected-in-prod"]);
  });

  it("reads a property the program did not set as absent", async () => {
    const noMode: Record<string, unknown> = { ...soundCluster };
    delete noMode.dataSecurityMode;
    expect(await analyze(CLUSTER, "cluster-dask-cluster", noMode)).toEqual(["mandatory:cluster-dedicated-access-mode"]);
  });

  it("takes settings and enforcement levels from the pack config", async () => {
    await configure({ "cluster-auto-termination": { properties: { maxAutoterminationMinutes: 60 } } });
    expect(await analyze(CLUSTER, "cluster-dask-cluster", soundCluster)).toEqual(["mandatory:cluster-auto-termination"]);
    await configure({ "cluster-auto-termination": { enforcementLevel: pb.EnforcementLevel.ADVISORY, properties: { maxAutoterminationMinutes: 60 } } });
    expect(await analyze(CLUSTER, "cluster-dask-cluster", soundCluster)).toEqual(["advisory:cluster-auto-termination"]);
    await configure({ "cluster-auto-termination": { enforcementLevel: pb.EnforcementLevel.DISABLED } });
    expect(await analyze(CLUSTER, "cluster-dask-cluster", { ...soundCluster, autoterminationMinutes: 0 })).toEqual([]);
    await configure();
  });

  it("checks the stack as a whole, reporting against the violating resource", async () => {
    const foreign = { ...soundCluster, dockerImage: { ...soundCluster.dockerImage, url: `elsewhere.azurecr.io/x@sha256:${"b".repeat(64)}` } };
    const resources = [resource(REGISTRY, "registry-acr", { ...soundRegistry, loginServer: UNKNOWN }, true), resource(CLUSTER, "cluster-dask-cluster", foreign)].map((r) =>
      new pb.AnalyzerResource().setUrn(r.urn).setType(r.type).setName(r.name).setProperties(r.properties).setOptions(r.options),
    );
    const res = await call<pb.AnalyzeStackRequest, pb.AnalyzeResponse>(client.analyzeStack, new pb.AnalyzeStackRequest().setResourcesList(resources));
    expect(res.getDiagnosticsList().map((d) => [LEVEL[d.getEnforcementlevel()], d.getPolicyname(), d.getUrn()])).toEqual([
      ["mandatory", "cluster-image-from-stack-registry", urn(CLUSTER, "cluster-dask-cluster")],
    ]);
  });
});
