// sigstore-js as an independent party for the provenance tests: it signs, attaches and
// verifies with code nobody on this project wrote. The Fulcio, Rekor and CT log it signs
// against are @sigstore/mock's, served on loopback; the trusted root is made from their keys.
//
//   node sigstore.js sign    SIGN="label=<sha256 hex>=<identity> ..." ISSUER=<url> OUT=<dir>
//       writes OUT/<label>.sigstore.json for each job and OUT/trusted_root.json (one instance)
//   node sigstore.js serve   OUT=<dir> IDENTITY=<sub> ISSUER=<url>
//       serves Fulcio and Rekor until stdin closes; writes OUT/trusted_root.json and
//       OUT/token (an OIDC token for IDENTITY), then prints the base URL on stdout
//   node sigstore.js verify  BUNDLE=<file> ROOT=<file> DIGEST=<sha256 hex>
//       (IDENTITY=<san> ISSUER=<url> | PUBLIC_KEY=<pem file>)
//       prints the signer as JSON, or fails with the verifier's reason
//   node sigstore.js attach  REGISTRY=127.0.0.1:<port> REPO=<name> DIGEST=sha256:<hex> BUNDLE=<file>
//       attaches the bundle to the manifest as a referrer, as actions/attest does
//
// Statements are in-toto v1 with predicateType https://slsa.dev/provenance/v1, as
// actions/attest-build-provenance writes them. The mock Rekor echoes the entry it is sent:
// a `dsse` entry echoed that way never verifies, an `intoto` 0.0.2 entry does.
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const mock = require('@sigstore/mock');
const { DSSEBundleBuilder, FulcioSigner, RekorWitness } = require('@sigstore/sign');
const { bundleToJSON, bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const env = (name, fallback) => {
  const value = process.env[name] || fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const b64 = bytes => Buffer.from(bytes).toString('base64');
const b64url = value => Buffer.from(JSON.stringify(value)).toString('base64url');
const ecKey = () => crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

// Mock Fulcio, Rekor and CT log on one loopback port, and the trusted root for them.
async function startInstance() {
  const since = new Date(Date.now() - 3600e3).toISOString();
  const ctlog = await mock.initializeCTLog(ecKey());
  const ca = await mock.initializeCA(ecKey(), ctlog);
  const server = http.createServer();
  await new Promise(ready => server.listen(0, '127.0.0.1', ready));
  const base = `http://127.0.0.1:${server.address().port}`;
  const tlog = await mock.initializeTLog(base, ecKey());
  const handlers = [mock.fulcioHandler(ca, { strict: true }), mock.rekorHandler(tlog, { strict: true })];
  server.on('request', (req, res) => {
    let body = '';
    req.on('data', chunk => (body += chunk));
    req.on('end', async () => {
      const handler = handlers.find(h => req.url.startsWith(h.path));
      if (!handler) {
        res.writeHead(404);
        return res.end();
      }
      const out = await handler.fn(body);
      res.writeHead(out.statusCode, { 'content-type': out.contentType || 'application/json' });
      res.end(out.response);
    });
  });
  const keyId = spki => crypto.createHash('sha256').update(spki).digest().toString('base64');
  const logKey = spki => ({ rawBytes: b64(spki), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: since } });
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: base, hashAlgorithm: 'SHA2_256', publicKey: logKey(tlog.publicKey), logId: { keyId: keyId(tlog.publicKey) } }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: base,
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
      validFor: { start: since },
    }],
    ctlogs: [{ baseUrl: base, hashAlgorithm: 'SHA2_256', publicKey: logKey(ctlog.publicKey), logId: { keyId: b64(ctlog.logID) } }],
    timestampAuthorities: [],
  };
  return { server, base, root };
}

// An OIDC token the mock Fulcio accepts: it reads the claims and does not check a signature.
function token(identity, issuer) {
  const claims = { iss: issuer, sub: identity, aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600 };
  if (identity.includes('@')) Object.assign(claims, { email: identity, email_verified: true });
  return `${b64url({ alg: 'none' })}.${b64url(claims)}.x`;
}

function statement(name, hex) {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name, digest: { sha256: hex } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: { buildDefinition: { buildType: 'https://wreg.invalid/test' } },
  };
}

async function sign() {
  const issuer = env('ISSUER', 'https://token.actions.githubusercontent.com');
  const out = env('OUT');
  const { server, base, root } = await startInstance();
  try {
    fs.writeFileSync(`${out}/trusted_root.json`, JSON.stringify(root, null, 1));
    for (const job of env('SIGN').trim().split(/\s+/)) {
      const [label, hex, identity] = job.split('=');
      const builder = new DSSEBundleBuilder({
        signer: new FulcioSigner({ fulcioBaseURL: base, identityProvider: { getToken: async () => token(identity, issuer) } }),
        witnesses: [new RekorWitness({ rekorBaseURL: base, entryType: 'intoto' })],
      });
      const data = Buffer.from(JSON.stringify(statement(process.env.NAME || label, hex)));
      const bundle = await builder.create({ data, type: 'application/vnd.in-toto+json' });
      fs.writeFileSync(`${out}/${label}.sigstore.json`, JSON.stringify(bundleToJSON(bundle)));
    }
  } finally {
    server.close();
  }
}

async function serve() {
  const out = env('OUT');
  const { server, base, root } = await startInstance();
  fs.writeFileSync(`${out}/trusted_root.json`, JSON.stringify(root, null, 1));
  fs.writeFileSync(`${out}/token`, token(env('IDENTITY'), env('ISSUER')));
  process.stdout.write(`${base}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => server.close(() => process.exit(0)));
}

function verify() {
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(env('ROOT'), 'utf8')));
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(env('BUNDLE'), 'utf8')));
  let keys;
  let policy = {};
  if (process.env.PUBLIC_KEY) {
    const pem = fs.readFileSync(process.env.PUBLIC_KEY, 'utf8');
    const spki = crypto.createPublicKey(pem).export({ type: 'spki', format: 'der' });
    keys = () => ({ publicKey: crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' }), validFor: () => true });
  } else {
    policy = { subjectAlternativeName: env('IDENTITY'), extensions: { issuer: env('ISSUER') } };
  }
  const verifier = new Verifier(toTrustMaterial(root, keys));
  const signer = verifier.verify(toSignedEntity(bundle), policy);
  // The statement must name the digest: sigstore-js checks the signature, the caller the subject.
  const envelope = bundle.content.dsseEnvelope;
  const subjects = JSON.parse(Buffer.from(envelope.payload).toString('utf8')).subject || [];
  if (!subjects.some(s => s.digest && s.digest.sha256 === env('DIGEST'))) {
    throw new Error(`no subject of the statement has sha256 ${env('DIGEST')}`);
  }
  const identity = signer.identity || {};
  process.stdout.write(JSON.stringify({
    identity: identity.subjectAlternativeName || null,
    issuer: (identity.extensions || {}).issuer || null,
  }) + '\n');
}

async function attach() {
  const { attachArtifactToImage } = require('@sigstore/oci');
  const descriptor = await attachArtifactToImage({
    imageName: `${env('REGISTRY')}/${env('REPO')}`,
    imageDigest: env('DIGEST'),
    artifact: fs.readFileSync(env('BUNDLE')),
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': 'https://slsa.dev/provenance/v1' },
    // An anonymous registry answers the sign-in probe without a challenge, which
    // @sigstore/oci cannot parse: sign in only with credentials.
    credentials: process.env.OCI_USER ? { username: process.env.OCI_USER, password: process.env.OCI_PASSWORD || '' } : undefined,
  });
  process.stdout.write(`${descriptor.digest}\n`);
}

const commands = { sign, serve, verify, attach };
const command = commands[process.argv[2]];
if (!command) {
  console.error(`usage: node sigstore.js ${Object.keys(commands).join('|')} (see the comment at the top)`);
  process.exit(64);
}
Promise.resolve()
  .then(command)
  .catch(err => {
    let text = `sigstore-js ${process.argv[2]}: ${err.stack || err}`;
    for (let cause = err.cause; cause; cause = cause.cause) text += `\ncaused by: ${cause.stack || cause}`;
    console.error(text);
    process.exit(1);
  });
