/**
 * @module trust/permissions
 * The permission names and levels a policy may grant (docs/policy-reference.md, "Permissions"), apart
 * from the schema so that what only checks a policy's normal form loads no schema library.
 */

/** Exactly the JSON tags of go-github v88 `InstallationPermissions`: the names GitHub's API takes. */
export const PERMISSION_KEYS = [
  "actions",
  "actions_variables",
  "administration",
  "attestations",
  "blocking",
  "checks",
  "codespaces",
  "codespaces_lifecycle_admin",
  "codespaces_metadata",
  "codespaces_secrets",
  "codespaces_user_secrets",
  "contents",
  "content_references",
  "copilot_messages",
  "dependabot_secrets",
  "deployments",
  "discussions",
  "emails",
  "environments",
  "followers",
  "gists",
  "git_signing_ssh_public_keys",
  "gpg_keys",
  "interaction_limits",
  "issues",
  "keys",
  "metadata",
  "members",
  "merge_queues",
  "organization_actions_variables",
  "organization_administration",
  "organization_announcement_banners",
  "organization_api_insights",
  "organization_codespaces",
  "organization_codespaces_secrets",
  "organization_codespaces_settings",
  "organization_copilot_metrics",
  "organization_copilot_seat_management",
  "organization_custom_properties",
  "organization_custom_roles",
  "organization_custom_org_roles",
  "organization_dependabot_secrets",
  "organization_events",
  "organization_hooks",
  "organization_knowledge_bases",
  "organization_packages",
  "organization_personal_access_tokens",
  "organization_personal_access_token_requests",
  "organization_plan",
  "organization_pre_receive_hooks",
  "organization_projects",
  "organization_secrets",
  "organization_self_hosted_runners",
  "organization_user_blocking",
  "packages",
  "pages",
  "plan",
  "profile",
  "pull_requests",
  "repository_advisories",
  "repository_custom_properties",
  "repository_hooks",
  "repository_projects",
  "repository_pre_receive_hooks",
  "secrets",
  "secret_scanning_alerts",
  "security_events",
  "single_file",
  "starring",
  "statuses",
  "team_discussions",
  "user_events",
  "vulnerability_alerts",
  "watching",
  "workflows",
] as const;

export type PermissionKey = (typeof PERMISSION_KEYS)[number];

/**
 * Anything but these is a compile error (docs/differences-from-octo-sts.md, "Permission values"; upstream let
 * `writ` through, octo-sts#932).
 */
export const PERMISSION_LEVELS = ["read", "write", "admin"] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];
