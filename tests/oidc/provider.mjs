// A real OpenID provider (panva's certified oidc-provider) on loopback, for
// Larmkoll's OpenID Connect tests. What is ours: the login page (any account
// name, and the assurance level to vouch for), accounts made up from the name,
// consent taken as given for this one client, and a test hook that makes the
// NEXT token response carry an ID token the provider would never issue (another
// issuer, audience or nonce, already expired, or signed with a key not in its
// JWKS): the attacks Larmkoll must refuse. Everything else (discovery, JWKS,
// PKCE, the code, the token endpoint, client authentication, RP-initiated
// logout) is the library's own.
//
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_URI.
// Every start makes a new signing key: restarting it on the same port is a key
// rotation. Prints "ready <issuer> <kid>" when listening.
import http from "node:http";
import crypto from "node:crypto";
import Provider from "oidc-provider";
import * as jose from "jose";

const port = Number(process.env.PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const kid = crypto.randomUUID();
const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
const signing = { ...(await jose.exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
const foreign = (await jose.generateKeyPair("RS256", { extractable: true })).privateKey;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [process.env.REDIRECT_URI],
      post_logout_redirect_uris: (process.env.POST_LOGOUT_URI || "").split(",").filter(Boolean),
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: { keys: [signing] },
  pkce: { required: () => true },
  acrValues: ["http://id.elegnamnden.se/loa/1.0/loa2", "http://id.elegnamnden.se/loa/1.0/loa3"],
  claims: { openid: ["sub"], email: ["email"], profile: ["name"], acr: null, auth_time: null },
  cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    return { accountId: sub, claims: async () => ({ sub, email: `${sub}@kommun.test`, name: sub }) };
  },
  // One first-party client: consent is the municipality's, given once for all.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid email profile");
    await grant.save();
    return grant;
  },
});

// The next token response's ID token, altered as the test asked.
let tamper = null;
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === "/token" && tamper && ctx.body?.id_token) {
    const change = tamper;
    tamper = null;
    const claims = { ...jose.decodeJwt(ctx.body.id_token) };
    for (const k of ["iss", "aud", "nonce"]) if (change[k] !== undefined) claims[k] = change[k];
    if (change.expired) {
      claims.iat = Math.floor(Date.now() / 1000) - 3600;
      claims.exp = Math.floor(Date.now() / 1000) - 1800;
    }
    const key = change.foreign_key ? foreign : privateKey;
    ctx.body.id_token = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: change.foreign_key ? "not-in-jwks" : kid })
      .sign(key);
  }
});

const callback = provider.callback();

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => resolve(new URLSearchParams(body)));
    req.on("error", reject);
  });
}

const page = (uid) => `<!doctype html><html lang="sv"><meta charset="utf-8"><title>Testleverantör</title>
<form method="post" action="/interaction/${uid}/login">
<label>Konto <input name="login" autofocus></label>
<label>Tillitsnivå <select name="acr">
<option value="http://id.elegnamnden.se/loa/1.0/loa3">LoA3</option>
<option value="http://id.elegnamnden.se/loa/1.0/loa2">LoA2</option>
</select></label>
<button type="submit">Logga in hos leverantören</button></form></html>`;

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (req.method === "POST" && url.pathname === "/__test/tamper") {
      const body = await new Promise((r) => {
        let b = "";
        req.on("data", (c) => (b += c));
        req.on("end", () => r(b));
      });
      tamper = JSON.parse(body || "{}");
      res.writeHead(204).end();
      return;
    }
    const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (m) {
      const details = await provider.interactionDetails(req, res);
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page(details.uid));
        return;
      }
      const form = await readForm(req);
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: form.get("login"), acr: form.get("acr") } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    callback(req, res);
  } catch (e) {
    res.writeHead(500, { "content-type": "text/plain" }).end(String(e));
  }
});

server.listen(port, "127.0.0.1", () => {
  console.log(`ready ${issuer} ${kid}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
