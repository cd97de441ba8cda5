// The page: sign-in from a token, the admin's wizard (for Amazon S3 four steps: scope → access
// policy → trust policy and role → save, validate, fix; for an S3-compatible store three: store and
// scope → CORS → save, validate), the integrations list with edit and delete, and the
// "try a locator" box every member has, with "explain a locator" beside it (explain.ts); for admins
// also the external-ID rotation panel (rotation.ts) and the activity view (audit.ts). It calls the public HTTP API only, with the user's token;
// what the user may do is decided by the API (a member's GET /integrations is 403, so the page
// shows no admin controls), never by this code alone.

import { Api, ApiProblem, isS3Compatible } from "./api.js";
import type { AddressingStyle, Check, Integration, IntegrationKind, LinkResult, LocatorWithOptions, Report, ScopeBody } from "./api.js";
import { byId, debounce, el, fieldError, input, relativeTime, show } from "./dom.js";
import { refreshAudit, showAudit, wireAudit } from "./audit.js";
import { showExplain, wireExplain } from "./explain.js";
import { refreshRotation, showRotation, wireRotation } from "./rotation.js";

const TOKEN_KEY = "s3-integrations.token";

interface Editing {
  id: string;
  version: number;
  name: string;
  region: string;
  kind: IntegrationKind;
  /** The stored integration lists KMS keys (so a replace must send the list, even empty). */
  kmsKnown: boolean;
}

function editingOf(integration: Integration): Editing {
  return {
    id: integration.id,
    version: integration.version,
    name: integration.name,
    region: integration.region,
    kind: isS3Compatible(integration) ? "s3_compatible" : "aws_role",
    kmsKnown: !isS3Compatible(integration) && Array.isArray(integration.kms_key_arns),
  };
}

/** The wizard's steps per kind: `panel` is the step's element (#step-N), the number shown is its
 * place in the list. An S3-compatible store has no IAM role: no access or trust policy. */
const FLOWS: Record<IntegrationKind, { panel: number; title: string; next?: string }[]> = {
  aws_role: [
    { panel: 1, title: "Select integration scope", next: "Next: access policy" },
    { panel: 2, title: "Create an access policy", next: "Next: role" },
    { panel: 3, title: "Create a role for the platform to assume", next: "Next: save" },
    { panel: 4, title: "Save integration" },
  ],
  s3_compatible: [
    { panel: 1, title: "Connect the store and select the scope", next: "Next: CORS" },
    { panel: 2, title: "Allow browsers to load files (CORS)", next: "Next: save" },
    { panel: 4, title: "Save integration" },
  ],
};

const state = {
  api: undefined as Api | undefined,
  step: 1,
  editing: undefined as Editing | undefined,
  /** Whether the API accepted the current draft scope (and the access policy shown is for it). */
  accessOk: false,
  /** Drops answers to superseded drafts (typing fires many requests). */
  draftSeq: 0,
  /** The newest draft's refresh: a superseded one answers with its outcome, not a stale one. */
  latestRefresh: Promise.resolve(false) as Promise<boolean>,
  saved: undefined as Integration | undefined,
  /** How the line above the report starts: "Saved “X”." after a save, "“X”:" from the list. */
  reportLead: "",
  next: undefined as string | undefined,
  /** Integration names the list has shown, by id (the activity view names integrations by them). */
  names: new Map<string, string>(),
  /** The admin typed a region in step 4 (a KMS key's region no longer fills it in). */
  regionTouched: false,
};

// ---- start ------------------------------------------------------------------------------------------

async function start(): Promise<void> {
  wire();
  const fromLink = tokenFromFragment();
  if (fromLink) {
    sessionStorage.setItem(TOKEN_KEY, fromLink);
    // The token must not stay in the address bar, the history or a bookmark.
    history.replaceState(null, "", location.pathname + location.search);
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    showSignIn("");
    return;
  }
  await signIn(token);
}

function tokenFromFragment(): string | undefined {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token")?.trim();
  return token ? token : undefined;
}

async function apiBase(): Promise<string> {
  try {
    const response = await fetch("config.json", { cache: "no-cache" });
    if (response.ok) {
      const config = (await response.json()) as { apiBaseUrl?: unknown };
      if (typeof config.apiBaseUrl === "string") return config.apiBaseUrl.replace(/\/+$/, "");
    }
  } catch {
    // No config.json: the API is on this page's origin (the dev server serves both).
  }
  return "";
}

async function signIn(token: string): Promise<void> {
  const api = new Api(await apiBase(), token);
  let first: { integrations: Integration[]; next?: string } | undefined;
  let admin: boolean;
  try {
    first = await api.listIntegrations();
    admin = true;
  } catch (err) {
    if (err instanceof ApiProblem && err.status === 403) {
      admin = false;
    } else if (err instanceof ApiProblem && err.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(`The token was not accepted: ${firstSentence(err.message)} Paste a valid token.`);
      return;
    } else {
      banner(messageOf(err));
      showSignIn("");
      return;
    }
  }
  state.api = api;
  api.onUnauthorized = (problem) => {
    // The token expired or was revoked mid-session: back to sign-in, saying why.
    sessionStorage.removeItem(TOKEN_KEY);
    state.api = undefined;
    showSignIn(`Your sign-in ended: ${firstSentence(problem.message)} Open your sign-in link again or paste a new token.`);
  };
  sessionStorage.setItem(TOKEN_KEY, token);
  show(byId("sign-in"), false);
  const who = identity(token);
  byId("identity-text").textContent = `${who.org ? `org ${who.org} · ` : ""}${admin ? "admin" : "member"}`;
  show(byId("identity"), true);
  document.body.dataset["role"] = admin ? "admin" : "member";
  show(byId("try"), true);
  showExplain(true);
  if (!admin) {
    // Members get no admin controls at all: the sections are removed, not only hidden.
    for (const id of ["wizard", "integrations", "rotation", "audit", "confirm-rotate"]) byId(id).remove();
    return;
  }
  show(byId("wizard"), true);
  show(byId("integrations"), true);
  resetWizard();
  if (first) renderIntegrations(first.integrations, first.next, false);
  showRotation();
  showAudit();
}

/** A 401's first sentence says why (expired, invalid); the rest is advice for API clients. */
function firstSentence(message: string): string {
  return /^[^.]*\./.exec(message)?.[0] ?? message;
}

/** The org from the token's payload, for display only (the API verifies the token). */
function identity(token: string): { org?: string } {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as Record<string, unknown>;
    return typeof claims["org_id"] === "string" ? { org: claims["org_id"] } : {};
  } catch {
    return {};
  }
}

function showSignIn(message: string): void {
  show(byId("sign-in"), true);
  // A member's page has no wizard or list any more (removed at sign-in).
  for (const id of ["identity", "wizard", "integrations", "rotation", "audit", "try", "explain"]) {
    const section = document.getElementById(id);
    if (section) show(section, false);
  }
  fieldError("token-input", message);
}

function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

function api(): Api {
  if (!state.api) throw new ApiProblem(401, "UNAUTHORIZED", "Sign in first.");
  return state.api;
}

// ---- messages ---------------------------------------------------------------------------------------

function messageOf(err: unknown): string {
  if (err instanceof ApiProblem) return err.message;
  return `Something went wrong in the page: ${String(err)}. Reload and try again.`;
}

function banner(message: string): void {
  const element = byId("banner");
  element.textContent = message;
  show(element, message !== "");
}

// ---- the wizard: draft --------------------------------------------------------------------------------

function kind(): IntegrationKind {
  const checked = document.querySelector<HTMLInputElement>('input[name="kind"]:checked');
  return checked?.value === "s3_compatible" ? "s3_compatible" : "aws_role";
}

function radio(name: string, value: string): HTMLInputElement {
  const element = document.querySelector<HTMLInputElement>(`input[name="${name}"][value="${value}"]`);
  if (!element) throw new Error(`the page has no ${name} radio for ${value}`);
  return element;
}

function addressingStyle(): AddressingStyle {
  const checked = document.querySelector<HTMLInputElement>('input[name="addressing-style"]:checked');
  return checked?.value === "virtual" ? "virtual" : "path";
}

/** The KMS key ARNs box, one per line (blank lines ignored). */
function kmsKeys(): string[] {
  return byId<HTMLTextAreaElement>("kms-keys")
    .value.split(/[\s,]+/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

/** The region of the first KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID), if it has one. */
function kmsRegion(): string | undefined {
  const region = kmsKeys()[0]?.split(":")[3];
  return region && /^[a-z0-9-]+$/.test(region) ? region : undefined;
}

/** Shows the elements of the chosen kind only (class kind-aws / kind-s3), and the steps it has. */
function onKindChange(): void {
  const s3 = kind() === "s3_compatible";
  document.querySelectorAll<HTMLElement>(".kind-aws").forEach((element) => show(element, !s3));
  document.querySelectorAll<HTMLElement>(".kind-s3").forEach((element) => show(element, s3));
  show(byId("s3-fields"), s3);
  byId("region-label").textContent = s3 ? "Region" : "Bucket region";
  byId("secret-hint").textContent =
    s3 && state.editing?.kind === "s3_compatible"
      ? "A secret is stored: leave this empty to keep it, or enter a new one to replace it. The stored secret is never shown."
      : "Stored by the platform and never shown again, not even to admins. Give a key that may only list and read the buckets below.";
  renderSteps();
  fieldError("kind", "");
}

function flow(): { panel: number; title: string; next?: string }[] {
  return FLOWS[kind()];
}

/** The step list at the top, and each step's heading and Next button, for the chosen kind. */
function renderSteps(): void {
  const steps = flow();
  byId("steps").replaceChildren(...steps.map((step) => el("li", { "data-step": String(step.panel) }, step.title)));
  steps.forEach((step, index) => {
    const heading = byId(`step-${step.panel}`).querySelector("h3");
    if (heading) heading.textContent = `${index + 1}. ${step.title}`;
    const next = document.getElementById(`step-${step.panel}-next`);
    if (next && step.next) next.textContent = step.next;
  });
  markCurrentStep();
}

function scopeType(): "default" | "bucket" {
  const checked = document.querySelector<HTMLInputElement>('input[name="scope-type"]:checked');
  return checked?.value === "bucket" ? "bucket" : "default";
}

function scopeRadio(type: "default" | "bucket"): HTMLInputElement {
  return radio("scope-type", type);
}

function bucketLines(): string[] {
  return byId<HTMLTextAreaElement>("scope-buckets")
    .value.split(/[\s,]+/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

function draftScope(): ScopeBody {
  if (scopeType() === "bucket") {
    const prefix = input("scope-prefix").value.trim();
    const bucket = input("scope-bucket").value.trim();
    return prefix ? { type: "bucket", bucket, prefix } : { type: "bucket", bucket };
  }
  return { type: "default", buckets: bucketLines() };
}

function versioning(): boolean {
  return input("versioning").checked;
}

const SCOPE_FIELDS = ["scope-bucket", "scope-prefix", "scope-buckets", "scope", "kms-keys"];
const SAVE_FIELDS = ["name", "role-arn", "region", "kind", "endpoint", "access-key-id", "secret-access-key", "addressing-style"];

/** The page's input for an API error's `field` ("scope.buckets[2]" → the bucket names box). */
function inputFor(field: string): string | undefined {
  const exact: Record<string, string> = {
    "scope.bucket": "scope-bucket",
    "scope.prefix": "scope-prefix",
    name: "name",
    role_arn: "role-arn",
    region: "region",
    kind: "kind",
    endpoint: "endpoint",
    access_key_id: "access-key-id",
    secret_access_key: "secret-access-key",
    addressing_style: "addressing-style",
  };
  if (exact[field]) return exact[field];
  if (field.startsWith("kms_key_arns")) return "kms-keys";
  if (field.startsWith("scope.buckets")) return "scope-buckets";
  if (field.startsWith("scope")) return "scope";
  return undefined;
}

/** Shows an API error under the field it names; returns false when no field on the page fits. */
function showFieldProblem(problem: ApiProblem): boolean {
  const field = problem.field ?? "";
  const target = inputFor(field);
  if (!target) return false;
  // "kms_key_arns[1]": the box holds them all, so the message says which line.
  const index = /^kms_key_arns\[(\d+)\]/.exec(field)?.[1];
  fieldError(target, index === undefined ? problem.message : `Key ${Number(index) + 1}: ${problem.message}`);
  return true;
}

/** The step (#step-N) that holds the page's input for an API error's `field`. */
function panelOfField(field: string): number | undefined {
  const target = inputFor(field);
  const element = target ? (document.getElementById(target) ?? document.getElementById(`${target}-error`)) : null;
  const panel = element?.closest<HTMLElement>(".step")?.id.replace("step-", "");
  return panel ? Number(panel) : undefined;
}

/** Renders the draft's access policy through the API, which validates the bucket names and prefix
 * with its own rules and messages. Called as the user types (debounced) and by the Next buttons.
 * Resolves to whether the API accepted the draft as it is now: a call overtaken by a newer one
 * (a debounced refresh that fires just after Next was chosen) answers with the newer one's outcome,
 * so Next never stops on an answer that was not yet known. */
function refreshAccessPolicy(): Promise<boolean> {
  const refresh = renderAccessPolicy(++state.draftSeq);
  state.latestRefresh = refresh;
  return refresh;
}

async function renderAccessPolicy(seq: number): Promise<boolean> {
  const scope = draftScope();
  const pre = byId("access-policy");
  if (scope.type === "default" && scope.buckets.length === 0) {
    SCOPE_FIELDS.forEach((f) => fieldError(f, ""));
    pre.textContent = "";
    byId("access-summary").textContent = "Enter the names of the buckets the platform may read.";
    state.accessOk = false;
    return false;
  }
  if (scope.type === "bucket" && scope.bucket === "") {
    state.accessOk = false;
    return false;
  }
  try {
    // The region picks the partition (aws, aws-cn, aws-us-gov) and, with KMS keys, the S3 endpoint
    // the keys may be used through. A new integration's region is only asked in step 4, so its draft
    // renders for its KMS keys' region (or for aws); an edited one renders for its saved region.
    const s3 = kind() === "s3_compatible";
    const keys = s3 ? [] : kmsKeys();
    const region = state.editing?.region ?? (keys.length > 0 ? kmsRegion() : undefined);
    const policy = await api().accessPolicy(scope, versioning(), region, keys);
    if (seq !== state.draftSeq) return state.latestRefresh;
    SCOPE_FIELDS.forEach((f) => fieldError(f, ""));
    pre.textContent = policy.text;
    byId("access-summary").textContent = accessSummary(scope);
    state.accessOk = true;
  } catch (err) {
    if (seq !== state.draftSeq) return state.latestRefresh;
    SCOPE_FIELDS.forEach((f) => fieldError(f, ""));
    if (!(err instanceof ApiProblem && showFieldProblem(err))) fieldError("scope", messageOf(err));
    // A region error in a draft is the KMS keys' (the only region a new draft sends).
    if (err instanceof ApiProblem && err.field === "region" && !state.editing) fieldError("kms-keys", err.message);
    pre.textContent = "";
    byId("access-summary").textContent = "Fix the message above to see the policy.";
    state.accessOk = false;
  }
  return state.accessOk;
}

function accessSummary(scope: ScopeBody): string {
  const what = versioning() ? "read files and their earlier versions" : "read files";
  const n = kmsKeys().length;
  const kms = n > 0 ? ` It may decrypt them with ${n === 1 ? "the KMS key" : `the ${n} KMS keys`} above, only through S3.` : "";
  if (scope.type === "default") {
    const n = scope.buckets.length;
    return `This policy lets the role list and ${what} in ${n} bucket${n === 1 ? "" : "s"}: ${scope.buckets.join(", ")}.${kms}`;
  }
  return `This policy lets the role list and ${what} in ${scope.bucket}${scope.prefix ? ` under ${scope.prefix}` : ""}.${kms}`;
}

const refreshSoon = debounce(() => void refreshAccessPolicy(), 250);

// ---- the wizard: steps ---------------------------------------------------------------------------------

function goTo(step: number): void {
  state.step = step;
  for (let n = 1; n <= 4; n++) show(byId(`step-${n}`), n === step);
  markCurrentStep();
  const heading = byId(`step-${step}`).querySelector("h3");
  heading?.setAttribute("tabindex", "-1");
  heading?.focus();
}

function markCurrentStep(): void {
  const panels = flow().map((step) => step.panel);
  const current = panels.indexOf(state.step);
  document.querySelectorAll<HTMLElement>("#steps li").forEach((li) => {
    const index = panels.indexOf(Number(li.dataset["step"]));
    li.classList.toggle("done", index < current);
    if (index === current) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  });
}

/** The step before (Back) or after the current one, in the chosen kind's steps. */
function stepBeside(offset: -1 | 1): number {
  const panels = flow().map((step) => step.panel);
  const index = panels.indexOf(state.step);
  return panels[Math.min(panels.length - 1, Math.max(0, index + offset))] ?? 1;
}

/** Step 1 of an S3-compatible store: the connection fields the page can check itself (the API
 * checks them all again on save, with its own messages). */
function checkStoreFields(): boolean {
  ["endpoint", "access-key-id", "secret-access-key"].forEach((f) => fieldError(f, ""));
  let ok = true;
  const endpoint = input("endpoint").value.trim();
  if (endpoint === "") {
    fieldError("endpoint", "Enter the store's endpoint URL, for example https://ACCOUNT.r2.cloudflarestorage.com.");
    ok = false;
  } else if (!/^https?:\/\//i.test(endpoint)) {
    fieldError("endpoint", "The endpoint starts with https://, for example https://minio.example.com:9000.");
    ok = false;
  }
  if (input("access-key-id").value.trim() === "") {
    fieldError("access-key-id", "Enter the access key ID the platform signs with.");
    ok = false;
  }
  if (input("secret-access-key").value === "" && state.editing?.kind !== "s3_compatible") {
    fieldError("secret-access-key", "Enter the access key's secret.");
    ok = false;
  }
  return ok;
}

async function nextFromScope(): Promise<void> {
  show(byId("buckets-field"), scopeType() === "default");
  if (kind() === "s3_compatible" && !checkStoreFields()) {
    const invalid = document.querySelector<HTMLElement>('#s3-fields [aria-invalid="true"]');
    invalid?.focus();
    return;
  }
  if (kind() === "s3_compatible" && !(await loadStoreCors())) return;
  if (scopeType() === "bucket") {
    if (input("scope-bucket").value.trim() === "") {
      fieldError("scope-bucket", "Enter the bucket's name, for example my-training-images.");
      return;
    }
    if (!(await refreshAccessPolicy())) return;
  } else {
    await refreshAccessPolicy();
  }
  goTo(2);
}

/** The CORS configuration an S3-compatible store's buckets need (GET /policies/cors). */
async function loadStoreCors(): Promise<boolean> {
  try {
    byId("store-cors-policy").textContent = (await api().corsPolicy()).text;
  } catch (err) {
    banner(messageOf(err));
    return false;
  }
  banner("");
  return true;
}

async function nextFromAccess(): Promise<void> {
  if (!(await refreshAccessPolicy())) {
    if (scopeType() === "default" && bucketLines().length === 0) {
      fieldError("scope-buckets", "Enter at least one bucket name.");
    }
    return;
  }
  if (kind() === "s3_compatible") {
    goTo(4);
    return;
  }
  // A new integration with KMS keys: its region is theirs (the policy above is rendered for it),
  // unless the admin already chose one.
  const keysRegion = kmsRegion();
  if (!state.editing && keysRegion && !state.regionTouched) input("region").value = keysRegion;
  try {
    const trust = await api().trustPolicy();
    byId("trust-policy").textContent = trust.text;
    byId("external-id").textContent = trust.external_id;
    byId("platform-principal").textContent = trust.principal;
  } catch (err) {
    banner(messageOf(err));
    return;
  }
  banner("");
  goTo(3);
}

function saveBody(): Record<string, unknown> {
  let body: Record<string, unknown>;
  if (kind() === "s3_compatible") {
    body = {
      kind: "s3_compatible",
      name: input("name").value.trim(),
      endpoint: input("endpoint").value.trim(),
      access_key_id: input("access-key-id").value.trim(),
      region: input("region").value.trim() || "us-east-1",
      addressing_style: addressingStyle(),
      scope: draftScope(),
      versioning: versioning(),
    };
    // Empty while editing: the stored secret stays (the API never sends it back to fill in).
    const secret = input("secret-access-key").value;
    if (secret !== "" || state.editing?.kind !== "s3_compatible") body["secret_access_key"] = secret;
  } else {
    // No "kind": aws_role is the default, and the body stays what it was before kinds existed.
    body = {
      name: input("name").value.trim(),
      role_arn: input("role-arn").value.trim(),
      region: input("region").value.trim(),
      scope: draftScope(),
      versioning: versioning(),
    };
    const keys = kmsKeys();
    if (keys.length > 0 || state.editing?.kmsKnown) body["kms_key_arns"] = keys;
  }
  if (state.editing) body["version"] = state.editing.version;
  return body;
}

async function save(event: Event): Promise<void> {
  event.preventDefault();
  [...SAVE_FIELDS, ...SCOPE_FIELDS].forEach((f) => fieldError(f, ""));
  hideSaveError();
  const button = byId<HTMLButtonElement>("save");
  button.disabled = true;
  try {
    const body = saveBody();
    const saved = state.editing
      ? await api().replaceIntegration(state.editing.id, body)
      : await api().createIntegration(body);
    state.saved = saved;
    state.editing = editingOf(saved);
    input("secret-access-key").value = "";
    show(byId("save-form"), false);
    show(byId("result"), true);
    await validateSaved(`Saved “${saved.name}”.`);
  } catch (err) {
    if (err instanceof ApiProblem && showFieldProblem(err)) {
      // The field is in an earlier step: say so here, with a way there (its message waits under it).
      const panel = panelOfField(err.field ?? "");
      if (panel !== undefined && panel !== 4) saveError(err.message, { goto: panel });
    } else if (err instanceof ApiProblem && err.code === "VERSION_MISMATCH" && state.editing) {
      await showConflict(state.editing);
    } else if (err instanceof ApiProblem && err.status === 404 && state.editing) {
      saveError("This integration was deleted by someone else while you edited it. Start again to connect the bucket.");
    } else {
      saveError(messageOf(err));
    }
  } finally {
    button.disabled = false;
  }
}

/** Someone saved first: say who won with what, and refresh the list so it shows their version. */
async function showConflict(editing: Editing): Promise<void> {
  const theirs = await api()
    .getIntegration(editing.id)
    .catch(() => undefined);
  const now = theirs ? ` It is now version ${theirs.version}${theirs.name !== editing.name ? `, named “${theirs.name}”` : ""}.` : "";
  saveError(
    `Someone else saved “${editing.name}” after you opened it, so your changes were not saved.${now} Load the saved version, then make your changes again.`,
    { conflict: true },
  );
  void reloadIntegrations();
}

function saveError(message: string, options: { conflict?: boolean; goto?: number } = {}): void {
  const conflict = options.conflict ?? false;
  const goto = byId<HTMLButtonElement>("save-error-goto");
  const index = options.goto === undefined ? -1 : flow().findIndex((step) => step.panel === options.goto);
  const target = flow()[index];
  if (target) {
    goto.dataset["step"] = String(target.panel);
    goto.textContent = `Go to step ${index + 1}: ${target.title}`;
  }
  byId("save-error-text").textContent = target ? `${message} Go back to step ${index + 1} to change it.` : message;
  show(goto, target !== undefined);
  show(byId("conflict-reload"), conflict);
  show(byId("save-error"), true);
}

function hideSaveError(): void {
  show(byId("save-error"), false);
  show(byId("conflict-reload"), false);
  show(byId("save-error-goto"), false);
}

/** "Go to step N" under a save error: that step, with the field that needs a change focused. */
function gotoFromSaveError(): void {
  const step = Number(byId("save-error-goto").dataset["step"] ?? "1");
  goTo(step);
  byId(`step-${step}`).querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
}

/** Runs validation for the integration just saved (or chosen in the list) and shows the report;
 * `lead` starts the line above it ("Saved “X”."). */
async function validateSaved(lead = ""): Promise<void> {
  const saved = state.saved;
  if (!saved) return;
  const line = byId("saved-text");
  state.reportLead = lead || `“${saved.name}”:`;
  const where = isS3Compatible(saved) ? "the store" : "AWS";
  line.textContent = `${state.reportLead} Checking it against ${where} now…`;
  const again = byId<HTMLButtonElement>("validate-again");
  again.disabled = true;
  const report = byId("report");
  report.replaceChildren(el("p", { class: "hint" }, "Validating…"));
  show(byId("cors-fix"), false);
  try {
    const result = await api().validate(saved.id);
    renderReport(report, result, isS3Compatible(saved));
    line.textContent = `${state.reportLead} Checked against ${where} just now.`;
    if (result.checks.some((c) => c.code === "CORS" && c.result === "fail")) {
      // An S3-compatible store's CORS configuration is the app's (it has no other policies).
      const cors = isS3Compatible(saved) ? await api().corsPolicy() : (await api().integrationPolicies(saved.id)).cors;
      byId("cors-policy").textContent = cors.text;
      show(byId("cors-fix"), true);
    }
  } catch (err) {
    report.replaceChildren(el("p", { class: "error-box" }, `Validation could not run: ${messageOf(err)}`));
  } finally {
    again.disabled = false;
  }
  void reloadIntegrations();
}

const CHECK_WORDS: Record<string, string> = {
  ASSUME_ROLE: "The platform can assume the role",
  EXTERNAL_ID_REQUIRED: "The role requires your external ID",
  BUCKET_REGION: "The bucket is in the saved region",
  LIST_ACCESS: "The role can list the bucket",
  READ_ACCESS: "The role can read files",
  VERSION_READ: "The role can read earlier versions",
  KMS_DECRYPT: "The role can decrypt files with your KMS keys",
  CORS: "Browsers may load files from the bucket (CORS)",
};

/** An S3-compatible store's checks: the access key, not a role. */
const STORE_CHECK_WORDS: Record<string, string> = {
  ...CHECK_WORDS,
  ENDPOINT_REACHABLE: "The store's endpoint answers",
  LIST_ACCESS: "The access key can list the bucket",
  READ_ACCESS: "The access key can read files",
  VERSION_READ: "The access key can read earlier versions",
};

function checkWords(code: string, store: boolean): string {
  return (store ? STORE_CHECK_WORDS : CHECK_WORDS)[code] ?? code;
}

const STATE_WORDS: Record<string, string> = {
  healthy: "Healthy: every check passed.",
  degraded: "Degraded: it works, but a warning below needs attention.",
  failing: "Failing: members cannot see files until the failures below are fixed.",
  unverified: "Not checked yet.",
};

/** A failed CORS check's message ends with the JSON to paste; the page shows that JSON in its own
 * box with a copy button, so the message stops before it. */
function shortMessage(check: Check, jsonShownBelow = true): string {
  // The API's advice names its own route for the trust policy; here that is the wizard's step 3.
  if (check.code !== "CORS") return check.message.replace(/GET \/policies\/trust/g, "step 3 of the wizard");
  const firstLine = check.message.split("\n")[0] ?? check.message;
  const ending = jsonShownBelow ? ": the CORS configuration to paste is below." : ": choose Validate to see the CORS configuration to paste.";
  return firstLine.replace(/,? and paste:\s*$/, ending);
}

function renderReport(container: HTMLElement, report: Report, store: boolean): void {
  const items = report.checks.map((check: Check) =>
    el(
      "li",
      { class: `check ${check.result}`, "data-code": check.code },
      el("span", { class: "badge" }, check.result === "pass" ? "Passed" : check.result === "warn" ? "Warning" : "Failed"),
      el("strong", {}, checkWords(check.code, store)),
      el("span", { class: "target" }, ` ${check.target}`),
      check.result === "pass" ? null : el("p", { class: "fix" }, shortMessage(check)),
    ),
  );
  const summary = el("p", { class: `state ${report.state}`, id: "report-state", "data-state": report.state }, STATE_WORDS[report.state] ?? report.state);
  const list = el("ul", { class: "checks" }, ...items);
  if (report.recorded) {
    container.replaceChildren(summary, list);
  } else {
    const dropped = el("p", { class: "hint" }, "Someone changed this integration while it was checked, so this report was not recorded.");
    container.replaceChildren(summary, dropped, list);
  }
}

function resetWizard(): void {
  state.editing = undefined;
  state.saved = undefined;
  state.accessOk = false;
  state.regionTouched = false;
  byId("wizard-title").textContent = "Connect a bucket";
  show(byId("wizard-cancel"), false);
  setKindLocked(false);
  radio("kind", "aws_role").checked = true;
  radio("addressing-style", "path").checked = true;
  for (const id of ["endpoint", "access-key-id", "secret-access-key"]) input(id).value = "";
  byId<HTMLTextAreaElement>("kms-keys").value = "";
  byId("store-cors-policy").textContent = "";
  scopeRadio("default").checked = true;
  input("scope-bucket").value = "";
  input("scope-prefix").value = "";
  byId<HTMLTextAreaElement>("scope-buckets").value = "";
  input("versioning").checked = false;
  input("name").value = "";
  input("role-arn").value = "";
  input("region").value = "us-east-1";
  byId("access-policy").textContent = "";
  [...SAVE_FIELDS, ...SCOPE_FIELDS].forEach((f) => fieldError(f, ""));
  hideSaveError();
  show(byId("save-form"), true);
  show(byId("result"), false);
  onScopeTypeChange();
  state.step = 1;
  onKindChange();
  goTo(1);
}

/** An edited integration keeps its kind (the radios say so, and why). */
function setKindLocked(locked: boolean): void {
  document.querySelectorAll<HTMLInputElement>('input[name="kind"]').forEach((r) => (r.disabled = locked));
  show(byId("kind-locked"), locked);
}

function editIntegration(integration: Integration): void {
  resetWizard();
  state.editing = editingOf(integration);
  byId("wizard-title").textContent = `Edit “${integration.name}”`;
  show(byId("wizard-cancel"), true);
  radio("kind", state.editing.kind).checked = true;
  setKindLocked(true);
  if (isS3Compatible(integration)) {
    input("endpoint").value = integration.endpoint;
    input("access-key-id").value = integration.access_key_id;
    radio("addressing-style", integration.addressing_style === "virtual" ? "virtual" : "path").checked = true;
  } else {
    input("role-arn").value = integration.role_arn;
    byId<HTMLTextAreaElement>("kms-keys").value = (integration.kms_key_arns ?? []).join("\n");
  }
  scopeRadio(integration.scope.type).checked = true;
  if (integration.scope.type === "bucket") {
    input("scope-bucket").value = integration.scope.bucket;
    input("scope-prefix").value = integration.scope.prefix ?? "";
  } else {
    byId<HTMLTextAreaElement>("scope-buckets").value = integration.scope.buckets.join("\n");
  }
  input("versioning").checked = integration.versioning;
  input("name").value = integration.name;
  input("region").value = integration.region;
  onScopeTypeChange();
  onKindChange();
  byId("wizard").scrollIntoView({ block: "start" });
  goTo(1);
}

async function reloadSavedVersion(): Promise<void> {
  const editing = state.editing;
  if (!editing) return;
  try {
    editIntegration(await api().getIntegration(editing.id));
    banner("");
  } catch (err) {
    saveError(messageOf(err));
  }
}

function onScopeTypeChange(): void {
  show(byId("bucket-fields"), scopeType() === "bucket");
  show(byId("buckets-field"), scopeType() === "default");
  fieldError("scope", "");
}

// ---- the integrations list --------------------------------------------------------------------------------

/** After a change: the list, the rotation panel and the activity view again. */
async function reloadIntegrations(): Promise<void> {
  try {
    const page = await api().listIntegrations();
    renderIntegrations(page.integrations, page.next, false);
  } catch (err) {
    banner(messageOf(err));
  }
  // After the list: the activity view names integrations as the list now does.
  await Promise.all([refreshRotation(), refreshAudit()]);
}

async function loadMore(): Promise<void> {
  if (!state.next) return;
  try {
    const page = await api().listIntegrations(state.next);
    renderIntegrations(page.integrations, page.next, true);
  } catch (err) {
    banner(messageOf(err));
  }
}

/** What the list says about how the platform reaches the files: never a secret. */
function connectionCell(integration: Integration): HTMLTableCellElement {
  if (isS3Compatible(integration)) {
    return el(
      "td",
      { class: "connection", "data-kind": "s3_compatible" },
      el("span", { class: "kind-name" }, "S3-compatible"),
      el("span", { class: "endpoint" }, integration.endpoint),
      el("br"),
      el("span", { class: "hint" }, `key ${integration.access_key_id}`, integration.secret_set ? " · secret set" : " · no secret"),
      integration.addressing_style === "virtual" ? el("span", { class: "hint" }, " · virtual-hosted") : null,
    );
  }
  const keys = integration.kms_key_arns ?? [];
  return el(
    "td",
    { class: "connection", "data-kind": "aws_role" },
    el("span", { class: "kind-name" }, "AWS IAM role"),
    el("span", { class: "role" }, integration.role_arn),
    keys.length > 0 ? el("span", { class: "hint kms", title: keys.join("\n") }, ` · KMS: ${keys.join(", ")}`) : null,
  );
}

function scopeText(integration: Integration): string {
  const scope = integration.scope;
  if (scope.type === "default") return `Default: ${scope.buckets.join(", ")}`;
  return `${scope.bucket}${scope.prefix ? `/${scope.prefix}` : ""}`;
}

function renderIntegrations(list: Integration[], next: string | undefined, append: boolean): void {
  state.next = next;
  for (const integration of list) state.names.set(integration.id, integration.name);
  const rows = byId("integrations-rows");
  const built = list.map((integration) => {
    const health = integration.status.state;
    const checked = integration.status.checked_at;
    const failures = (integration.status.checks ?? []).filter((c) => c.result !== "pass");
    const actions = el(
      "td",
      { class: "actions" },
      button("Validate", "validate", () => validateFromList(integration)),
      button("Edit", "edit", () => editIntegration(integration)),
      button("Delete", "delete", () => confirmDelete(integration)),
    );
    const row = el(
      "tr",
      { "data-id": integration.id, "data-state": health },
      el("td", { class: "name" }, integration.name),
      connectionCell(integration),
      el("td", {}, scopeText(integration), integration.versioning ? el("span", { class: "hint" }, " · versions") : null),
      el("td", {}, integration.region),
      el("td", {}, el("span", { class: `pill ${health}` }, health)),
      el("td", checked ? { title: checked } : {}, checked ? relativeTime(checked) : "never"),
      actions,
    );
    const detail =
      failures.length > 0
        ? el(
            "tr",
            { class: "detail" },
            el("td", { colspan: "7" }, el("ul", {}, ...failures.map((c) => el("li", {}, `${checkWords(c.code, isS3Compatible(integration))}: ${shortMessage(c, false)}`)))),
          )
        : null;
    return [row, detail];
  });
  const nodes = built.flat().filter((n): n is HTMLTableRowElement => n !== null);
  if (append) rows.append(...nodes);
  else rows.replaceChildren(...nodes);
  const empty = rows.children.length === 0;
  show(byId("integrations-empty"), empty);
  show(byId("integrations-table"), !empty);
  show(byId("integrations-more"), next !== undefined);
}

/** Validates a listed integration and shows the whole report (each failure's fix, the CORS JSON)
 * in the wizard's last step, where Edit and Validate again are at hand. */
async function validateFromList(integration: Integration): Promise<void> {
  editIntegration(integration);
  state.saved = integration;
  goTo(4);
  show(byId("save-form"), false);
  show(byId("result"), true);
  await validateSaved(`“${integration.name}”:`);
}

function button(label: string, action: string, onClick: (b: HTMLButtonElement) => void | Promise<void>): HTMLButtonElement {
  const b = el("button", { type: "button", "data-action": action }, label);
  b.addEventListener("click", () => void onClick(b));
  return b;
}

function confirmDelete(integration: Integration): void {
  const dialog = byId<HTMLDialogElement>("confirm-delete");
  byId("confirm-delete-text").textContent =
    `Delete “${integration.name}” (${scopeText(integration)})? Members will no longer get links for its files. This cannot be undone.`;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api().deleteIntegration(integration.id, integration.version);
      banner("");
      if (state.editing?.id === integration.id) resetWizard();
    } catch (err) {
      if (err instanceof ApiProblem && err.code === "VERSION_MISMATCH") {
        banner(`“${integration.name}” was changed by someone else since this list was loaded, so it was not deleted. The list now shows the saved version; delete again if you still want to.`);
      } else if (!(err instanceof ApiProblem && err.status === 404)) {
        banner(messageOf(err));
      }
    }
    await reloadIntegrations();
  };
  dialog.showModal();
}

// ---- try a locator ------------------------------------------------------------------------------------------
// What the page shows comes through stable links (POST /links): `<api>/l/<token>`, opened without a
// token, answers each request with a redirect to a freshly presigned URL. An <img> or <video> that
// loads again after the presigned URL it got last time has expired (a re-render, a seek, a page left
// open) therefore still works; the link itself lives a day.

const LINK_WORDS: Record<string, string> = {
  INVALID_LOCATOR: "That is not a locator",
  UNSUPPORTED_LOCATOR: "That kind of locator is not supported",
  NO_INTEGRATION: "No integration covers this bucket",
  BUCKET_NOT_PERMITTED: "This bucket is not permitted",
  VERSIONING_DISABLED: "Versions are not enabled for this integration",
  ASSUME_ROLE_DENIED: "AWS refused the platform access to the role",
  ASSUME_ROLE_FAILED: "AWS could not be reached just now",
  INVALID_DOWNLOAD_AS: "The file name cannot be used for a download",
};

const IMAGE = /\.(png|jpe?g|gif|webp|avif|svg|bmp|ico)$/i;
const VIDEO = /\.(mp4|webm|mov|m4v|ogv)$/i;

/** A link is used again (the same `src`, so the browser's cache applies) while it has this long left. */
const LINK_REUSE_MARGIN_MS = 10 * 60_000;

/** Stable links this page got, by request (locator and options): showing the same file again
 * shows the same link, until it comes close to its end. */
const linkCache = new Map<string, LinkResult>();

/** One stable link per request, in order: from the cache when it is still good for a while, the
 * rest in one POST /links. Only links are cached, never errors. */
async function stableLinks(requests: (string | LocatorWithOptions)[]): Promise<LinkResult[]> {
  const keys = requests.map((request) => JSON.stringify(request));
  const now = Date.now();
  const cached = keys.map((key) => {
    const hit = linkCache.get(key);
    const until = hit?.expires_at ? Date.parse(hit.expires_at) : NaN;
    return hit && until - now > LINK_REUSE_MARGIN_MS ? hit : undefined;
  });
  const missing = requests.filter((_, index) => cached[index] === undefined);
  if (missing.length === 0) return cached as LinkResult[];
  const { results } = await api().links(missing);
  if (!Array.isArray(results) || results.length !== missing.length) {
    throw new ApiProblem(200, "BAD_ANSWER", "The API answered without a link for every file. Try again.");
  }
  let next = 0;
  return keys.map((key, index) => {
    const hit = cached[index];
    if (hit) return hit;
    const result = results[next++] as LinkResult;
    if (result.link && !result.error) {
      if (!/^https?:\/\//i.test(result.link)) {
        throw new ApiProblem(200, "BAD_ANSWER", "The API answered with a link that is not a web address. Tell your admin.");
      }
      linkCache.set(key, result);
    }
    return result;
  });
}

/** The key of an `s3://` locator, without a trailing `?versionId=`; undefined for anything else. */
function keyOf(locator: string): string | undefined {
  const match = /^s3:\/\/[^/]+\/(.+)$/.exec(locator);
  return match?.[1]?.replace(/\?versionId=[^/?&#%]*$/, "");
}

/** The name a download gets: the key's last segment (what the API accepts: 1-255 characters, no
 * control characters), or undefined when there is none. */
function downloadName(locator: string): string | undefined {
  const key = keyOf(locator);
  const name = key?.slice(key.lastIndexOf("/") + 1);
  return name && name.length <= 255 && !/[\u0000-\u001f\u007f]/.test(name) ? name : undefined;
}

function linkError(result: LinkResult | undefined): string {
  if (!result) return "No link came back: try again.";
  const words = result.error ? (LINK_WORDS[result.error.code] ?? "No link could be made for the locator") : "No link came back";
  return `${words}: ${result.error?.message ?? "try again."}`;
}

async function tryLocator(event: Event): Promise<void> {
  event.preventDefault();
  const locator = input("locator").value.trim();
  const out = byId("try-result");
  if (!locator) {
    out.replaceChildren(el("p", { class: "error-box" }, "Enter a locator such as s3://bucket/path/to/image.png."));
    return;
  }
  const submit = byId<HTMLButtonElement>("try-submit");
  submit.disabled = true;
  out.replaceChildren(el("p", { class: "hint" }, "Signing…"));
  try {
    // The link to show, and one that downloads the file under its own name.
    const name = downloadName(locator);
    const [view, download] = await stableLinks(name ? [locator, { locator, download_as: name }] : [locator]);
    if (!view?.link || view.error) {
      out.replaceChildren(el("p", { class: "error-box", id: "try-error" }, linkError(view)));
      return;
    }
    out.replaceChildren(...preview(view, download, locator, name));
  } catch (err) {
    out.replaceChildren(el("p", { class: "error-box", id: "try-error" }, messageOf(err)));
  } finally {
    submit.disabled = false;
  }
}

function preview(view: LinkResult, download: LinkResult | undefined, locator: string, name: string | undefined): Node[] {
  const url = view.link ?? "";
  const key = keyOf(locator) ?? locator.split("?")[0] ?? locator;
  const until = view.expires_at ? `The link works until ${new Date(view.expires_at).toLocaleString()}` : "The link works for a while";
  const open = el("a", { href: url, target: "_blank", rel: "noopener noreferrer", id: "try-link" }, "Open the file");
  const actions: (Node | string)[] = [open];
  if (download?.link && !download.error && name) {
    actions.push(" · ", el("a", { href: download.link, download: name, id: "try-download" }, `Download ${name}`));
  } else if (download?.error) {
    actions.push(el("span", { class: "field-error", id: "try-download-error" }, ` Download: ${linkError(download)}`));
  }
  const details = [
    el("p", { class: "small link-line" }, "Link: ", el("code", { id: "try-link-text" }, url)),
    el("p", { class: "hint" }, `${until}, opened by anyone who has it: each time it sends the browser to a freshly signed address. `, ...actions),
  ];
  const unavailable = (what: string) =>
    el("p", { class: "error-box", id: "try-error" },
      `The link was made, but the browser could not load the ${what}: the file may be missing, or the role may not read it. Validate the integration to see why.`);
  if (IMAGE.test(key)) {
    const image = el("img", { id: "try-image", alt: `Preview of ${locator}`, src: url });
    image.addEventListener("error", () => image.replaceWith(unavailable("image")));
    return [image, ...details];
  }
  if (VIDEO.test(key)) {
    const video = el("video", { id: "try-video", src: url, controls: "", preload: "metadata", "aria-label": `Video ${locator}` });
    reloadOnExpiry(video, () => video.replaceWith(unavailable("video")));
    return [video, ...details];
  }
  return details;
}

/** A browser fetches the rest of a video (a seek, a resumed download) from the presigned URL the
 * link redirected it to, not from the link: on a page left open that URL expires, and the next
 * Range request fails. The video then loads the link again (a fresh 307 to a fresh URL) and goes
 * on where it was, as long as each load got as far as the metadata; a load that does not is
 * `failed`. */
function reloadOnExpiry(video: HTMLVideoElement, failed: () => void): void {
  let loadedSinceReload = false;
  video.addEventListener("loadedmetadata", () => (loadedSinceReload = true));
  video.addEventListener("error", () => {
    if (!loadedSinceReload) {
      failed();
      return;
    }
    loadedSinceReload = false;
    const at = video.currentTime;
    const playing = !video.paused;
    video.addEventListener(
      "loadedmetadata",
      () => {
        video.currentTime = at;
        if (playing) void video.play().catch(() => undefined);
      },
      { once: true },
    );
    video.load();
  });
}

// ---- copy buttons -------------------------------------------------------------------------------------------

async function copy(buttonElement: HTMLButtonElement): Promise<void> {
  const source = byId(buttonElement.dataset["copy"] ?? "");
  const text = source.textContent ?? "";
  try {
    await navigator.clipboard.writeText(text);
    buttonElement.textContent = "Copied";
  } catch {
    // No clipboard permission: select the text so Ctrl+C copies it.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    buttonElement.textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => (buttonElement.textContent = "Copy"), 2500);
}

// ---- wiring ---------------------------------------------------------------------------------------------------

function wire(): void {
  byId("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = byId<HTMLTextAreaElement>("token-input").value.trim();
    if (!token) {
      fieldError("token-input", "Paste a token first.");
      return;
    }
    // A fresh page for the new identity (a member's page has no admin sections left to show).
    sessionStorage.setItem(TOKEN_KEY, token);
    location.reload();
  });
  byId("sign-out").addEventListener("click", signOut);
  document.querySelectorAll<HTMLInputElement>('input[name="kind"]').forEach((r) =>
    r.addEventListener("change", () => {
      onKindChange();
      refreshSoon();
    }),
  );
  byId("kms-keys").addEventListener("input", refreshSoon);
  // A store field's message goes once the field is changed (the next Next or Save checks again).
  for (const id of ["endpoint", "access-key-id", "secret-access-key", "name", "role-arn", "region"]) {
    byId(id).addEventListener("input", () => fieldError(id, ""));
  }
  input("region").addEventListener("input", () => (state.regionTouched = true));
  byId("save-error-goto").addEventListener("click", gotoFromSaveError);
  document.querySelectorAll<HTMLInputElement>('input[name="scope-type"]').forEach((radio) =>
    radio.addEventListener("change", () => {
      onScopeTypeChange();
      refreshSoon();
    }),
  );
  for (const id of ["scope-bucket", "scope-prefix", "scope-buckets"]) {
    byId(id).addEventListener("input", refreshSoon);
  }
  input("versioning").addEventListener("change", refreshSoon);
  byId("step-1-next").addEventListener("click", () => void nextFromScope());
  byId("step-2-next").addEventListener("click", () => void nextFromAccess());
  byId("step-3-next").addEventListener("click", () => goTo(4));
  document.querySelectorAll<HTMLButtonElement>("[data-back]").forEach((b) => b.addEventListener("click", () => goTo(stepBeside(-1))));
  byId("save-form").addEventListener("submit", (event) => void save(event));
  byId("conflict-reload").addEventListener("click", () => void reloadSavedVersion());
  byId("validate-again").addEventListener("click", () => void validateSaved(state.reportLead));
  byId("wizard-restart").addEventListener("click", resetWizard);
  byId("wizard-cancel").addEventListener("click", resetWizard);
  byId("integrations-more").addEventListener("click", () => void loadMore());
  byId("try-form").addEventListener("submit", (event) => void tryLocator(event));
  wireExplain({ api, messageOf });
  wireAudit({ api, messageOf, integrationName: (id) => state.names.get(id) });
  wireRotation({ api, messageOf, copy, changed: reloadIntegrations });
  document.querySelectorAll<HTMLButtonElement>("button.copy").forEach((b) => b.addEventListener("click", () => void copy(b)));
}

void start().catch((err: unknown) => banner(messageOf(err)));
