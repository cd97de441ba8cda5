// "Explain a locator", beside "Try a locator", for members and admins alike: for each locator
// (one per line, up to 100; or the one in Try a locator's field, with its Explain button) which
// integration serves it and why, every integration whose scope names its bucket (most specific
// first, the one that serves it marked), and what presign would do now: sign it, or refuse it with
// presign's code and the sentence that says what to change (POST /locators/explain, presign's own
// decision without the signing). Everything the API sends reaches the page as text.

import { MAX_EXPLAIN_LOCATORS } from "./api.js";
import type { Api, Explanation, IntegrationSummary, ScopeBody } from "./api.js";
import { byId, el, fieldError, input, show } from "./dom.js";

interface Deps {
  api: () => Api;
  messageOf: (err: unknown) => string;
}

/** Builds the section after #try (hidden until sign-in shows it) and the Explain button beside
 * Try a locator's Show, and wires both. */
export function wireExplain(deps: Deps): void {
  const section = el(
    "section",
    { id: "explain", class: "card", "aria-labelledby": "explain-title", hidden: "" },
    el("h2", { id: "explain-title" }, "Explain a locator"),
    el(
      "p",
      { class: "hint", id: "explain-intro" },
      "Which integration serves a locator and why, every integration whose scope names its bucket, and whether presign would sign it now.",
    ),
    el(
      "form",
      { id: "explain-form", novalidate: "" },
      el("label", { for: "explain-locators" }, "Locators to explain"),
      el("p", { class: "hint small", id: "explain-locators-hint" }, `One per line, up to ${MAX_EXPLAIN_LOCATORS}.`),
      el("textarea", {
        id: "explain-locators",
        rows: "3",
        autocomplete: "off",
        spellcheck: "false",
        placeholder: "s3://bucket/key",
        "aria-describedby": "explain-locators-hint explain-locators-error",
      }),
      el("p", { class: "field-error", id: "explain-locators-error", role: "alert" }),
      el("div", { class: "nav" }, el("button", { type: "submit", class: "primary", id: "explain-submit" }, "Explain locators")),
    ),
    el("div", { id: "explain-result", "aria-live": "polite" }),
  );
  byId("try").after(section);

  // Try a locator's field, explained in place: the locator goes into the box below and is explained.
  const fromTry = el("button", { type: "button", id: "try-explain" }, "Explain");
  byId("try-submit").after(fromTry);
  fromTry.addEventListener("click", () => {
    byId<HTMLTextAreaElement>("explain-locators").value = input("locator").value.trim();
    void explain(deps).then(() => section.scrollIntoView({ block: "nearest" }));
  });
  byId("explain-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void explain(deps);
  });
  byId("explain-locators").addEventListener("input", () => fieldError("explain-locators", ""));
}

export function showExplain(visible: boolean): void {
  const section = document.getElementById("explain");
  if (section) show(section, visible);
}

/** The box's locators: one per line, blank lines left out. */
function locators(): string[] {
  return byId<HTMLTextAreaElement>("explain-locators")
    .value.split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

async function explain(deps: Deps): Promise<void> {
  const asked = locators();
  const out = byId("explain-result");
  if (asked.length === 0) {
    fieldError("explain-locators", "Enter a locator such as s3://bucket/path/to/image.png.");
    out.replaceChildren();
    return;
  }
  if (asked.length > MAX_EXPLAIN_LOCATORS) {
    fieldError("explain-locators", `At most ${MAX_EXPLAIN_LOCATORS} locators at a time: the box has ${asked.length}. Explain the rest next.`);
    out.replaceChildren();
    return;
  }
  fieldError("explain-locators", "");
  const submit = byId<HTMLButtonElement>("explain-submit");
  const fromTry = byId<HTMLButtonElement>("try-explain");
  submit.disabled = true;
  fromTry.disabled = true;
  out.replaceChildren(el("p", { class: "hint" }, "Explaining…"));
  try {
    const { results } = await deps.api().explain(asked);
    if (!Array.isArray(results) || results.length !== asked.length) {
      out.replaceChildren(el("p", { class: "error-box", id: "explain-error" }, "The API answered without an explanation for every locator. Try again."));
      return;
    }
    const shown = results.map((result, index) => explanation(result, asked[index] ?? "", index));
    out.replaceChildren(...(results.length > 1 ? [summary(results)] : []), ...shown);
  } catch (err) {
    out.replaceChildren(el("p", { class: "error-box", id: "explain-error" }, deps.messageOf(err)));
  } finally {
    submit.disabled = false;
    fromTry.disabled = false;
  }
}

/** "3 locators: 2 would be signed, 1 refused." (shown for more than one). */
function summary(results: Explanation[]): HTMLElement {
  const signed = results.filter((r) => r.would_sign).length;
  const refused = results.filter((r) => !r.would_sign && r.blocked_by).length;
  const other = results.length - signed - refused;
  const parts = [`${signed} would be signed`, `${refused} refused`];
  if (other > 0) parts.push(`${other} used as ${other === 1 ? "it is" : "they are"} (https://)`);
  return el("p", { id: "explain-summary" }, `${results.length} locators: ${parts.join(", ")}.`);
}

function explanation(result: Explanation, asked: string, index: number): HTMLElement {
  const locator = typeof result.locator === "string" ? result.locator : asked;
  const titleId = `explain-${index}-title`;
  const winner = result.integration;
  const verdict = verdictOf(result);
  const sentence = result.matched_by ? withStop(result.matched_by) : undefined;
  const candidates = Array.isArray(result.candidates) ? result.candidates : [];
  const s3 = /^s3:\/\//i.test(locator) && (candidates.length > 0 || result.blocked_by !== "INVALID_LOCATOR");
  return el(
    "article",
    { class: "explanation", "aria-labelledby": titleId, "data-verdict": verdict.kind },
    el("h3", { id: titleId }, el("code", {}, locator)),
    el("p", { class: `verdict ${verdict.className}` }, verdict.text),
    result.fix ? el("p", { class: "fix" }, el("strong", {}, "Fix: "), result.fix) : null,
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, "Served by"),
      el("dd", { class: "served-by" }, winner ? integrationText(winner) : "No integration serves it."),
      sentence ? el("dt", {}, "Why") : null,
      sentence ? el("dd", { class: "matched-by" }, sentence) : null,
    ),
    // An https:// URL or a locator that is none has no bucket, so no candidates to list.
    s3 ? el("h4", {}, "Candidates, most specific first") : null,
    !s3
      ? null
      : candidates.length > 0
      ? el(
          "ol",
          { class: "candidates" },
          ...candidates.map((candidate) => {
            const serves = winner !== null && candidate.id === winner.id;
            return el(
              "li",
              serves ? { "data-id": candidate.id, "data-winner": "true" } : { "data-id": candidate.id },
              integrationText(candidate),
              serves ? el("strong", { class: "winner" }, " (serves it)") : null,
            );
          }),
        )
      : el("p", { class: "hint candidates-none" }, "No integration's scope names this bucket."),
  );
}

function verdictOf(result: Explanation): { kind: string; className: string; text: string } {
  if (result.would_sign) return { kind: "sign", className: "state healthy", text: "Presign would sign it." };
  if (result.blocked_by) return { kind: "refuse", className: "state failing", text: `Presign would refuse it: ${result.blocked_by}` };
  return { kind: "as-is", className: "note-box", text: "Presign would not sign it: it is used as it is." };
}

/** “Name” · what it is · its scope in words. */
function integrationText(integration: IntegrationSummary): string {
  return `“${integration.name}” · ${kindText(integration)} · ${scopeWords(integration.scope)}`;
}

function kindText(integration: IntegrationSummary): string {
  return integration.kind === "s3_compatible" ? "S3-compatible store" : "Amazon S3 through an IAM role";
}

/** "the org default, for buckets a, b", "every key of bucket b", "keys under p/ in bucket b". */
export function scopeWords(scope: ScopeBody): string {
  if (scope.type === "default") {
    const buckets = Array.isArray(scope.buckets) ? scope.buckets : [];
    return `the org default, for bucket${buckets.length === 1 ? "" : "s"} ${buckets.join(", ")}`;
  }
  return scope.prefix ? `keys under ${scope.prefix} in bucket ${scope.bucket}` : `every key of bucket ${scope.bucket}`;
}

function withStop(sentence: string): string {
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}
