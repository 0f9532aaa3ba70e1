/**
 * `npm run -s mint-demo-token -- [options]`: prints a fresh OIDC token from the issuer double of a
 * running `npm run demo`, for pasting into curl. The token is signed by the double's key (the Worker of
 * the demo trusts it because the demo routes the real issuer hostnames to the double); it is worthless
 * anywhere else.
 */

import { IssuerDoubleClient } from "../test/shared/issuer-double";
import { describeNetworkError, exitOnError } from "./lib/cli";
import { CLAIM_SET_NOTES, CLAIM_SETS, DEFAULT_PORTS, demoClaims, issuerHostOf } from "./lib/demo-world";

const USAGE = `usage: npm run -s mint-demo-token -- [--claims NAME] [--claim NAME=VALUE]... [--aud AUDIENCE]
                                     [--expires-in SECONDS] [--issuer-url URL] [--print-claims] [--list]
  Prints a fresh OIDC token (only the token, on stdout) from the issuer double of a running npm run demo.
  --claims NAME       the claim set to start from (default push; --list shows them)
  --claim N=V         set one claim (repeatable), e.g. --claim sub=repo:acme/deploy-tools:ref:refs/heads/dev
  --aud AUDIENCE      the audience (default localhost:${DEFAULT_PORTS.worker}, the demo's STS_DOMAIN)
  --expires-in S      lifetime in seconds (default 300)
  --issuer-url URL    the issuer double (default http://127.0.0.1:${DEFAULT_PORTS.issuer})
  --print-claims      also print the claims, to stderr`;

function usage(problem: string): never {
  console.error(`mint-demo-token: ${problem}\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let claimSet = "push";
  let audience: string | undefined;
  let issuerUrl = `http://127.0.0.1:${DEFAULT_PORTS.issuer}`;
  let expiresIn = 300;
  let printClaims = false;
  const extra: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${arg} needs a value`);
      return v;
    };
    if (arg === "--claims") claimSet = value();
    else if (arg === "--aud") audience = value();
    else if (arg === "--issuer-url") issuerUrl = value();
    else if (arg === "--expires-in") {
      expiresIn = Number(value());
      if (!Number.isInteger(expiresIn) || expiresIn < 1) usage("--expires-in needs a number of seconds");
    } else if (arg === "--claim") {
      const pair = value();
      const eq = pair.indexOf("=");
      if (eq < 1) usage(`--claim needs NAME=VALUE, got ${pair}`);
      extra[pair.slice(0, eq)] = pair.slice(eq + 1);
    } else if (arg === "--print-claims") printClaims = true;
    else if (arg === "--list") {
      for (const name of Object.keys(CLAIM_SETS))
        console.log(`${name.padEnd(18)} ${CLAIM_SET_NOTES[name] ?? ""}`);
      return;
    } else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      return;
    } else usage(`unknown argument ${arg}`);
  }
  if (CLAIM_SETS[claimSet] === undefined) usage(`unknown claim set ${claimSet} (see --list)`);
  const claims = demoClaims(`localhost:${DEFAULT_PORTS.worker}`, { claimSet, audience, claims: extra });
  const client = new IssuerDoubleClient(issuerUrl);
  let token: string;
  try {
    const tenant = await client.createIssuer({ host: issuerHostOf(claims) });
    token = await client.mintToken(tenant.id, { claims, expiresIn });
  } catch (error) {
    console.error(
      `mint-demo-token: no issuer double answered at ${issuerUrl} (${describeNetworkError(error)}).`,
    );
    console.error("Start the demo first (npm run demo), or pass --issuer-url with the URL it printed.");
    process.exit(1);
  }
  if (printClaims) console.error(JSON.stringify(claims, null, 2));
  console.log(token);
}

main().catch(exitOnError("mint-demo-token"));
