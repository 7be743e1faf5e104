// Sign-in state: an API key, or Cognito tokens got with the authorization code flow and PKCE.
// Kept in sessionStorage only (gone when the tab closes), never in a URL, a cookie or a log.

import { apiBase } from './api.js';

const SESSION = 'scheduler.console.session';
const PENDING = 'scheduler.console.pkce';

export function load() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION) || 'null');
    if (session && session.expiresAt && session.expiresAt < Date.now()) {
      clear();
      return null;
    }
    return session;
  } catch {
    return null;
  }
}

export function save(session) {
  sessionStorage.setItem(SESSION, JSON.stringify(session));
}

export function clear() {
  sessionStorage.removeItem(SESSION);
}

export function redirectUri() {
  return `${location.origin}${apiBase()}/console`;
}

function base64url(bytes) {
  let text = '';
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

// Off to Cognito's hosted UI; it comes back to /console?code=...&state=...
export async function startCognito(cognito) {
  const verifier = randomString(48);
  const stateValue = randomString(24);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state: stateValue }));
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const url = new URL('/oauth2/authorize', cognito.domain);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: cognito.clientId,
    redirect_uri: redirectUri(),
    scope: cognito.scopes.join(' '),
    state: stateValue,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

// Back from the hosted UI: exchange the code for tokens. Throws an Error with `words` on failure.
export async function finishCognito(cognito, params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', `${apiBase()}/console${location.hash}`); // the code leaves the address bar
  const fail = (words) => Object.assign(new Error(words), { words });
  if (params.get('error')) throw fail(`Cognito refused the sign-in: ${params.get('error_description') || params.get('error')}.`);
  if (!pending || pending.state !== params.get('state')) throw fail('The sign-in answer did not match this tab; sign in again.');
  let response;
  try {
    response = await fetch(new URL('/oauth2/token', cognito.domain), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: cognito.clientId,
        code: params.get('code'),
        redirect_uri: redirectUri(),
        code_verifier: pending.verifier,
      }),
      credentials: 'omit',
    });
  } catch {
    throw fail('Cognito could not be reached to finish the sign-in; try again.');
  }
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || !tokens.access_token) throw fail(`Cognito did not issue a token: ${tokens.error || response.status}.`);
  // The access token carries our client id, which the API's authorizer checks.
  save({ kind: 'cognito', token: tokens.access_token, expiresAt: Date.now() + (tokens.expires_in || 3600) * 1000 });
}

export function cognitoLogoutUrl(cognito) {
  const url = new URL('/logout', cognito.domain);
  url.search = new URLSearchParams({ client_id: cognito.clientId, logout_uri: redirectUri() }).toString();
  return url.toString();
}
