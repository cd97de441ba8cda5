// "External ID", admins only, beside the integrations list: the org's current external ID and
// "Rotate external ID" (POST /policies/trust/rotate, after a confirmation). During a rotation
// (GET /policies/trust has `rotation`) it walks the admin through it: 1) paste the trust policy that
// names both IDs into every role (copy button); 2) validate each integration that assumes a role
// (POST /integrations/{id}/validate) and see whether its role accepts the new ID, from the report's
// EXTERNAL_ID_ROTATION check (pass: the new ID; warn: only the previous one; fail: neither; none
// since the rotation started: not validated yet); 3) "Complete rotation"
// (POST /policies/trust/rotate/complete), with the API's own sentence when it refuses
// (409 ROTATION_NOT_READY names each integration that holds it up). The deadline, when the previous
// ID stops being honoured anyway, is shown throughout. Everything the API sends reaches the page as
// text.

import { ApiProblem, isS3Compatible } from "./api.js";
import type { Api, Check, Integration, Rotation, TrustPolicy } from "./api.js";
import { byId, el, show } from "./dom.js";

interface Deps {
  api: () => Api;
  messageOf: (err: unknown) => string;
  /** The page's copy button behaviour (the text of the element named by data-copy). */
  copy: (button: HTMLButtonElement) => Promise<void>;
  /** Something changed on the API (a rotation, a validation): the page reloads its views, this
   * panel included (through refreshRotation). */
  changed: () => Promise<void>;
}

type Verdict = "pass" | "warn" | "fail" | "none";

const VERDICT_WORDS: Record<Verdict, string> = {
  pass: "Accepts the new external ID.",
  warn: "Accepts only the previous external ID: paste the trust policy above into its role, then validate again.",
  fail: "Accepts neither external ID: paste the trust policy above into its role, then validate again. This does not hold up completing the rotation.",
  none: "Not validated since the rotation started: validate it.",
};

const VERDICT_LABEL: Record<Verdict, string> = { pass: "New ID accepted", warn: "Previous ID only", fail: "Neither ID", none: "Not validated" };

const VERDICT_CLASS: Record<Verdict, string> = { pass: "healthy", warn: "degraded", fail: "failing", none: "unverified" };

const panel = {
  deps: undefined as Deps | undefined,
  trust: undefined as TrustPolicy | undefined,
  /** The integrations that assume a role (a store has no trust policy), while a rotation is open. */
  roles: [] as Integration[],
  /** Validation reports made from this panel, by integration id: newer than the list may be. */
  reports: new Map<string, { checked_at: string; checks: Check[] }>(),
  /** Integrations being validated now. */
  validating: new Set<string>(),
  /** The sentence after a completed rotation, shown until the next one starts. */
  completed: "",
  /** The API's refusal of the last "Complete rotation". */
  completeError: "",
  seq: 0,
};

/** Builds the section after #integrations and its confirmation dialog (hidden until an admin signs
 * in), and wires them. */
export function wireRotation(deps: Deps): void {
  panel.deps = deps;
  const section = el(
    "section",
    { id: "rotation", class: "card", "aria-labelledby": "rotation-title", hidden: "" },
    el("h2", { id: "rotation-title" }, "External ID"),
    el("div", { id: "rotation-body", "aria-live": "polite" }),
  );
  byId("integrations").after(section);
  const dialog = el(
    "dialog",
    { id: "confirm-rotate", "aria-labelledby": "confirm-rotate-title" },
    el(
      "form",
      { method: "dialog" },
      el("h3", { id: "confirm-rotate-title" }, "Rotate the external ID?"),
      el(
        "p",
        {},
        "A new external ID becomes current at once. The previous one stays honoured until a deadline (shown next), while you " +
          "paste the new trust policy into every role and validate each integration. A role that still accepts only the " +
          "previous ID after the deadline stops working: members get no files through it.",
      ),
      el(
        "div",
        { class: "nav" },
        el("button", { value: "cancel", id: "confirm-rotate-cancel" }, "Cancel"),
        el("button", { value: "rotate", class: "danger", id: "confirm-rotate-ok" }, "Rotate"),
      ),
    ),
  );
  document.body.append(dialog);
}

/** Shows the panel and loads it. */
export function showRotation(): void {
  const section = document.getElementById("rotation");
  if (!section) return;
  show(section, true);
  void refreshRotation();
}

/** Loads the trust policy (and during a rotation every integration) again and re-renders. Does
 * nothing for a member (the panel is gone). */
export async function refreshRotation(): Promise<void> {
  const deps = panel.deps;
  if (!deps || !document.getElementById("rotation")) return;
  const seq = ++panel.seq;
  try {
    const trust = await deps.api().trustPolicy();
    const roles = trust.rotation ? await allRoleIntegrations(deps.api()) : [];
    if (seq !== panel.seq) return;
    panel.trust = trust;
    panel.roles = roles;
    render();
  } catch (err) {
    if (seq !== panel.seq) return;
    byId("rotation-body").replaceChildren(el("p", { class: "error-box", id: "rotation-error" }, `The external ID could not be loaded: ${deps.messageOf(err)}`));
  }
}

/** Every integration of the org that assumes an IAM role (all pages of the list). */
async function allRoleIntegrations(api: Api): Promise<Integration[]> {
  const all: Integration[] = [];
  let next: string | undefined;
  do {
    const page = await api.listIntegrations(next);
    all.push(...page.integrations);
    next = page.next;
  } while (next !== undefined);
  return all.filter((integration) => !isS3Compatible(integration));
}

/** Re-renders the panel, keeping the focus on the control that had it (a button re-made). */
function render(): void {
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset["focusKey"] : undefined;
  const trust = panel.trust;
  const body = byId("rotation-body");
  if (!trust) return;
  body.replaceChildren(...(trust.rotation ? during(trust, trust.rotation) : idle(trust)));
  if (focused) body.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
}

function idle(trust: TrustPolicy): Node[] {
  const rotate = el("button", { type: "button", id: "rotation-start", "data-focus-key": "start" }, "Rotate external ID");
  rotate.addEventListener("click", confirmRotate);
  const nodes: (HTMLElement | null)[] = [
    panel.completed ? el("p", { class: "note-box", id: "rotation-completed" }, panel.completed) : null,
    el("p", {}, "Every role's trust policy requires your organization's external ID: ", el("code", { id: "rotation-external-id" }, trust.external_id)),
    el(
      "p",
      { class: "hint" },
      "Rotate it when it may have been exposed. Nothing stops working: the previous ID stays honoured for a while, and this panel walks you through updating each role.",
    ),
    el("div", { class: "nav" }, rotate),
  ];
  return nodes.filter((node): node is HTMLElement => node !== null);
}

function during(trust: TrustPolicy, rotation: Rotation): Node[] {
  const copy = el("button", { type: "button", class: "copy", "data-copy": "rotation-trust" }, "Copy");
  copy.addEventListener("click", () => void panel.deps?.copy(copy));
  const complete = el("button", { type: "button", class: "primary", id: "rotation-complete", "data-focus-key": "complete" }, "Complete rotation");
  complete.addEventListener("click", () => void completeRotation(complete));
  const error = el("p", { class: "error-box", id: "rotation-complete-error", role: "alert" }, panel.completeError);
  show(error, panel.completeError !== "");
  return [
    el(
      "p",
      { class: "state degraded", id: "rotation-status" },
      "A rotation is in progress (started ",
      time(rotation.started_at, "rotation-started"),
      "). The previous external ID is honoured until ",
      time(rotation.previous_honoured_until, "rotation-deadline"),
      ".",
    ),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, "New external ID (current)"),
      el("dd", {}, el("code", { id: "rotation-current" }, rotation.current_external_id)),
      el("dt", {}, "Previous external ID"),
      el("dd", {}, el("code", { id: "rotation-previous" }, rotation.previous_external_id)),
    ),
    el("h3", {}, "1. Paste this trust policy into every role"),
    el(
      "p",
      {},
      "It names both IDs, so each role keeps working while you update them. In the AWS console open ",
      el("strong", {}, "IAM → Roles → the role → Trust relationships → Edit trust policy"),
      ", replace the contents with this policy and choose ",
      el("strong", {}, "Update policy"),
      ".",
    ),
    el(
      "div",
      { class: "doc" },
      el("div", { class: "doc-head" }, el("span", {}, "Trust policy (both IDs)"), copy),
      el("pre", { id: "rotation-trust", tabindex: "0" }, trust.text),
    ),
    el("h3", {}, "2. Validate each integration"),
    el("p", { class: "hint" }, "Validation tries the new ID first, then the previous one, and says which the role accepts."),
    roleList(rotation),
    el("h3", {}, "3. Complete the rotation"),
    el(
      "p",
      {},
      "Once every role accepts the new ID, complete the rotation: only the new ID is honoured from then on. Otherwise it completes by itself at the deadline.",
    ),
    error,
    el("div", { class: "nav" }, complete),
  ];
}

function roleList(rotation: Rotation): HTMLElement {
  if (panel.roles.length === 0) {
    return el("p", { class: "hint", id: "rotation-no-roles" }, "No integration assumes an IAM role: there is nothing to update.");
  }
  return el(
    "ul",
    { class: "checks", id: "rotation-integrations" },
    ...panel.roles.map((integration) => {
      const verdict = verdictOf(integration, rotation);
      const busy = panel.validating.has(integration.id);
      const validate = el(
        "button",
        { type: "button", "data-action": "rotation-validate", "data-focus-key": `validate-${integration.id}` },
        "Validate",
        el("span", { class: "visually-hidden" }, ` “${integration.name}”`),
      );
      validate.disabled = busy;
      validate.addEventListener("click", () => void validate_(integration));
      return el(
        "li",
        { class: "rotation-role", "data-id": integration.id, "data-verdict": verdict },
        el("strong", { class: "name" }, integration.name),
        isS3Compatible(integration) ? null : el("span", { class: "hint role" }, ` ${integration.role_arn}`),
        el(
          "p",
          { class: "verdict" },
          el("span", { class: `pill ${VERDICT_CLASS[verdict]}` }, busy ? "Validating…" : VERDICT_LABEL[verdict]),
          " ",
          el("span", { class: "verdict-text" }, VERDICT_WORDS[verdict]),
          " ",
          validate,
        ),
      );
    }),
  );
}

/** What the integration's latest report since the rotation started says about its role. */
function verdictOf(integration: Integration, rotation: Rotation): Verdict {
  const started = seconds(rotation.started_at);
  const candidates = [panel.reports.get(integration.id), integration.status.checked_at ? { checked_at: integration.status.checked_at, checks: integration.status.checks ?? [] } : undefined]
    .filter((report): report is { checked_at: string; checks: Check[] } => report !== undefined && seconds(report.checked_at) >= started)
    .sort((a, b) => seconds(b.checked_at) - seconds(a.checked_at));
  const check = candidates[0]?.checks.find((c) => c.code === "EXTERNAL_ID_ROTATION");
  return check?.result ?? "none";
}

/** Whole seconds (the API's reports carry whole seconds: one in the rotation's own second counts). */
function seconds(iso: string): number {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? -Infinity : Math.floor(at / 1000);
}

function time(iso: string, id: string): HTMLElement {
  const at = Date.parse(iso);
  return el("time", { id, datetime: iso, title: iso }, Number.isNaN(at) ? iso : new Date(at).toLocaleString());
}

function confirmRotate(): void {
  const dialog = byId<HTMLDialogElement>("confirm-rotate");
  dialog.returnValue = "";
  dialog.onclose = () => {
    if (dialog.returnValue === "rotate") void rotate();
    else document.getElementById("rotation-start")?.focus();
  };
  dialog.showModal();
}

async function rotate(): Promise<void> {
  const deps = panel.deps;
  if (!deps) return;
  const start = document.getElementById("rotation-start") as HTMLButtonElement | null;
  if (start) start.disabled = true;
  try {
    panel.trust = await deps.api().rotateExternalId();
    panel.completed = "";
    panel.completeError = "";
    panel.reports.clear();
  } catch (err) {
    // 409 ROTATION_IN_PROGRESS: someone else started one; the reload shows it.
    byId("rotation-body").prepend(el("p", { class: "error-box", role: "alert" }, deps.messageOf(err)));
  }
  await deps.changed();
  // The walk starts here: focus its first line (or, when refused, the button again).
  const status = document.getElementById("rotation-status");
  if (status) {
    status.setAttribute("tabindex", "-1");
    status.focus();
  } else {
    document.getElementById("rotation-start")?.focus();
  }
}

async function validate_(integration: Integration): Promise<void> {
  const deps = panel.deps;
  if (!deps) return;
  panel.validating.add(integration.id);
  render();
  try {
    const report = await deps.api().validate(integration.id);
    panel.reports.set(integration.id, { checked_at: report.checked_at, checks: report.checks });
    panel.completeError = "";
  } catch (err) {
    panel.completeError = `“${integration.name}” could not be validated: ${deps.messageOf(err)}`;
  } finally {
    panel.validating.delete(integration.id);
  }
  render();
  await deps.changed();
}

async function completeRotation(button: HTMLButtonElement): Promise<void> {
  const deps = panel.deps;
  if (!deps) return;
  button.disabled = true;
  try {
    const trust = await deps.api().completeRotation();
    panel.trust = trust;
    panel.completeError = "";
    panel.reports.clear();
    panel.completed =
      `Rotation completed: only the external ID ${trust.external_id} is honoured from now on. The trust policy in step 3 of ` +
      "the wizard names only it; paste it into your roles to remove the previous ID from them.";
  } catch (err) {
    // 409 ROTATION_NOT_READY: the API's sentence names each integration and what to do.
    panel.completeError = err instanceof ApiProblem ? err.message : deps.messageOf(err);
    render();
    return;
  } finally {
    button.disabled = false;
  }
  render();
  await deps.changed();
  document.getElementById("rotation-completed")?.setAttribute("tabindex", "-1");
  document.getElementById("rotation-completed")?.focus();
}
