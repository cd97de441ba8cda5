// The page: sign-in from a token, the admin's four-step wizard (scope → access policy → trust
// policy and role → save, validate, fix), the integrations list with edit and delete, and the
// "try a locator" box every member has. It calls the public HTTP API only, with the user's token;
// what the user may do is decided by the API (a member's GET /integrations is 403, so the page
// shows no admin controls), never by this code alone.

import { Api, ApiProblem } from "./api.js";
import type { Check, Integration, Report, ScopeBody } from "./api.js";
import { byId, debounce, el, fieldError, input, relativeTime, show } from "./dom.js";

const TOKEN_KEY = "s3-integrations.token";

interface Editing {
  id: string;
  version: number;
  name: string;
  region: string;
}

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
  if (!admin) {
    // Members get no admin controls at all: the sections are removed, not only hidden.
    byId("wizard").remove();
    byId("integrations").remove();
    return;
  }
  show(byId("wizard"), true);
  show(byId("integrations"), true);
  resetWizard();
  if (first) renderIntegrations(first.integrations, first.next, false);
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
  for (const id of ["identity", "wizard", "integrations", "try"]) {
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

function scopeType(): "default" | "bucket" {
  const checked = document.querySelector<HTMLInputElement>('input[name="scope-type"]:checked');
  return checked?.value === "bucket" ? "bucket" : "default";
}

function scopeRadio(type: "default" | "bucket"): HTMLInputElement {
  const radio = document.querySelector<HTMLInputElement>(`input[name="scope-type"][value="${type}"]`);
  if (!radio) throw new Error(`the page has no scope-type radio for ${type}`);
  return radio;
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

const SCOPE_FIELDS = ["scope-bucket", "scope-prefix", "scope-buckets", "scope"];

/** The page's input for an API error's `field` ("scope.buckets[2]" → the bucket names box). */
function inputFor(field: string): string | undefined {
  const exact: Record<string, string> = {
    "scope.bucket": "scope-bucket",
    "scope.prefix": "scope-prefix",
    name: "name",
    role_arn: "role-arn",
    region: "region",
  };
  if (exact[field]) return exact[field];
  if (field.startsWith("scope.buckets")) return "scope-buckets";
  if (field.startsWith("scope")) return "scope";
  return undefined;
}

/** Shows an API error under the field it names; returns false when no field on the page fits. */
function showFieldProblem(problem: ApiProblem): boolean {
  const target = inputFor(problem.field ?? "");
  if (!target) return false;
  fieldError(target, problem.message);
  return true;
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
    // The region picks the partition (aws, aws-cn, aws-us-gov). A new integration's region is only
    // asked in step 4, so its draft renders for aws; an edited one renders for its saved region.
    const policy = await api().accessPolicy(scope, versioning(), state.editing?.region);
    if (seq !== state.draftSeq) return state.latestRefresh;
    SCOPE_FIELDS.forEach((f) => fieldError(f, ""));
    pre.textContent = policy.text;
    byId("access-summary").textContent = accessSummary(scope);
    state.accessOk = true;
  } catch (err) {
    if (seq !== state.draftSeq) return state.latestRefresh;
    SCOPE_FIELDS.forEach((f) => fieldError(f, ""));
    if (!(err instanceof ApiProblem && showFieldProblem(err))) fieldError("scope", messageOf(err));
    pre.textContent = "";
    byId("access-summary").textContent = "Fix the message above to see the policy.";
    state.accessOk = false;
  }
  return state.accessOk;
}

function accessSummary(scope: ScopeBody): string {
  const what = versioning() ? "read files and their earlier versions" : "read files";
  if (scope.type === "default") {
    const n = scope.buckets.length;
    return `This policy lets the role list and ${what} in ${n} bucket${n === 1 ? "" : "s"}: ${scope.buckets.join(", ")}.`;
  }
  return `This policy lets the role list and ${what} in ${scope.bucket}${scope.prefix ? ` under ${scope.prefix}` : ""}.`;
}

const refreshSoon = debounce(() => void refreshAccessPolicy(), 250);

// ---- the wizard: steps ---------------------------------------------------------------------------------

function goTo(step: number): void {
  state.step = step;
  for (let n = 1; n <= 4; n++) show(byId(`step-${n}`), n === step);
  document.querySelectorAll<HTMLElement>("#steps li").forEach((li) => {
    const n = Number(li.dataset["step"]);
    li.classList.toggle("done", n < step);
    if (n === step) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  });
  const heading = byId(`step-${step}`).querySelector("h3");
  heading?.setAttribute("tabindex", "-1");
  heading?.focus();
}

async function nextFromScope(): Promise<void> {
  show(byId("buckets-field"), scopeType() === "default");
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

async function nextFromAccess(): Promise<void> {
  if (!(await refreshAccessPolicy())) {
    if (scopeType() === "default" && bucketLines().length === 0) {
      fieldError("scope-buckets", "Enter at least one bucket name.");
    }
    return;
  }
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
  const body: Record<string, unknown> = {
    name: input("name").value.trim(),
    role_arn: input("role-arn").value.trim(),
    region: input("region").value.trim(),
    scope: draftScope(),
    versioning: versioning(),
  };
  if (state.editing) body["version"] = state.editing.version;
  return body;
}

async function save(event: Event): Promise<void> {
  event.preventDefault();
  ["name", "role-arn", "region", ...SCOPE_FIELDS].forEach((f) => fieldError(f, ""));
  hideSaveError();
  const button = byId<HTMLButtonElement>("save");
  button.disabled = true;
  try {
    const body = saveBody();
    const saved = state.editing
      ? await api().replaceIntegration(state.editing.id, body)
      : await api().createIntegration(body);
    state.saved = saved;
    state.editing = { id: saved.id, version: saved.version, name: saved.name, region: saved.region };
    show(byId("save-form"), false);
    show(byId("result"), true);
    await validateSaved(`Saved “${saved.name}”.`);
  } catch (err) {
    if (err instanceof ApiProblem && showFieldProblem(err)) {
      if (err.field?.startsWith("scope")) {
        saveError(`${err.message} Go back to step 1 or 2 to change the scope.`);
      }
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
    true,
  );
  void reloadIntegrations();
}

function saveError(message: string, conflict = false): void {
  byId("save-error-text").textContent = message;
  show(byId("conflict-reload"), conflict);
  show(byId("save-error"), true);
}

function hideSaveError(): void {
  show(byId("save-error"), false);
  show(byId("conflict-reload"), false);
}

/** Runs validation for the integration just saved (or chosen in the list) and shows the report;
 * `lead` starts the line above it ("Saved “X”."). */
async function validateSaved(lead = ""): Promise<void> {
  const saved = state.saved;
  if (!saved) return;
  const line = byId("saved-text");
  state.reportLead = lead || `“${saved.name}”:`;
  line.textContent = `${state.reportLead} Checking it against AWS now…`;
  const again = byId<HTMLButtonElement>("validate-again");
  again.disabled = true;
  const report = byId("report");
  report.replaceChildren(el("p", { class: "hint" }, "Validating…"));
  show(byId("cors-fix"), false);
  try {
    const result = await api().validate(saved.id);
    renderReport(report, result);
    line.textContent = `${state.reportLead} Checked against AWS just now.`;
    if (result.checks.some((c) => c.code === "CORS" && c.result === "fail")) {
      const policies = await api().integrationPolicies(saved.id);
      byId("cors-policy").textContent = policies.cors.text;
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
  CORS: "Browsers may load files from the bucket (CORS)",
};

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

function renderReport(container: HTMLElement, report: Report): void {
  const items = report.checks.map((check: Check) =>
    el(
      "li",
      { class: `check ${check.result}`, "data-code": check.code },
      el("span", { class: "badge" }, check.result === "pass" ? "Passed" : check.result === "warn" ? "Warning" : "Failed"),
      el("strong", {}, CHECK_WORDS[check.code] ?? check.code),
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
  byId("wizard-title").textContent = "Connect a bucket";
  show(byId("wizard-cancel"), false);
  scopeRadio("default").checked = true;
  input("scope-bucket").value = "";
  input("scope-prefix").value = "";
  byId<HTMLTextAreaElement>("scope-buckets").value = "";
  input("versioning").checked = false;
  input("name").value = "";
  input("role-arn").value = "";
  input("region").value = "us-east-1";
  byId("access-policy").textContent = "";
  ["name", "role-arn", "region", ...SCOPE_FIELDS].forEach((f) => fieldError(f, ""));
  hideSaveError();
  show(byId("save-form"), true);
  show(byId("result"), false);
  onScopeTypeChange();
  goTo(1);
}

function editIntegration(integration: Integration): void {
  resetWizard();
  state.editing = { id: integration.id, version: integration.version, name: integration.name, region: integration.region };
  byId("wizard-title").textContent = `Edit “${integration.name}”`;
  show(byId("wizard-cancel"), true);
  scopeRadio(integration.scope.type).checked = true;
  if (integration.scope.type === "bucket") {
    input("scope-bucket").value = integration.scope.bucket;
    input("scope-prefix").value = integration.scope.prefix ?? "";
  } else {
    byId<HTMLTextAreaElement>("scope-buckets").value = integration.scope.buckets.join("\n");
  }
  input("versioning").checked = integration.versioning;
  input("name").value = integration.name;
  input("role-arn").value = integration.role_arn;
  input("region").value = integration.region;
  onScopeTypeChange();
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

async function reloadIntegrations(): Promise<void> {
  try {
    const page = await api().listIntegrations();
    renderIntegrations(page.integrations, page.next, false);
  } catch (err) {
    banner(messageOf(err));
  }
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

function scopeText(integration: Integration): string {
  const scope = integration.scope;
  if (scope.type === "default") return `Default: ${scope.buckets.join(", ")}`;
  return `${scope.bucket}${scope.prefix ? `/${scope.prefix}` : ""}`;
}

function renderIntegrations(list: Integration[], next: string | undefined, append: boolean): void {
  state.next = next;
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
            el("td", { colspan: "6" }, el("ul", {}, ...failures.map((c) => el("li", {}, `${CHECK_WORDS[c.code] ?? c.code}: ${shortMessage(c, false)}`)))),
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

const PRESIGN_WORDS: Record<string, string> = {
  INVALID_LOCATOR: "That is not a locator",
  UNSUPPORTED_LOCATOR: "That kind of locator is not supported",
  NO_INTEGRATION: "No integration covers this bucket",
  BUCKET_NOT_PERMITTED: "This bucket is not permitted",
  VERSIONING_DISABLED: "Versions are not enabled for this integration",
  ASSUME_ROLE_DENIED: "AWS refused the platform access to the role",
  ASSUME_ROLE_FAILED: "AWS could not be reached just now",
};

const IMAGE = /\.(png|jpe?g|gif|webp|avif|svg|bmp|ico)$/i;
const VIDEO = /\.(mp4|webm|mov|m4v|ogv)$/i;

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
    const { results } = await api().presign([locator]);
    const result = results[0];
    if (!result) throw new ApiProblem(200, "BAD_ANSWER", "The API answered without a result. Try again.");
    if (result.error || !result.url) {
      const words = result.error ? (PRESIGN_WORDS[result.error.code] ?? "The locator could not be signed") : "No link came back";
      out.replaceChildren(el("p", { class: "error-box", id: "try-error" }, `${words}: ${result.error?.message ?? "try again."}`));
      return;
    }
    if (!/^https?:\/\//i.test(result.url)) {
      throw new ApiProblem(200, "BAD_ANSWER", "The API answered with a link that is not a web address. Tell your admin.");
    }
    out.replaceChildren(...preview(result.url, locator, result.expires_at));
  } catch (err) {
    out.replaceChildren(el("p", { class: "error-box", id: "try-error" }, messageOf(err)));
  } finally {
    submit.disabled = false;
  }
}

function preview(url: string, locator: string, expiresAt: string | undefined): Node[] {
  const key = locator.split("?")[0] ?? locator;
  const until = expiresAt ? `The link works until ${new Date(expiresAt).toLocaleTimeString()}.` : "";
  const link = el("a", { href: url, target: "_blank", rel: "noopener noreferrer", id: "try-link" }, "Open the file");
  const note = el("p", { class: "hint" }, `${until} `, link);
  if (IMAGE.test(key)) {
    const image = el("img", { id: "try-image", alt: `Preview of ${locator}`, src: url });
    image.addEventListener("error", () => {
      image.replaceWith(
        el("p", { class: "error-box", id: "try-error" },
          "The link was signed, but the browser could not load the image: the file may be missing, or the role may not read it. Validate the integration to see why."),
      );
    });
    return [image, note];
  }
  if (VIDEO.test(key)) {
    return [el("video", { id: "try-video", src: url, controls: "" }), note];
  }
  return [note];
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
  document.querySelectorAll<HTMLButtonElement>("[data-back]").forEach((b) => b.addEventListener("click", () => goTo(Math.max(1, state.step - 1))));
  byId("save-form").addEventListener("submit", (event) => void save(event));
  byId("conflict-reload").addEventListener("click", () => void reloadSavedVersion());
  byId("validate-again").addEventListener("click", () => void validateSaved(state.reportLead));
  byId("wizard-restart").addEventListener("click", resetWizard);
  byId("wizard-cancel").addEventListener("click", resetWizard);
  byId("integrations-more").addEventListener("click", () => void loadMore());
  byId("try-form").addEventListener("submit", (event) => void tryLocator(event));
  document.querySelectorAll<HTMLButtonElement>("button.copy").forEach((b) => b.addEventListener("click", () => void copy(b)));
}

void start().catch((err: unknown) => banner(messageOf(err)));
