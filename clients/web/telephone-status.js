// Reference web client of the Telephone Status API: one ES module, no dependencies, fetch only.
//
//   import { createClient, ApiError } from "./telephone-status.js";
//   const api = createClient("https://api.example.com");
//   const started = await api.startVerification("+12015550342", "sms");
//   const result = await api.checkCode(started.referenceId, pinTheUserTyped);
//   // hand result.verification.token to your backend; it verifies it against /v1/jwks.json
//
// The PIN is only ever sent in a POST body (never in a URL, never logged, never stored here).
// Contract: docs/api.md (request rules, success response, errors, verification token).

/**
 * @typedef {"sms" | "call"} Channel
 *
 * @typedef {Object} ClientOptions
 * @property {string} [apiKey] sent as `x-api-key` when the deployment requires one
 * @property {typeof fetch} [fetch] a fetch implementation (default: the global one)
 *
 * @typedef {Object} StartOptions
 * @property {string} [locale] language of the call's voice (`en`, `es`, …); ignored for SMS
 *
 * @typedef {Object} StartedVerification
 * @property {string} referenceId 32 upper-case hex characters
 * @property {Channel} channel
 * @property {string} phoneNumber masked, e.g. `+1******0342`
 * @property {string} expiresAt ISO 8601: the PIN can be checked until then
 * @property {string} resendAfter ISO 8601: the next send to this number is allowed then
 * @property {number} sendsRemaining
 *
 * @typedef {Object} DeliveryStatus
 * @property {number} code the upstream's three-digit status
 * @property {"call" | "sms" | "unknown"} channel
 * @property {"delivered" | "pending" | "failed" | "unknown"} state
 * @property {string | null} description
 * @property {boolean} final
 * @property {boolean | null} retryable
 *
 * @typedef {Object} Verification
 * @property {string} token compact JWS (ES256) for the client's backend
 * @property {string} expiresAt
 *
 * @typedef {Object} StatusResult
 * @property {string} referenceId
 * @property {DeliveryStatus} status
 * @property {boolean | null} codeValid
 * @property {number | null} attemptsRemaining
 * @property {Verification | null} verification
 *
 * @typedef {Object} FieldError
 * @property {string} field
 * @property {string} message
 *
 * @typedef {Object} TokenCheck
 * @property {boolean} verified signature, algorithm, key and lifetime all good
 * @property {string | null} reason why not, when not
 * @property {Record<string, unknown> | null} header
 * @property {Record<string, unknown> | null} claims
 * @property {string | null} kid
 */

/** An answer of the API that is not a success: the problem document, read into fields. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Record<string, unknown> | null} problem
   * @param {number | null} retryAfter
   */
  constructor(status, problem, retryAfter) {
    const doc = problem ?? {};
    super(`${status} ${typeof doc.code === "string" ? doc.code : "unexpected response"}`);
    this.name = "ApiError";
    /** @type {number} */
    this.status = status;
    /** @type {string | null} e.g. `TOO_MANY_ATTEMPTS`; null when the body was no problem document */
    this.code = typeof doc.code === "string" ? doc.code : null;
    /** @type {string | null} */
    this.title = typeof doc.title === "string" ? doc.title : null;
    /** @type {string | null} */
    this.detail = typeof doc.detail === "string" ? doc.detail : null;
    /** @type {string | null} */
    this.requestId = typeof doc.requestId === "string" ? doc.requestId : null;
    /** @type {number | null} */
    this.attemptsRemaining =
      typeof doc.attemptsRemaining === "number" ? doc.attemptsRemaining : null;
    /** @type {number | null} seconds, from `Retry-After`; null when absent or not readable */
    this.retryAfter = retryAfter;
    /** @type {FieldError[]} */
    this.errors = Array.isArray(doc.errors) ? /** @type {FieldError[]} */ (doc.errors) : [];
    /** @type {Record<string, unknown> | null} */
    this.problem = problem;
  }
}

/**
 * No answer reached the page: the network failed, or the browser refused to hand the answer
 * over (CORS: the page's origin is not allowed). Browsers do not say which, by design.
 */
export class NetworkError extends Error {
  /** @param {unknown} cause */
  constructor(cause) {
    super("No response could be read (network failure or CORS refusal)");
    this.name = "NetworkError";
    this.cause = cause;
  }
}

/**
 * `Retry-After` as whole seconds: delta-seconds or an HTTP date (RFC 9110).
 * @param {string | null} value
 * @param {number} [now] epoch milliseconds
 * @returns {number | null}
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (value === null) return null;
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - now) / 1000));
}

/**
 * A client bound to one deployment of the API.
 * @param {string} baseUrl e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod`
 * @param {ClientOptions} [options]
 */
export function createClient(baseUrl, options = {}) {
  const base = baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  /** @type {Record<string, string>} */
  const extraHeaders = options.apiKey ? { "x-api-key": options.apiKey } : {};

  /**
   * @param {"GET" | "POST"} method
   * @param {string} path
   * @param {Record<string, unknown>} [body]
   */
  async function call(method, path, body) {
    /** @type {Response} */
    let response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        mode: "cors",
        credentials: "omit", // the API uses no cookies; never send the page's
        cache: "no-store",
        redirect: "error", // a redirected POST would carry the PIN somewhere unplanned
        headers:
          body === undefined
            ? { Accept: "application/json", ...extraHeaders }
            : { Accept: "application/json", "Content-Type": "application/json", ...extraHeaders },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new NetworkError(error);
    }
    /** @type {unknown} */
    let document = null;
    try {
      document = await response.json();
    } catch {
      document = null; // not JSON (e.g. a proxy's HTML page): reported as an unexpected answer
    }
    if (response.ok && document !== null && typeof document === "object") return document;
    const problem =
      document !== null && typeof document === "object" && !Array.isArray(document)
        ? /** @type {Record<string, unknown>} */ (document)
        : null;
    // Readable only because the API lists it in Access-Control-Expose-Headers.
    throw new ApiError(response.status, problem, parseRetryAfter(response.headers.get("Retry-After")));
  }

  return {
    baseUrl: base,
    /** The key set that verifies `verification.token`. */
    keySetUrl: `${base}/v1/jwks.json`,

    /**
     * Has a PIN sent to `phoneNumber` (E.164) by SMS or call.
     * @param {string} phoneNumber
     * @param {Channel} channel
     * @param {StartOptions} [startOptions]
     * @returns {Promise<StartedVerification>}
     */
    async startVerification(phoneNumber, channel, startOptions = {}) {
      /** @type {Record<string, unknown>} */
      const body = { phoneNumber, channel };
      if (startOptions.locale !== undefined) body.locale = startOptions.locale;
      return /** @type {Promise<StartedVerification>} */ (call("POST", "/v1/verifications", body));
    },

    /**
     * Checks the PIN the user typed (sent in the POST body only).
     * @param {string} referenceId
     * @param {string} code
     * @returns {Promise<StatusResult>}
     */
    async checkCode(referenceId, code) {
      return /** @type {Promise<StatusResult>} */ (
        call("POST", "/v1/telephone-status", { referenceId, code })
      );
    },

    /**
     * The delivery status alone (no PIN).
     * @param {string} referenceId
     * @returns {Promise<StatusResult>}
     */
    async getStatus(referenceId) {
      const query = new URLSearchParams({ referenceId });
      return /** @type {Promise<StatusResult>} */ (call("GET", `/v1/telephone-status?${query}`));
    },
  };
}

/** @param {string} part */
function base64UrlBytes(part) {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new Error("not base64url");
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** @param {string} part */
function base64UrlJson(part) {
  const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(base64UrlBytes(part)));
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("not a JSON object");
  }
  return /** @type {Record<string, unknown>} */ (value);
}

/**
 * What the client's backend does with a token, in the browser for the demo: the ES256
 * signature checked with WebCrypto against the key set, then the lifetime (and `iss`/`aud`
 * when given). A backend uses a JWT library for this; the page shows the same steps.
 * @param {string} token compact JWS
 * @param {string} jwksUrl
 * @param {{issuer?: string, audience?: string, now?: number, leewaySeconds?: number, fetch?: typeof fetch}} [options]
 * @returns {Promise<TokenCheck>}
 */
export async function verifyToken(token, jwksUrl, options = {}) {
  /** @type {TokenCheck} */
  const result = { verified: false, reason: null, header: null, claims: null, kid: null };
  const parts = token.split(".");
  if (parts.length !== 3) return { ...result, reason: "not a compact JWS" };
  try {
    result.header = base64UrlJson(parts[0]);
    result.claims = base64UrlJson(parts[1]);
  } catch {
    return { ...result, reason: "header or claims are not base64url JSON" };
  }
  const { header, claims } = result;
  // Fail closed: exactly ES256, never `none` or an algorithm the header picks.
  if (header.alg !== "ES256") return { ...result, reason: `alg ${String(header.alg)} is not ES256` };
  if (typeof header.kid !== "string") return { ...result, reason: "no kid in the header" };
  result.kid = header.kid;

  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  /** @type {unknown} */
  let keySet;
  try {
    const response = await doFetch(jwksUrl, { mode: "cors", credentials: "omit" });
    if (!response.ok) return { ...result, reason: `key set answered ${response.status}` };
    keySet = await response.json();
  } catch {
    return { ...result, reason: "key set could not be read" };
  }
  const keys =
    keySet !== null && typeof keySet === "object" && Array.isArray(/** @type {any} */ (keySet).keys)
      ? /** @type {Record<string, unknown>[]} */ (/** @type {any} */ (keySet).keys)
      : [];
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk) return { ...result, reason: `no key ${header.kid} in the key set` };
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" || typeof jwk.y !== "string") {
    return { ...result, reason: "the key is not an EC P-256 key" };
  }

  let signatureOk = false;
  try {
    const key = await crypto.subtle.importKey(
      "jwk",
      { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true },
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
    // A JWS ES256 signature is raw r||s (64 bytes), the form WebCrypto's ECDSA expects.
    const signature = base64UrlBytes(parts[2]);
    if (signature.length !== 64) return { ...result, reason: "signature is not 64 bytes" };
    const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
    signatureOk = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, signed);
  } catch (error) {
    return { ...result, reason: `WebCrypto failed: ${error instanceof Error ? error.name : "error"}` };
  }
  if (!signatureOk) return { ...result, reason: "signature does not verify" };

  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const leeway = options.leewaySeconds ?? 30;
  if (typeof claims.exp !== "number" || claims.exp + leeway <= now) {
    return { ...result, reason: "expired" };
  }
  if (options.issuer !== undefined && claims.iss !== options.issuer) {
    return { ...result, reason: "issuer does not match" };
  }
  if (options.audience !== undefined && claims.aud !== options.audience) {
    return { ...result, reason: "audience does not match" };
  }
  return { ...result, verified: true };
}
