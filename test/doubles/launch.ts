/**
 * Starts the local doubles (issuer and GitHub) on 127.0.0.1 and says where they listen. Shared by the
 * vitest global setup, the demo and the benchmark, so all three exercise the same doubles.
 */

import { GitHubDouble } from "./github";
import { IssuerDouble } from "./issuer";
import type { OutboundRoutes } from "./outbound";
import { type StartedServer, startServer } from "./server";

/** Real issuer hostnames the outbound router sends to the issuer double. */
const ISSUER_HOSTS = [
  "token.actions.githubusercontent.com",
  "gitlab.com",
  "agent.buildkite.com",
  "oidc.eks.us-west-2.amazonaws.com",
  "accounts.google.com",
] as const;

/** Real GitHub API hostnames the outbound router sends to the GitHub double. */
const GITHUB_HOSTS = ["api.github.com", "github.example.com"] as const;

export interface Doubles {
  issuer: { url: string; double: IssuerDouble };
  github: { url: string; double: GitHubDouble };
  routes: OutboundRoutes;
  close(): Promise<void>;
}

interface DoublesOptions {
  issuerPort?: number;
  githubPort?: number;
}

export async function startDoubles(options: DoublesOptions = {}): Promise<Doubles> {
  let issuer: IssuerDouble | undefined;
  let github: GitHubDouble | undefined;
  const issuerServer: StartedServer = await startServer(
    (req) => (issuer as IssuerDouble).handle(req),
    options.issuerPort,
  );
  const githubServer: StartedServer = await startServer(
    (req) => (github as GitHubDouble).handle(req),
    options.githubPort,
  );
  issuer = new IssuerDouble(issuerServer.url);
  github = new GitHubDouble(githubServer.url);
  const hosts: Record<string, string> = {};
  for (const h of ISSUER_HOSTS) hosts[h] = issuerServer.url;
  for (const h of GITHUB_HOSTS) hosts[h] = githubServer.url;
  return {
    issuer: { url: issuerServer.url, double: issuer },
    github: { url: githubServer.url, double: github },
    routes: { hosts },
    async close() {
      await Promise.all([issuerServer.close(), githubServer.close()]);
    },
  };
}
