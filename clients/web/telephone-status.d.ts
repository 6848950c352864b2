// Types of telephone-status.js for TypeScript users (the module itself carries the same as JSDoc).

export type Channel = "sms" | "call";

export interface ClientOptions {
  /** Sent as `x-api-key` when the deployment requires one. */
  apiKey?: string;
  fetch?: typeof fetch;
}

export interface StartOptions {
  /** Language of the call's voice (`en`, `es`, …); ignored for SMS. */
  locale?: string;
}

export interface StartedVerification {
  referenceId: string;
  channel: Channel;
  /** Masked, e.g. `+1******0342`. */
  phoneNumber: string;
  expiresAt: string;
  resendAfter: string;
  sendsRemaining: number;
}

export interface DeliveryStatus {
  code: number;
  channel: "call" | "sms" | "unknown";
  state: "delivered" | "pending" | "failed" | "unknown";
  description: string | null;
  final: boolean;
  retryable: boolean | null;
}

export interface Verification {
  token: string;
  expiresAt: string;
}

export interface StatusResult {
  referenceId: string;
  status: DeliveryStatus;
  codeValid: boolean | null;
  attemptsRemaining: number | null;
  verification: Verification | null;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface TokenCheck {
  verified: boolean;
  reason: string | null;
  header: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
  kid: string | null;
}

export class ApiError extends Error {
  constructor(status: number, problem: Record<string, unknown> | null, retryAfter: number | null);
  readonly status: number;
  /** e.g. `TOO_MANY_ATTEMPTS`; null when the body was no problem document. */
  readonly code: string | null;
  readonly title: string | null;
  readonly detail: string | null;
  readonly requestId: string | null;
  readonly attemptsRemaining: number | null;
  /** Seconds, from `Retry-After`; null when absent or not readable. */
  readonly retryAfter: number | null;
  readonly errors: FieldError[];
  readonly problem: Record<string, unknown> | null;
}

/** No answer reached the page: a network failure or a CORS refusal. */
export class NetworkError extends Error {
  constructor(cause: unknown);
}

export function parseRetryAfter(value: string | null, now?: number): number | null;

export interface TelephoneStatusClient {
  readonly baseUrl: string;
  readonly keySetUrl: string;
  startVerification(phoneNumber: string, channel: Channel, options?: StartOptions): Promise<StartedVerification>;
  checkCode(referenceId: string, code: string): Promise<StatusResult>;
  getStatus(referenceId: string): Promise<StatusResult>;
}

export function createClient(baseUrl: string, options?: ClientOptions): TelephoneStatusClient;

export function verifyToken(
  token: string,
  jwksUrl: string,
  options?: {
    issuer?: string;
    audience?: string;
    now?: number;
    leewaySeconds?: number;
    fetch?: typeof fetch;
  },
): Promise<TokenCheck>;
