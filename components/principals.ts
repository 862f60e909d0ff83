/**
 * Databricks principals as configuration names them: a user by e-mail, a
 * service principal by its application id (a GUID), a group by its name. The
 * Permissions resource takes each in a field of its own.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One access-control entry of `databricks.Permissions` for a principal named the way config names it. */
export function accessControlFor(principal: string, permissionLevel: string): { userName?: string; servicePrincipalName?: string; groupName?: string; permissionLevel: string } {
  if (GUID.test(principal)) return { servicePrincipalName: principal, permissionLevel };
  if (principal.includes("@")) return { userName: principal, permissionLevel };
  return { groupName: principal, permissionLevel };
}
