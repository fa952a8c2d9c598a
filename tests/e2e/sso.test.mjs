// supabase-js signInWithSSO through a SAML 2.0 identity provider played by this file: it has its own
// key and certificate (openssl), is registered with /admin/sso/providers, and answers the AuthnRequest
// with a signed assertion posted to the ACS, as a browser would carry it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { createClient, isAuthApiError } from '@supabase/supabase-js';
import ws from 'ws';
import { anonKey, jwtPayload, newClient, url } from './lib/helpers.mjs';

const serviceRoleKey = process.env.SUPABASE_SERVICE_ROLE_KEY;
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

/** An IdP: RSA key and self-signed certificate from openssl, its metadata. */
function newIdp() {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-idp-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'),
      '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=e2e-idp'], { stdio: 'ignore' });
    const key = createPrivateKey(readFileSync(join(dir, 'key.pem')));
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, '');
    const entityId = `https://idp-${randomUUID()}.example.test/metadata`;
    const metadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">`
      + '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
      + `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="${DSIG}"><ds:X509Data><ds:X509Certificate>${cert}`
      + '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
      + '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/>'
      + '</md:IDPSSODescriptor></md:EntityDescriptor>';
    return { key, cert, entityId, metadata };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * A response whose assertion is signed (enveloped, exclusive c14n, RSA-SHA256). The XML is written
 * already in canonical form (attributes sorted, no whitespace between elements, explicit end tags,
 * namespaces declared where they are used), so the signed bytes are the text itself.
 */
function signedResponse(idp, { acs, audience, inResponseTo, email, name }) {
  const now = Date.now();
  const id = `_a${randomUUID().replaceAll('-', '')}`;
  const head = `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" IssueInstant="${iso(now)}" Version="2.0">`
    + `<saml:Issuer>${idp.entityId}</saml:Issuer>`;
  const body = '<saml:Subject>'
    + `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${email}</saml:NameID>`
    + '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
    + `<saml:SubjectConfirmationData InResponseTo="${inResponseTo}" NotOnOrAfter="${iso(now + 300_000)}" Recipient="${acs}"></saml:SubjectConfirmationData>`
    + '</saml:SubjectConfirmation></saml:Subject>'
    + `<saml:Conditions NotBefore="${iso(now - 30_000)}" NotOnOrAfter="${iso(now + 300_000)}">`
    + `<saml:AudienceRestriction><saml:Audience>${audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
    + `<saml:AuthnStatement AuthnInstant="${iso(now)}"><saml:AuthnContext><saml:AuthnContextClassRef>`
    + 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>'
    + '<saml:AttributeStatement><saml:Attribute Name="displayName">'
    + `<saml:AttributeValue>${name}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`
    + '</saml:Assertion>';
  const digest = createHash('sha256').update(head + body).digest('base64');
  const signedInfo = `<ds:SignedInfo xmlns:ds="${DSIG}">`
    + `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>`
    + '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>'
    + `<ds:Reference URI="#${id}"><ds:Transforms>`
    + `<ds:Transform Algorithm="${DSIG}enveloped-signature"></ds:Transform><ds:Transform Algorithm="${EXC_C14N}"></ds:Transform>`
    + '</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>'
    + `<ds:DigestValue>${digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>`;
  const signatureValue = sign('sha256', Buffer.from(signedInfo), idp.key).toString('base64');
  const signature = `<ds:Signature xmlns:ds="${DSIG}">${signedInfo}<ds:SignatureValue>${signatureValue}</ds:SignatureValue>`
    + `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${idp.cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`;
  const response = '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    + `ID="_r${randomUUID().replaceAll('-', '')}" Version="2.0" IssueInstant="${iso(now)}" Destination="${acs}" InResponseTo="${inResponseTo}">`
    + `<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${idp.entityId}</saml:Issuer>`
    + '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"></samlp:StatusCode></samlp:Status>'
    + head + signature + body + '</samlp:Response>';
  return Buffer.from(response).toString('base64');
}

/** Our SP's EntityID and ACS URL, from its metadata (what an admin gives the IdP). */
async function spMetadata() {
  const xml = await (await fetch(`${url}/auth/v1/sso/saml/metadata`)).text();
  return {
    entityId: /entityID="([^"]+)"/.exec(xml)[1],
    acs: /<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="([^"]+)"/.exec(xml)[1],
  };
}

async function createProvider(idp, domain) {
  const response = await fetch(`${url}/auth/v1/admin/sso/providers`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${serviceRoleKey}`, apikey: serviceRoleKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      type: 'saml',
      metadata_xml: idp.metadata,
      domains: [domain],
      attribute_mapping: { keys: { name: { name: 'displayName' } } },
    }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return response.json();
}

/** The IdP's side of the redirect supabase-js hands the browser: answer the AuthnRequest, post to the ACS. */
async function completeAtIdp(idp, ssoUrl, email) {
  const redirect = new URL(ssoUrl);
  const request = inflateRawSync(Buffer.from(redirect.searchParams.get('SAMLRequest'), 'base64')).toString('utf8');
  const requestId = /ID="([^"]+)"/.exec(request)[1];
  const sp = await spMetadata();
  const form = new URLSearchParams({
    SAMLResponse: signedResponse(idp, { acs: sp.acs, audience: sp.entityId, inResponseTo: requestId, email, name: 'E2E Person' }),
    RelayState: redirect.searchParams.get('RelayState'),
  });
  const response = await fetch(`${url}/auth/v1/sso/saml/acs`, { method: 'POST', body: form, redirect: 'manual' });
  assert.equal(response.status, 302, response.headers.get('location'));
  return new URL(response.headers.get('location'));
}

test('signInWithSSO by domain: the IdP answers, the ACS redirects with a session (implicit flow)', async () => {
  const idp = newIdp();
  const domain = `e2e-${randomUUID()}.test`;
  const provider = await createProvider(idp, domain);
  const client = newClient();

  const { data, error } = await client.auth.signInWithSSO({ domain });
  assert.equal(error, null, error?.message);
  assert.ok(data.url.startsWith('https://idp.example.test/sso?SAMLRequest='));

  const email = `ada@${domain}`;
  const landed = await completeAtIdp(idp, data.url, email);
  const fragment = new URLSearchParams(landed.hash.slice(1));
  assert.equal(fragment.get('token_type'), 'bearer');
  assert.deepEqual(jwtPayload(fragment.get('access_token')).amr.map((a) => a.method), ['sso/saml']);

  const { data: session, error: setError } = await client.auth.setSession({
    access_token: fragment.get('access_token'),
    refresh_token: fragment.get('refresh_token'),
  });
  assert.equal(setError, null, setError?.message);
  assert.equal(session.user.email, email);
  assert.equal(session.user.app_metadata.provider, `sso:${provider.id}`);
  assert.equal(session.user.user_metadata.name, 'E2E Person');
  const { data: refreshed, error: refreshError } = await client.auth.refreshSession();
  assert.equal(refreshError, null, refreshError?.message);
  assert.equal(refreshed.user.id, session.user.id);
});

test('signInWithSSO by provider id with PKCE: exchangeCodeForSession', async () => {
  const idp = newIdp();
  const domain = `e2e-${randomUUID()}.test`;
  const provider = await createProvider(idp, domain);
  const client = createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType: 'pkce' },
    realtime: { transport: ws },
  });

  const { data, error } = await client.auth.signInWithSSO({ providerId: provider.id });
  assert.equal(error, null, error?.message);
  const landed = await completeAtIdp(idp, data.url, `grace@${domain}`);
  const code = landed.searchParams.get('code');
  assert.ok(code, landed.toString());

  const { data: exchanged, error: exchangeError } = await client.auth.exchangeCodeForSession(code);
  assert.equal(exchangeError, null, exchangeError?.message);
  assert.equal(exchanged.user.email, `grace@${domain}`);
  assert.deepEqual(jwtPayload(exchanged.session.access_token).amr.map((a) => a.method), ['sso/saml']);
});

test('signInWithSSO for a domain without a provider: AuthApiError sso_provider_not_found', async () => {
  const { error } = await newClient().auth.signInWithSSO({ domain: `nobody-${randomUUID()}.test` });
  assert.ok(isAuthApiError(error));
  assert.equal(error.status, 404);
  assert.equal(error.code, 'sso_provider_not_found');
  assert.equal(error.message, 'No SSO provider assigned for this domain');
});
