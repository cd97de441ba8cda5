// "Activity", admins only: the org's audit trail (GET /audit), newest first, a page at a time
// ("Load older activity" while the API says there is more). Each event: when (local time, the exact
// UTC value in the element's datetime and title), who (the token's subject; the platform or a
// token without a subject said so), what in words, which integration (its name when the page knows
// it, else its id; empty for an org-level event such as an external-ID rotation), the version it
// produced, and each changed field as before → after (values as JSON text; a secret only says
// "changed"). Everything the API sends reaches the page as text.

import type { Api, AuditEvent } from "./api.js";
import { byId, el, show } from "./dom.js";

interface Deps {
  api: () => Api;
  messageOf: (err: unknown) => string;
  /** The name of an integration the page's list shows (undefined when it does not know it). */
  integrationName: (id: string) => string | undefined;
}

/** Events per request. */
const PAGE = 25;

const ACTION_WORDS: Record<string, string> = {
  "integration.created": "Created",
  "integration.replaced": "Replaced",
  "integration.deleted": "Deleted",
  "integration.validation_state_changed": "Validation state changed",
  "external_id.rotation_started": "External ID rotation started",
  "external_id.rotation_completed": "External ID rotation completed",
};

const ACTOR_TYPE_WORDS: Record<string, string> = {
  system: "the platform",
  no_subject: "a token without a subject",
};

const view = {
  deps: undefined as Deps | undefined,
  events: [] as AuditEvent[],
  next: undefined as string | undefined,
  /** Drops answers to superseded loads (a refresh while a page was loading). */
  seq: 0,
};

/** Builds the section after #integrations (hidden until an admin signs in) and wires it. */
export function wireAudit(deps: Deps): void {
  view.deps = deps;
  const section = el(
    "section",
    { id: "audit", class: "card", "aria-labelledby": "audit-title", hidden: "" },
    el(
      "div",
      { class: "wizard-head" },
      el("h2", { id: "audit-title" }, "Activity"),
      el("button", { type: "button", id: "audit-refresh", class: "link" }, "Refresh activity"),
    ),
    el("p", { class: "hint" }, "Every change to your integrations and your external ID, newest first: who made it and what changed."),
    el("p", { id: "audit-status", class: "hint", "aria-live": "polite" }),
    el("p", { id: "audit-error", class: "error-box", role: "alert", hidden: "" }),
    el(
      "table",
      { id: "audit-table", class: "audit", hidden: "" },
      el("caption", { class: "visually-hidden" }, "Activity, newest first"),
      el(
        "thead",
        {},
        el("tr", {}, ...["When", "Who", "What", "Integration", "Version", "Changes"].map((h) => el("th", { scope: "col" }, h))),
      ),
      el("tbody", { id: "audit-rows" }),
    ),
    el("button", { type: "button", id: "audit-more", hidden: "" }, "Load older activity"),
  );
  byId("integrations").after(section);
  byId("audit-refresh").addEventListener("click", () => void refreshAudit());
  byId("audit-more").addEventListener("click", () => void loadMore());
}

/** Shows the section and loads its first page. */
export function showAudit(): void {
  const section = document.getElementById("audit");
  if (!section) return;
  show(section, true);
  void refreshAudit();
}

/** Loads the first page again (after a change the page made). Does nothing for a member (the
 * section is gone). */
export async function refreshAudit(): Promise<void> {
  const deps = view.deps;
  if (!deps || !document.getElementById("audit")) return;
  const seq = ++view.seq;
  status("Loading activity…");
  try {
    const page = await deps.api().audit(PAGE);
    if (seq !== view.seq) return;
    view.events = Array.isArray(page.events) ? page.events : [];
    view.next = page.next;
    render();
  } catch (err) {
    if (seq !== view.seq) return;
    failed(deps.messageOf(err));
  }
}

async function loadMore(): Promise<void> {
  const deps = view.deps;
  if (!deps || !view.next) return;
  const seq = ++view.seq;
  const more = byId<HTMLButtonElement>("audit-more");
  more.disabled = true;
  status("Loading more activity…");
  try {
    const page = await deps.api().audit(PAGE, view.next);
    if (seq !== view.seq) return;
    // A refresh may have brought some of these already: each event once.
    const seen = new Set(view.events.map((e) => e.id));
    view.events.push(...(Array.isArray(page.events) ? page.events : []).filter((e) => !seen.has(e.id)));
    view.next = page.next;
    render();
  } catch (err) {
    if (seq !== view.seq) return;
    failed(deps.messageOf(err));
  } finally {
    more.disabled = false;
  }
}

function status(text: string): void {
  byId("audit-status").textContent = text;
}

function failed(message: string): void {
  status("");
  const error = byId("audit-error");
  error.textContent = `The activity could not be loaded: ${message}`;
  show(error, true);
}

function render(): void {
  show(byId("audit-error"), false);
  const names = knownNames(view.events);
  byId("audit-rows").replaceChildren(...view.events.map((event) => row(event, names)));
  const empty = view.events.length === 0;
  status(empty ? "No activity yet." : `${view.events.length} event${view.events.length === 1 ? "" : "s"} shown${view.next ? "; there are more" : ""}.`);
  show(byId("audit-table"), !empty);
  show(byId("audit-more"), view.next !== undefined);
}

/** Each integration's name: as the list shows it, else the newest name the trail gives it (a
 * deleted integration is in the list no more). */
function knownNames(events: AuditEvent[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const event of events) {
    if (!event.integration_id || names.has(event.integration_id)) continue;
    const listed = view.deps?.integrationName(event.integration_id);
    const change = event.changes?.["name"];
    const fromTrail = Array.isArray(change) ? [change[1], change[0]].find((v): v is string => typeof v === "string") : undefined;
    const name = listed ?? fromTrail;
    if (name !== undefined) names.set(event.integration_id, name);
  }
  return names;
}

function row(event: AuditEvent, names: Map<string, string>): HTMLTableRowElement {
  const integrationId = typeof event.integration_id === "string" ? event.integration_id : "";
  const name = integrationId ? names.get(integrationId) : undefined;
  const actorType = ACTOR_TYPE_WORDS[event.actor_type] ?? (event.actor_type === "user" ? undefined : event.actor_type);
  return el(
    "tr",
    { "data-id": String(event.id), "data-action": String(event.action) },
    el("td", { class: "when" }, when(event.at)),
    el("td", { class: "who" }, String(event.actor), actorType ? el("span", { class: "hint" }, ` (${actorType})`) : null),
    el("td", { class: "what" }, ACTION_WORDS[event.action] ?? String(event.action)),
    el(
      "td",
      integrationId ? { class: "integration", "data-integration-id": integrationId, title: integrationId } : { class: "integration" },
      integrationId ? (name ?? integrationId) : "",
    ),
    el("td", { class: "version" }, integrationId && typeof event.version === "number" ? String(event.version) : ""),
    el("td", { class: "changes" }, changes(event.changes)),
  );
}

/** Local time, with the exact UTC value the API gave in `datetime` and `title`. */
function when(at: string): HTMLElement {
  const parsed = Date.parse(at);
  const local = Number.isNaN(parsed) ? String(at) : new Date(parsed).toLocaleString();
  return el("time", { datetime: String(at), title: String(at) }, local);
}

function changes(all: AuditEvent["changes"] | undefined): HTMLElement | null {
  const entries = all && typeof all === "object" ? Object.entries(all) : [];
  if (entries.length === 0) return null;
  return el(
    "ul",
    {},
    ...entries.map(([field, change]) =>
      el(
        "li",
        { "data-field": field },
        el("code", {}, field),
        ": ",
        Array.isArray(change) ? `${json(change[0])} → ${json(change[1])}` : "changed",
      ),
    ),
  );
}

function json(value: unknown): string {
  return value === undefined ? "null" : JSON.stringify(value);
}
