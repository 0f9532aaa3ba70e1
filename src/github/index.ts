/**
 * @module github
 * The GitHub App side of the exchange (steps 8, 9, 11 and 13 of docs/refusals.md, "Evaluation order"): a
 * remembered policy 404, the installation of the owner, the policy text, and the caller's token. The
 * exchange's warm path costs exactly one GitHub call (the mint): the App JWT, the installation and the policy
 * come from isolate memory.
 */

export { parseAppPrivateKey } from "./app-key";
export { findInstallation, forgetInstallation, installationPermissions } from "./installation";
export { appJwt, appJwtSignatures } from "./jwt";
export { lackingPermissions, mintBody, mintInstallationToken } from "./mint";
export { evictOrgIssuers, lookupOrgIssuers, type OrgIssuers } from "./org-issuers-store";
export {
  evictPolicy,
  lookupPolicy,
  readPolicy,
} from "./policy-store";
export type { Installation, MintedToken, PolicyText, TokenRequest, Waiter } from "./types";
