// signInWithWeb3 for Solana and Ethereum with wallets faked in Node and backed by keys made here:
// Ed25519 from node:crypto for Solana, secp256k1 + keccak-256 from @noble for Ethereum (personal_sign).
// supabase-js builds the message itself (domain and URI from `options.url`, the site URL here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { newClient } from './lib/helpers.mjs';

const siteUrl = 'http://localhost:3000/'; // GOTRUE_SITE_URL in run.sh: localhost may be http

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58(bytes) {
  let n = BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
  let out = '';
  while (n > 0n) {
    out = BASE58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = '1' + out;
  }
  return out;
}

/** A Solana wallet as supabase-js accepts it: publicKey.toBase58() and signMessage(bytes). */
function solanaWallet() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const address = base58(Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url'));
  const signed = [];
  return {
    address,
    signed,
    publicKey: { toBase58: () => address },
    async signMessage(message) {
      const signature = new Uint8Array(nodeSign(null, message, privateKey));
      signed.push({ message: new TextDecoder().decode(message), signature });
      return signature;
    },
  };
}

/** An EIP-1193 provider with one account: eth_requestAccounts, eth_chainId, personal_sign. */
function ethereumWallet() {
  const secretKey = secp256k1.utils.randomSecretKey();
  const address = '0x' + Buffer.from(keccak_256(secp256k1.getPublicKey(secretKey, false).slice(1)).slice(-20)).toString('hex');
  return {
    address,
    async request({ method, params }) {
      switch (method) {
        case 'eth_requestAccounts':
          return [address];
        case 'eth_chainId':
          return '0x1';
        case 'personal_sign': {
          const message = Buffer.from(params[0].slice(2), 'hex');
          const prefixed = Buffer.concat([Buffer.from(`\x19Ethereum Signed Message:\n${message.length}`), message]);
          const recovered = secp256k1.sign(keccak_256(prefixed), secretKey, { prehash: false, format: 'recovered' });
          // noble puts the recovery id first; Ethereum wants r || s || v with v = 27 + id.
          return '0x' + Buffer.concat([recovered.slice(1), Buffer.from([27 + recovered[0]])]).toString('hex');
        }
        default:
          throw new Error(`unexpected wallet method ${method}`);
      }
    },
  };
}

test('signInWithWeb3 solana: a wallet signs in, again as the same user, and a replayed message is refused', async () => {
  const wallet = solanaWallet();
  const client = newClient();

  const { data, error } = await client.auth.signInWithWeb3({
    chain: 'solana', wallet, statement: 'Sign in to the e2e app', options: { url: siteUrl },
  });
  assert.equal(error, null, error?.message);
  assert.ok(data.session.access_token);
  assert.equal(data.user.app_metadata.provider, 'web3');
  assert.deepEqual(data.user.app_metadata.providers, ['web3']);
  const identity = data.user.identities.find((i) => i.provider === 'web3');
  assert.equal(identity.identity_data.sub, `web3:solana:${wallet.address}`);
  assert.equal(identity.identity_data.custom_claims.address, wallet.address);
  assert.equal(identity.identity_data.custom_claims.statement, 'Sign in to the e2e app');
  assert.equal(JSON.parse(Buffer.from(data.session.access_token.split('.')[1], 'base64url')).amr[0].method, 'web3');
  const me = await client.auth.getUser();
  assert.equal(me.data.user.id, data.user.id);

  const again = await newClient().auth.signInWithWeb3({ chain: 'solana', wallet, options: { url: siteUrl } });
  assert.equal(again.error, null, again.error?.message);
  assert.equal(again.data.user.id, data.user.id);

  const { message, signature } = wallet.signed[0];
  const replay = await newClient().auth.signInWithWeb3({ chain: 'solana', message, signature });
  assert.equal(replay.data.session, null);
  assert.equal(replay.error?.status, 400);
  assert.equal(replay.error?.message, 'Signed message was already used');
});

test('signInWithWeb3 ethereum: an EIP-1193 wallet signs in, again as the same user', async () => {
  const wallet = ethereumWallet();

  const first = await newClient().auth.signInWithWeb3({
    chain: 'ethereum', wallet, statement: 'Sign in to the e2e app', options: { url: siteUrl },
  });
  assert.equal(first.error, null, first.error?.message);
  const identity = first.data.user.identities.find((i) => i.provider === 'web3');
  assert.equal(identity.identity_data.sub, `web3:ethereum:${wallet.address}`);
  assert.equal(identity.identity_data.custom_claims.network, '1');

  const second = await newClient().auth.signInWithWeb3({ chain: 'ethereum', wallet, options: { url: siteUrl } });
  assert.equal(second.error, null, second.error?.message);
  assert.equal(second.data.user.id, first.data.user.id);
});

test('signInWithWeb3 refuses a message signed for another site', async () => {
  const wallet = solanaWallet();

  const { data, error } = await newClient().auth.signInWithWeb3({
    chain: 'solana', wallet, options: { url: 'https://evil.example.com/' },
  });

  assert.equal(data.session, null);
  assert.equal(error?.status, 400);
  assert.match(error.message, /URI which is not allowed on this server/);
});
