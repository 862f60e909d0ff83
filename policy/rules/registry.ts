/** Rules for container registries. */
import { read, readTag, stackOfUrn, UNKNOWN } from "../reading";
import { REGISTRY, type Rule } from "../types";

export const acrAdminUserDisabled: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== REGISTRY || read(props, "adminUserEnabled", undefinedMeans) !== true) return [];
  const env = readTag(type, props, "environment", undefinedMeans);
  if (env === "dev" || env === UNKNOWN) return [];
  return [
    `registry ${name} enables the admin user: one shared password that cannot be scoped, rotated per consumer or audited. Set adminUserEnabled: false and push and pull with service principals (AcrPush, AcrPull); only a dev registry (tag environment=dev) may keep it on.`,
  ];
};

export const acrAdminUserDevOnly: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== REGISTRY || read(props, "adminUserEnabled", undefinedMeans) !== true) return [];
  if (readTag(type, props, "environment", undefinedMeans) !== "dev") return [];
  return [`dev registry ${name} enables the admin user; turn it off (dcs:registry.adminUserEnabled: false) once pushes use a service principal.`];
};

export const acrAnonymousPullDisabled: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== REGISTRY || read(props, "anonymousPullEnabled", undefinedMeans) !== true) return [];
  return [`registry ${name} allows anonymous pull, so anyone can read the team's images; set anonymousPullEnabled: false and grant AcrPull to the cluster's identity.`];
};


export const registryProtectedInProd: Rule = (type, props, { name, urn, opts, config, undefinedMeans }) => {
  if (type !== REGISTRY) return [];
  const env = readTag(type, props, "environment", undefinedMeans);
  const stackName = stackOfUrn(urn);
  const because = [
    typeof env === "string" && config.protectedEnvironments.includes(env) ? `tag environment=${env}` : undefined,
    stackName !== undefined && config.protectedEnvironments.includes(stackName) ? `stack ${stackName}` : undefined,
  ].filter((x) => x !== undefined);
  if (because.length === 0) return [];
  const protect = opts === undefined ? (undefinedMeans === "unknown" ? UNKNOWN : undefined) : opts.protect;
  if (protect === true || protect === UNKNOWN) return [];
  return [
    `registry ${name} belongs to a protected environment (${because.join(", ")}) but is not protected from deletion; give it the protect resource option (dcs:registry.protect: true).`,
  ];
};

