// The public HTTP API as the page uses it: the caller's token on every request, and every failure
// turned into an `ApiProblem` whose message is words for a person (the API's own message when it
// sent one), never a raw body.

export type ScopeBody =
  | { type: "default"; buckets: string[] }
  | { type: "bucket"; bucket: string; prefix?: string };

export interface Check {
  code: string;
  target: string;
  result: "pass" | "warn" | "fail";
  message: string;
}

export interface Status {
  state: "unverified" | "healthy" | "degraded" | "failing";
  checked_at?: string;
  checks?: Check[];
}

/** What every kind of integration has. */
interface IntegrationCommon {
  id: string;
  name: string;
  region: string;
  scope: { type: "default"; buckets: string[] } | { type: "bucket"; bucket: string; prefix?: string };
  versioning: boolean;
  version: number;
  created_at: string;
  updated_at: string;
  status: Status;
}

/** An AWS bucket reached by assuming the customer's IAM role. An integration saved before kinds
 * existed may come without `kind` and `kms_key_arns`: it is this kind, with no keys. */
export interface AwsRoleIntegration extends IntegrationCommon {
  kind?: "aws_role";
  role_arn: string;
  kms_key_arns?: string[];
}

/** A bucket in an S3-compatible store (MinIO, Cloudflare R2, ...) reached with an access key. The
 * secret is never returned: `secret_set` says one is stored. */
export interface S3CompatibleIntegration extends IntegrationCommon {
  kind: "s3_compatible";
  endpoint: string;
  access_key_id: string;
  secret_set: boolean;
  addressing_style: AddressingStyle;
}

export type Integration = AwsRoleIntegration | S3CompatibleIntegration;

export type IntegrationKind = "aws_role" | "s3_compatible";
export type AddressingStyle = "path" | "virtual";

export function isS3Compatible(integration: Integration): integration is S3CompatibleIntegration {
  return integration.kind === "s3_compatible";
}

export interface Report {
  state: "healthy" | "degraded" | "failing";
  checked_at: string;
  checks: Check[];
  recorded: boolean;
}

export interface PolicyDocument {
  text: string;
}

export interface TrustPolicy extends PolicyDocument {
  external_id: string;
  principal: string;
  /** Present while an external-ID rotation is open: `text` then names both IDs. */
  rotation?: Rotation;
}

/** An open external-ID rotation: the new (current) ID, and the previous one, still honoured until
 * `previous_honoured_until`. */
export interface Rotation {
  current_external_id: string;
  previous_external_id: string;
  started_at: string;
  previous_honoured_until: string;
}

/** One record of the audit trail (GET /audit), newest first. `changes` is `{field: [before,
 * after]}`, or `"changed"` for a secret; `integration_id` is empty for an org-level event. */
export interface AuditEvent {
  id: string;
  at: string;
  actor: string;
  actor_type: string;
  action: string;
  integration_id: string;
  version: number;
  changes: Record<string, [unknown, unknown] | string>;
}

export interface PresignResult {
  locator: string;
  url?: string;
  expires_at?: string;
  integration_id?: string;
  error?: { code: string; message: string };
}

/** A locator with delivery options: `download_as` makes the file download under that name (a
 * signed Content-Disposition), `content_type` sets the media type it is served as. */
export interface LocatorWithOptions {
  locator: string;
  download_as?: string;
  content_type?: string;
}

/** One answer of POST /links: a stable link (`http(s)://<api>/l/<token>`, opened without any
 * token: it redirects to a freshly presigned URL each time), or why the locator got none. */
export interface LinkResult {
  locator: string;
  link?: string;
  expires_at?: string;
  error?: { code: string; message: string; field?: string };
}

/** An integration as POST /locators/explain names it: enough to say which one and what it covers. */
export interface IntegrationSummary {
  id: string;
  name: string;
  kind?: IntegrationKind;
  scope: ScopeBody;
}

/** One answer of POST /locators/explain: the integration the scope rules pick (or none) and why,
 * every integration whose scope names the bucket (most specific first), and what presign would do
 * now: sign, or refuse with `blocked_by` (presign's code) and `fix` (its sentence). An `https://`
 * URL has no integration and is not signed (`would_sign` false, `blocked_by` null). */
export interface Explanation {
  locator: string;
  integration: IntegrationSummary | null;
  matched_by: string | null;
  candidates: IntegrationSummary[];
  would_sign: boolean;
  blocked_by: string | null;
  fix: string | null;
}

/** The most locators one explain request may ask about (the API's limit). */
export const MAX_EXPLAIN_LOCATORS = 100;

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "ApiProblem";
  }
}

/** How long a call may take before the page says so (API Gateway's own limit is 30 s). */
const TIMEOUT_MS = 30_000;

export class Api {
  /** Called when the API refuses the token (expired or revoked) after sign-in. */
  onUnauthorized: ((problem: ApiProblem) => void) | undefined;

  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const init: RequestInit = {
      method,
      headers: { authorization: `Bearer ${this.token}`, accept: "application/json", ...headers },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    let response: Response;
    try {
      response = await fetch(this.base + path, init);
    } catch (err) {
      const why = err instanceof DOMException && err.name === "TimeoutError" ? "it did not answer within 30 s" : String(err);
      throw new ApiProblem(0, "NETWORK", `Could not reach the API (${why}). Check your connection and try again.`);
    }
    if (response.status === 204) {
      return undefined as T;
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const problem = problemFrom(response.status, parsed);
      if (response.status === 401) this.onUnauthorized?.(problem);
      throw problem;
    }
    if (parsed === undefined) {
      throw new ApiProblem(response.status, "BAD_ANSWER", `The API answered HTTP ${response.status} without the expected data. Try again.`);
    }
    return parsed as T;
  }

  listIntegrations(next?: string): Promise<{ integrations: Integration[]; next?: string }> {
    const query = next ? `?limit=50&next=${encodeURIComponent(next)}` : "?limit=50";
    return this.call("GET", `/integrations${query}`);
  }
  getIntegration(id: string): Promise<Integration> {
    return this.call("GET", `/integrations/${encodeURIComponent(id)}`);
  }
  createIntegration(body: unknown): Promise<Integration> {
    return this.call("POST", "/integrations", body);
  }
  replaceIntegration(id: string, body: unknown): Promise<Integration> {
    return this.call("PUT", `/integrations/${encodeURIComponent(id)}`, body);
  }
  deleteIntegration(id: string, version: number): Promise<void> {
    return this.call("DELETE", `/integrations/${encodeURIComponent(id)}`, undefined, { "if-match": String(version) });
  }
  validate(id: string): Promise<Report> {
    return this.call("POST", `/integrations/${encodeURIComponent(id)}/validate`);
  }
  accessPolicy(scope: ScopeBody, versioning: boolean, region?: string, kmsKeyArns: string[] = []): Promise<PolicyDocument> {
    const body: Record<string, unknown> = { scope, versioning };
    if (region) body["region"] = region;
    if (kmsKeyArns.length > 0) body["kms_key_arns"] = kmsKeyArns;
    return this.call("POST", "/policies/access", body);
  }
  corsPolicy(): Promise<PolicyDocument> {
    return this.call("GET", "/policies/cors");
  }
  trustPolicy(): Promise<TrustPolicy> {
    return this.call("GET", "/policies/trust");
  }
  /** Starts an external-ID rotation (409 ROTATION_IN_PROGRESS while one is open). */
  rotateExternalId(): Promise<TrustPolicy> {
    return this.call("POST", "/policies/trust/rotate");
  }
  /** Ends the overlap now (409 ROTATION_NOT_READY, naming each integration, while one may still need the previous ID). */
  completeRotation(): Promise<TrustPolicy> {
    return this.call("POST", "/policies/trust/rotate/complete");
  }
  /** The audit trail, newest first. */
  audit(limit: number, next?: string): Promise<{ events: AuditEvent[]; next?: string }> {
    const query = `?limit=${limit}${next ? `&next=${encodeURIComponent(next)}` : ""}`;
    return this.call("GET", `/audit${query}`);
  }
  /** An S3-compatible integration has only `cors` (no IAM role, so no access or trust policy). */
  integrationPolicies(id: string): Promise<{ access?: PolicyDocument; trust?: TrustPolicy; cors: PolicyDocument }> {
    return this.call("GET", `/integrations/${encodeURIComponent(id)}/policies`);
  }
  presign(locators: string[]): Promise<{ results: PresignResult[] }> {
    return this.call("POST", "/presign", { locators });
  }
  /** Which integration serves each locator and why, and what presign would do (at most 100). */
  explain(locators: string[]): Promise<{ results: Explanation[] }> {
    return this.call("POST", "/locators/explain", { locators });
  }
  /** Stable links, one result per locator in order (default life 1 day, at most 7). */
  links(locators: (string | LocatorWithOptions)[], expiresIn?: number): Promise<{ results: LinkResult[] }> {
    const body: Record<string, unknown> = { locators };
    if (expiresIn !== undefined) body["expires_in"] = expiresIn;
    return this.call("POST", "/links", body);
  }
}

function problemFrom(status: number, body: unknown): ApiProblem {
  const error = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } } | undefined)?.error;
  if (error && typeof error.message === "string" && typeof error.code === "string") {
    const field = typeof error.field === "string" ? error.field : undefined;
    return field === undefined
      ? new ApiProblem(status, error.code, error.message)
      : new ApiProblem(status, error.code, error.message, field);
  }
  const words: Record<number, string> = {
    401: "Your sign-in was not accepted. Sign in again.",
    403: "You are not allowed to do this. Ask an admin of your organization.",
    429: "Too many requests right now. Wait a moment and try again.",
    502: "The service had a problem answering. Try again in a moment.",
    503: "The service is busy. Try again in a moment.",
    504: "The service took too long to answer. Try again in a moment.",
  };
  return new ApiProblem(status, `HTTP_${status}`, words[status] ?? `The API answered HTTP ${status}. Try again, and tell your admin if it keeps happening.`);
}
