// The wizard end to end in headless Chromium, against a running scripts/run.sh (dev server, moto
// with IAM enforced, dynoxide): `scripts/run.sh --browser-tests` starts everything and runs this.
// Each test signs in as a fresh org, so it starts where a new admin starts. What the admin would
// paste into the AWS console is pasted by scripts/aws_console.py, from the JSON the page shows.
// Customer roles and buckets are in the emulator's customer account (CUSTOMER_ACCOUNT), never in the
// platform's (moto's default, 123456789012), as on AWS.
//
// Every screen a test reaches is checked with axe-core for WCAG 2 A and AA (assertAccessible): the
// wizard's four steps and its report, the list (and after Load more), the delete confirmation, the
// member's page (the image and its links, the playing video, the image re-rendered after its URL
// expired, the errors), the explain view (a locator presign would sign, one it would refuse with
// the fix, two candidates with the more specific one serving), the admin's activity view (the
// audit trail) and external-ID rotation panel (its confirmation, the walk, a refused completion,
// the completed rotation) and the sign-in form.
//
// Both kinds of integration are walked: Amazon S3 through an IAM role (with and without SSE-KMS
// keys), and an S3-compatible store, which scripts/run.sh plays with s3s-fs.
//
// The page shows files through stable links (POST /links: `<api>/l/<token>`, which answers each
// request with a 307 to a freshly presigned URL). The tests watch the network for it: the demo
// WebM plays and seeks through one (206 answers to Range requests), and an image still loads after
// the presigned URL behind its link has expired (scripts/run.sh gives those URLs LINK_URL_SECONDS,
// 4 s, for the browser tests).
//
// Environment: BASE_URL (the dev server), DEV_JWT_SECRET (its token secret, for `devserver token`),
// DEVSERVER (default target/debug/devserver), CHROMIUM (default /usr/bin/chromium), ARTIFACTS_DIR
// (screenshots; default e2e/artifacts); for the S3-compatible store (run.sh's s3s-fs):
// S3_COMPATIBLE_URL, S3_COMPATIBLE_ACCESS_KEY, S3_COMPATIBLE_SECRET, S3_COMPATIBLE_BUCKET (a bucket
// in it holding photos/kitten.png); LINK_URL_SECONDS (the dev server's: the life of the presigned
// URL a stable link redirects to; default 900).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const BASE_URL = required("BASE_URL");
const SECRET = required("DEV_JWT_SECRET");
const ARTIFACTS = process.env.ARTIFACTS_DIR ?? join(here, "artifacts");
const DEVSERVER = process.env.DEVSERVER ?? join(root, "target", "debug", "devserver");
const LINK_URL_SECONDS = Number(process.env.LINK_URL_SECONDS ?? "900");
/** The demo video (scripts/seed_demo.py VIDEOS): 5 s, VP8, a key frame every second. */
const DEMO_CLIP = "s3://demo-images/samples/clip.webm";
const DEMO_CLIP_BYTES = readFileSync(join(here, "fixtures", "demo-clip.webm")).length;
/** The emulator's customer account, as CUSTOMER_ACCOUNT in scripts/seed_demo.py. */
const CUSTOMER_ACCOUNT = "210987654321";
/** A (made-up or real) role ARN in the customer account. */
const customerRole = (name) => `arn:aws:iam::${CUSTOMER_ACCOUNT}:role/${name}`;
mkdirSync(ARTIFACTS, { recursive: true });
/** axe-core's browser build (web/package.json pins it). */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests with scripts/run.sh --browser-tests`);
  return value;
}

/** A dev token from `devserver token` (the binary scripts/run.sh built, signing with DEV_JWT_SECRET). */
function token(org, role, ttlSeconds = 3600) {
  return execFileSync(DEVSERVER, ["token", "--org", org, "--role", role, "--ttl", String(ttlSeconds)], {
    encoding: "utf8",
    env: { ...process.env, DEV_JWT_SECRET: SECRET },
  }).trim();
}

const unique = (prefix) => `${prefix}-${randomBytes(4).toString("hex")}`;

/** The public API, as another admin at another desk would call it. */
async function api(tokenValue, method, path, body) {
  const response = await fetch(BASE_URL + path, {
    method,
    headers: { authorization: `Bearer ${tokenValue}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** scripts/aws_console.py: the AWS console, as the wizard tells the admin to use it. */
function console_(args, input) {
  return execFileSync(join(root, "scripts", "aws_console.py"), args, {
    input,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "inherit"],
  }).trim();
}

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** A fresh browser context signed in with the token. `initScript` runs in the page before any of
 * the app's scripts. `problems` collects page errors, console errors and any JavaScript dialog
 * (alert, confirm, prompt: the app opens none); `network` every response the page got, in order
 * (redirects included): {url, status, location, contentRange, contentType, cacheControl, range
 * (the request's Range header: complete once `network.pending` settled), at (ms)}. */
async function open(tokenValue, { initScript } = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  const problems = [];
  const network = Object.assign([], { pending: [] });
  page.on("response", (response) => {
    const headers = response.headers();
    const entry = {
      url: response.url(),
      status: response.status(),
      location: headers["location"],
      contentRange: headers["content-range"],
      contentType: headers["content-type"],
      cacheControl: headers["cache-control"],
      range: response.request().headers()["range"],
      at: Date.now(),
    };
    network.push(entry);
    // The Range header a media request went out with is only in the raw headers (after a redirect).
    network.pending.push(
      response
        .request()
        .headerValue("range")
        .then((range) => (entry.range = range ?? entry.range))
        .catch(() => undefined),
    );
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/Failed to load resource/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.type()} ${JSON.stringify(dialog.message())}`);
    void dialog.dismiss();
  });
  await page.goto(`${BASE_URL}/#token=${tokenValue}`);
  return { page, context, problems, network };
}

/** When a SigV4 presigned URL expires (ms): X-Amz-Date + X-Amz-Expires. */
function expiryOf(presignedUrl) {
  const query = new URL(presignedUrl).searchParams;
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(query.get("X-Amz-Date") ?? "");
  assert.ok(date, `not a SigV4 presigned URL: ${presignedUrl}`);
  const [, y, mo, d, h, mi, sec] = date;
  return Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}Z`) + Number(query.get("X-Amz-Expires")) * 1000;
}

/** A stable link of this dev server: `<BASE_URL>/l/<token>`. */
function assertStableLink(url, what) {
  assert.ok(typeof url === "string" && url.startsWith(`${BASE_URL}/l/`) && url.length > `${BASE_URL}/l/`.length, `${what}: ${url}`);
}

/** The 307 the stable link `link` answered (the first in `network` at or after index `from`), and
 * the response to where it sent the browser. */
function redirectOf(network, link, from = 0) {
  const index = network.findIndex((r, i) => i >= from && r.url === link && r.status === 307);
  assert.ok(index >= 0, `no 307 from ${link} among: ${network.slice(from).map((r) => `${r.status} ${r.url}`).join(", ")}`);
  const redirect = network[index];
  assert.ok(redirect.location, "the 307 has a Location");
  const target = network.find((r, i) => i > index && r.url === redirect.location);
  return { redirect, target, index };
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** axe-core finds no WCAG 2 A or AA violation on the page as it is now. axe is evaluated through
 * the DevTools protocol, which the page's Content-Security-Policy does not govern (the page would
 * refuse it as a <script>), and adds nothing to the document. */
async function assertAccessible(page, what) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const violations = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
  assert.deepEqual(violations, [], `axe-core on ${what}`);
}

/** No API error reaches the user as JSON. */
async function assertNoRawJson(page) {
  const text = await page.locator("main").innerText();
  assert.doesNotMatch(text, /\{"error"|"code":/, "an API error is shown as raw JSON");
}

describe("the admin wizard", () => {
  test("a new admin walks the four steps to a saved, healthy integration and sees its image", async () => {
    const org = unique("wizard");
    const bucket = unique("wizard-photos");
    console_(["bucket", bucket, "--object", "photos/kitten.png"]);
    const { page, context, problems } = await open(token(org, "admin"));

    // The token left the address bar, and a new org starts with an empty list.
    assert.equal(new URL(page.url()).hash, "");
    await page.getByText("No integrations yet").waitFor();
    await assertAccessible(page, "step 1 and the empty list");

    // Step 1: one bucket, under a prefix.
    await page.getByLabel("One bucket").check();
    await page.getByLabel("Bucket name", { exact: true }).fill(bucket);
    await page.getByLabel(/^Prefix/).fill("photos/");
    await shot(page, "step-1-scope");
    await assertAccessible(page, "step 1, one bucket under a prefix");
    await page.getByRole("button", { name: "Next: access policy" }).click();

    // Step 2: the access policy the API rendered for exactly that scope.
    const accessPre = page.locator("#access-policy");
    await accessPre.waitFor();
    const access = await accessPre.innerText();
    assert.match(access, new RegExp(`arn:aws:s3:::${bucket}/photos/\\*`));
    JSON.parse(access);
    await shot(page, "step-2-access-policy");
    await assertAccessible(page, "step 2, the access policy");
    await page.getByRole("button", { name: "Next: role" }).click();

    // Step 3: the trust policy with this org's external ID.
    const trustPre = page.locator("#trust-policy");
    await trustPre.waitFor();
    const trust = await trustPre.innerText();
    const externalId = await page.locator("#external-id").innerText();
    assert.ok(externalId.length >= 16, `external ID shown: ${externalId}`);
    assert.ok(JSON.parse(trust).Statement.some((s) => JSON.stringify(s.Condition).includes(externalId)));
    await shot(page, "step-3-trust-policy");
    await assertAccessible(page, "step 3, the trust policy");

    // The admin pastes both documents into the AWS console.
    const roleName = unique("wizard-role");
    const trustFile = join(ARTIFACTS, `${roleName}.trust.json`);
    const accessFile = join(ARTIFACTS, `${roleName}.access.json`);
    writeFileSync(trustFile, trust);
    writeFileSync(accessFile, access);
    const roleArn = console_(["role", roleName, "--trust", trustFile, "--access", accessFile]);
    assert.equal(roleArn, customerRole(roleName), "the console creates the role in the customer account");
    await page.getByRole("button", { name: "Next: save" }).click();

    // Step 4: a mistyped ARN is refused with the field's own message, and nothing is saved.
    await page.getByLabel("Name", { exact: true }).fill("Wizard photos");
    await page.getByLabel("Role ARN", { exact: true }).fill("arn:aws:iam::123:role/platform-read");
    await page.getByRole("button", { name: "Save integration" }).click();
    const arnError = page.locator("#role-arn-error");
    await arnError.filter({ hasText: "12 digits" }).waitFor();
    assert.equal(await page.getByLabel("Role ARN", { exact: true }).getAttribute("aria-invalid"), "true");
    await assertNoRawJson(page);
    await shot(page, "step-4-wrong-role-arn");
    await assertAccessible(page, "step 4, a mistyped role ARN refused");
    assert.equal((await api(token(org, "admin"), "GET", "/integrations")).body.integrations.length, 0);

    // Saved with the real ARN: validation runs at once. The bucket has no CORS configuration yet,
    // so the report fails on CORS and offers the JSON to paste.
    await page.getByLabel("Role ARN", { exact: true }).fill(roleArn);
    await page.getByRole("button", { name: "Save integration" }).click();
    await page.locator("#report-state").waitFor({ timeout: 60_000 });
    assert.equal(await page.locator("#report-state").getAttribute("data-state"), "failing");
    // One CORS check per app origin; every one fails.
    const corsChecks = await page.locator('.check[data-code="CORS"]').count();
    assert.ok(corsChecks >= 1);
    assert.equal(await page.locator('.check.fail[data-code="CORS"]').count(), corsChecks);
    for (const passed of ["ASSUME_ROLE", "EXTERNAL_ID_REQUIRED", "BUCKET_REGION", "LIST_ACCESS", "READ_ACCESS"]) {
      assert.equal(await page.locator(`.check[data-code="${passed}"]`).getAttribute("class"), "check pass", passed);
    }
    await page.locator("#cors-fix").waitFor();
    const cors = await page.locator("#cors-policy").innerText();
    assert.ok(Array.isArray(JSON.parse(cors)));
    await shot(page, "step-4-cors-missing");
    await assertAccessible(page, "step 4, saved, the failing report with the CORS fix");

    // The admin pastes the CORS JSON and validates again: healthy.
    console_(["cors", bucket, "--file", "-"], cors);
    await page.getByRole("button", { name: "Validate again" }).click();
    await page.locator('#report-state[data-state="healthy"]').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator(".check.fail, .check.warn").count(), 0);
    await shot(page, "step-4-healthy");

    // The list shows it healthy, checked just now.
    const row = page.locator("#integrations-rows tr[data-id]");
    await row.filter({ hasText: "Wizard photos" }).locator(".pill.healthy").waitFor();
    assert.match(await row.innerText(), /just now/);
    assert.match(await row.innerText(), new RegExp(`${bucket}/photos/`));
    await assertAccessible(page, "step 4, the healthy report, and the list");

    // And the file shows through a stable link.
    await page.getByLabel("Locator", { exact: true }).fill(`s3://${bucket}/photos/kitten.png`);
    await page.getByRole("button", { name: "Show" }).click();
    const image = page.locator("#try-image");
    await image.waitFor();
    assertStableLink(await image.getAttribute("src"), "the image's src");
    await page.waitForFunction(() => document.querySelector("#try-image")?.complete === true);
    assert.equal(await image.evaluate((img) => img.naturalWidth), 48);
    await shot(page, "wizard-done");
    await assertAccessible(page, "the admin's page with the rendered image");

    assert.deepEqual(problems, []);
    await context.close();
  });

  test("bucket names are checked as they are typed, with the API's messages", async () => {
    const { page, context } = await open(token(unique("typing"), "admin"));
    await page.getByRole("button", { name: "Next: access policy" }).click();
    const buckets = page.getByLabel("Bucket names, one per line");
    await buckets.fill("good-bucket\nBad_Bucket");
    const error = page.locator("#scope-buckets-error");
    await error.filter({ hasText: "Bad_Bucket" }).waitFor();
    assert.equal(await page.locator("#access-policy").innerText(), "");
    await assertNoRawJson(page);
    await shot(page, "step-2-bad-bucket-name");
    await assertAccessible(page, "step 2, a bad bucket name refused");

    await buckets.fill("good-bucket\nsecond-bucket");
    await page.locator("#access-policy").filter({ hasText: "arn:aws:s3:::second-bucket" }).waitFor();
    assert.equal(await error.innerText(), "");
    await assertAccessible(page, "step 2, the default scope's access policy");
    await context.close();
  });

  test("saving over someone else's newer version shows the conflict and loads their version", async () => {
    const org = unique("conflict");
    const admin = token(org, "admin");
    const draft = {
      name: "Shared images",
      role_arn: customerRole("shared-read"),
      region: "us-east-1",
      scope: { type: "bucket", bucket: unique("shared-images") },
    };
    const created = await api(admin, "POST", "/integrations", draft);
    assert.equal(created.status, 201);
    const { page, context } = await open(admin);

    await page.locator(`tr[data-id="${created.body.id}"] [data-action="edit"]`).click();
    await page.getByRole("heading", { name: "Edit “Shared images”" }).waitFor();
    await assertAccessible(page, "step 1, editing");
    await page.getByRole("button", { name: "Next: access policy" }).click();
    await page.getByRole("button", { name: "Next: role" }).click();
    await page.getByRole("button", { name: "Next: save" }).click();

    // Another admin saves first.
    const theirs = await api(admin, "PUT", `/integrations/${created.body.id}`, { ...draft, name: "Renamed by a colleague", version: 1 });
    assert.equal(theirs.status, 200);

    await page.getByLabel("Name", { exact: true }).fill("My rename");
    await page.getByRole("button", { name: "Save integration" }).click();
    const conflict = page.locator("#save-error");
    await conflict.filter({ hasText: "Someone else saved" }).waitFor();
    assert.match(await conflict.innerText(), /It is now version 2, named “Renamed by a colleague”\./);
    // The list shows their version too.
    await page.locator(`tr[data-id="${created.body.id}"] .name`).filter({ hasText: "Renamed by a colleague" }).waitFor();
    await assertNoRawJson(page);
    await shot(page, "step-4-version-conflict");
    await assertAccessible(page, "step 4, the version conflict");

    // Nothing of ours was written; loading their version shows it.
    const stored = await api(admin, "GET", `/integrations/${created.body.id}`);
    assert.equal(stored.body.name, "Renamed by a colleague");
    await page.getByRole("button", { name: "Load the saved version" }).click();
    await page.getByRole("heading", { name: "Edit “Renamed by a colleague”" }).waitFor();
    await page.getByRole("button", { name: "Next: access policy" }).click();
    await page.getByRole("button", { name: "Next: role" }).click();
    await page.getByRole("button", { name: "Next: save" }).click();
    assert.equal(await page.getByLabel("Name", { exact: true }).inputValue(), "Renamed by a colleague");
    await assertAccessible(page, "step 4, their version loaded");
    await context.close();
  });

  test("deleting asks for confirmation first", async () => {
    const org = unique("delete");
    const admin = token(org, "admin");
    const created = await api(admin, "POST", "/integrations", {
      name: "To delete",
      role_arn: customerRole("old"),
      region: "eu-west-1",
      scope: { type: "default", buckets: [unique("old-bucket")] },
    });
    assert.equal(created.status, 201);
    const { page, context } = await open(admin);
    const row = page.locator(`tr[data-id="${created.body.id}"]`);
    await row.waitFor();
    await assertAccessible(page, "the list with one integration");

    await row.locator('[data-action="delete"]').click();
    await page.locator("#confirm-delete-text").filter({ hasText: "To delete" }).waitFor();
    await assertAccessible(page, "the delete confirmation");
    await page.getByRole("button", { name: "Cancel" }).click();
    assert.equal(await row.count(), 1);
    assert.equal((await api(admin, "GET", `/integrations/${created.body.id}`)).status, 200);

    await row.locator('[data-action="delete"]').click();
    await page.locator("#confirm-delete").getByRole("button", { name: "Delete" }).click();
    await page.getByText("No integrations yet").waitFor();
    assert.equal((await api(admin, "GET", `/integrations/${created.body.id}`)).status, 404);
    await assertAccessible(page, "the list emptied by the delete");
    await context.close();
  });
  test("explain names every candidate most specific first: a prefix scope wins over the org default for its keys, the default for the rest", async () => {
    const org = unique("explain");
    const admin = token(org, "admin");
    const bucket = unique("explain-photos");
    const create = async (name, scope) => {
      const created = await api(admin, "POST", "/integrations", { name, role_arn: customerRole(unique("explain-read")), region: "us-east-1", scope });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body;
    };
    const everything = await create("Everything", { type: "default", buckets: [bucket] });
    const photos = await create("Photos <b>only</b>", { type: "bucket", bucket, prefix: "photos/" });
    const inPhotos = `s3://${bucket}/photos/kitten.png`;
    const outside = `s3://${bucket}/docs/readme.txt`;
    const asked = await api(admin, "POST", "/locators/explain", { locators: [inPhotos, outside] });
    assert.equal(asked.status, 200);
    const [photoAnswer, outsideAnswer] = asked.body.results;

    const { page, context, problems } = await open(admin, { initScript: hostileWitness });
    await page.locator(`tr[data-id="${photos.id}"]`).waitFor();
    await page.getByLabel("Locators to explain").fill(`${inPhotos}\n${outside}`);
    await page.getByRole("button", { name: "Explain locators" }).click();
    const section = page.getByRole("region", { name: "Explain a locator" });
    const first = section.getByRole("article", { name: inPhotos });
    const second = section.getByRole("article", { name: outside });
    await second.waitFor();

    // In photos/: the prefix scope serves it, and says it is more specific than the default; both
    // are listed, the winner first and marked.
    assert.equal(await first.locator(".served-by").textContent(), `“Photos <b>only</b>” · Amazon S3 through an IAM role · keys under photos/ in bucket ${bucket}`);
    assert.equal(await first.locator(".matched-by").textContent(), `bucket scope ${bucket}, prefix photos/, is more specific than the org default.`);
    const firstCandidates = first.locator("ol.candidates > li");
    assert.deepEqual(await firstCandidates.evaluateAll((lis) => lis.map((li) => li.dataset.id)), [photos.id, everything.id]);
    assert.equal(await first.locator('li[data-winner="true"]').getAttribute("data-id"), photos.id);
    assert.equal(await firstCandidates.nth(1).textContent(), `“Everything” · Amazon S3 through an IAM role · the org default, for bucket ${bucket}`);

    // Outside photos/: the default serves it; the prefix scope is still a candidate, listed after.
    assert.ok((await second.locator(".served-by").textContent()).startsWith("“Everything”"));
    assert.equal(await second.locator(".matched-by").textContent(), `${outsideAnswer.matched_by}.`);
    assert.deepEqual(await second.locator("ol.candidates > li").evaluateAll((lis) => lis.map((li) => li.dataset.id)), [everything.id, photos.id]);
    assert.equal(await second.locator('li[data-winner="true"]').getAttribute("data-id"), everything.id);

    // The verdicts are presign's: these made-up roles were never validated.
    for (const [article, answer] of [[first, photoAnswer], [second, outsideAnswer]]) {
      const verdict = answer.would_sign ? "Presign would sign it." : `Presign would refuse it: ${answer.blocked_by}`;
      assert.equal(await article.locator(".verdict").textContent(), verdict);
      if (answer.fix) assert.equal(await article.locator(".fix").textContent(), `Fix: ${answer.fix}`);
    }
    await assertNoRawJson(page);
    await shot(page, "admin-explain-candidates");
    await assertAccessible(page, "the admin's page, two candidates explained");
    assert.deepEqual(await page.evaluate(() => window.__witness), { dialogs: [], violations: [], inserted: [] });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("the activity view lists a create and a replace newest first, with who made them and the field that changed", async () => {
    const org = unique("activity");
    const admin = token(org, "admin");
    const draft = {
      name: "Activity images",
      role_arn: customerRole(unique("activity-role")),
      region: "us-east-1",
      scope: { type: "bucket", bucket: unique("activity-images") },
    };
    const created = await api(admin, "POST", "/integrations", draft);
    assert.equal(created.status, 201);
    const { page, context, problems } = await open(admin);
    const activity = page.getByRole("region", { name: "Activity" });
    const rows = activity.locator("#audit-rows tr");

    // The create, made through the API: who, what, which integration, the version, each field.
    const createdRow = rows.and(page.locator('[data-action="integration.created"]'));
    await createdRow.waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await createdRow.locator(".what").textContent(), "Created");
    assert.equal(await createdRow.locator(".who").textContent(), `dev-admin@${org}`);
    assert.equal(await createdRow.locator(".integration").textContent(), "Activity images");
    assert.equal(await createdRow.locator(".integration").getAttribute("title"), created.body.id);
    assert.equal(await createdRow.locator(".version").textContent(), "1");
    assert.equal(await createdRow.locator('[data-field="name"]').textContent(), 'name: null → "Activity images"');
    assert.equal(await createdRow.locator('[data-field="role_arn"]').textContent(), `role_arn: null → "${draft.role_arn}"`);
    // When: local time on the page, the API's UTC value in the element.
    const at = createdRow.locator("time");
    assert.match(await at.getAttribute("datetime"), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal(await at.getAttribute("title"), await at.getAttribute("datetime"));
    assert.equal(await at.textContent(), await at.evaluate((t) => new Date(t.dateTime).toLocaleString()));
    await assertNoRawJson(page);
    await assertAccessible(page, "the activity view, one create");

    // A replace through the wizard: renamed, saved, and validated at once (the made-up role fails).
    await page.locator(`#integrations tr[data-id="${created.body.id}"] [data-action="edit"]`).click();
    await page.getByRole("heading", { name: "Edit “Activity images”" }).waitFor();
    await page.getByRole("button", { name: "Next: access policy" }).click();
    await page.getByRole("button", { name: "Next: role" }).click();
    await page.getByRole("button", { name: "Next: save" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Activity images, renamed");
    await page.getByRole("button", { name: "Save integration" }).click();
    await page.locator("#report-state").waitFor({ timeout: 60_000 });

    // Newest first: the validation that moved its state, the replace, the create.
    await rows.and(page.locator('[data-action="integration.validation_state_changed"]')).waitFor();
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.action)), [
      "integration.validation_state_changed",
      "integration.replaced",
      "integration.created",
    ]);
    const times = await rows.locator("time").evaluateAll((ts) => ts.map((t) => Date.parse(t.dateTime)));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first");
    const replacedRow = rows.nth(1);
    assert.equal(await replacedRow.locator(".what").textContent(), "Replaced");
    assert.equal(await replacedRow.locator(".who").textContent(), `dev-admin@${org}`);
    assert.equal(await replacedRow.locator(".version").textContent(), "2");
    // Only the name changed.
    assert.deepEqual(await replacedRow.locator(".changes li").allTextContents(), ['name: "Activity images" → "Activity images, renamed"']);
    // Every row names the integration as the list now does.
    assert.deepEqual(await rows.locator(".integration").allTextContents(), Array(3).fill("Activity images, renamed"));
    const validated = rows.nth(0);
    assert.equal(await validated.locator(".what").textContent(), "Validation state changed");
    assert.deepEqual(await validated.locator(".changes li").allTextContents(), ['state: "unverified" → "failing"']);
    assert.equal(await activity.getByRole("button", { name: "Load older activity" }).isVisible(), false);
    await assertNoRawJson(page);
    await shot(page, "admin-activity");
    await assertAccessible(page, "the activity view, a create, a replace and a validation");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("rotating the external ID: both IDs and the deadline, completing refused while a role is not validated since, then one ID again", async () => {
    const org = unique("rotation");
    const admin = token(org, "admin");
    // A made-up role: validation fails ASSUME_ROLE with either ID, which does not hold up completing
    // once it is known; not validated since the rotation started, it does.
    const created = await api(admin, "POST", "/integrations", {
      name: "Rotation images",
      role_arn: customerRole(unique("rotation-role")),
      region: "us-east-1",
      scope: { type: "bucket", bucket: unique("rotation-images") },
    });
    assert.equal(created.status, 201);
    const before = (await api(admin, "GET", "/policies/trust")).body;
    assert.equal(before.rotation, undefined);
    const { page, context, problems } = await open(admin);
    const panel = page.getByRole("region", { name: "External ID" });
    await panel.locator("#rotation-external-id").filter({ hasText: before.external_id }).waitFor();
    await assertAccessible(page, "the external ID panel");

    // A big step: it asks first, and Cancel changes nothing.
    await panel.getByRole("button", { name: "Rotate external ID" }).click();
    const dialog = page.getByRole("dialog", { name: "Rotate the external ID?" });
    await dialog.waitFor();
    await assertAccessible(page, "the rotation's confirmation");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    assert.equal((await api(admin, "GET", "/policies/trust")).body.rotation, undefined);

    await panel.getByRole("button", { name: "Rotate external ID" }).click();
    await dialog.getByRole("button", { name: "Rotate", exact: true }).click();
    await panel.locator("#rotation-status").waitFor();
    const during = (await api(admin, "GET", "/policies/trust")).body;
    assert.ok(during.rotation, "a rotation is open");
    assert.equal(during.rotation.previous_external_id, before.external_id);
    assert.equal(await panel.locator("#rotation-current").textContent(), during.rotation.current_external_id);
    assert.equal(await panel.locator("#rotation-previous").textContent(), before.external_id);
    const deadline = panel.locator("#rotation-deadline");
    assert.equal(await deadline.getAttribute("datetime"), during.rotation.previous_honoured_until);
    assert.equal(await deadline.textContent(), new Date(during.rotation.previous_honoured_until).toLocaleString());
    // Step 1: the trust policy naming both IDs, to paste into every role.
    const trustText = await panel.locator("#rotation-trust").textContent();
    assert.equal(trustText, during.text);
    assert.deepEqual(JSON.parse(trustText).Statement[0].Condition.StringEquals["sts:ExternalId"], [
      during.rotation.current_external_id,
      before.external_id,
    ]);
    // Step 2: the integration, not validated since the rotation started.
    const role = panel.locator(`li.rotation-role[data-id="${created.body.id}"]`);
    assert.equal(await role.getAttribute("data-verdict"), "none");
    assert.match(await role.textContent(), /Not validated since the rotation started/);
    await shot(page, "admin-rotation");
    await assertAccessible(page, "the rotation in progress");

    // Step 3, too early: refused with the API's sentence, naming the integration.
    await panel.getByRole("button", { name: "Complete rotation" }).click();
    const refusal = panel.locator("#rotation-complete-error");
    await refusal.filter({ hasText: "Rotation images" }).waitFor();
    assert.match(await refusal.textContent(), new RegExp(`^The rotation cannot be completed yet: "Rotation images" \\(${created.body.id}\\): it has not been validated since the rotation started`));
    assert.ok((await api(admin, "GET", "/policies/trust")).body.rotation, "still open");
    await assertNoRawJson(page);
    await assertAccessible(page, "the rotation, completing refused");

    // Validated: its made-up role accepts neither ID, which does not hold the rotation up.
    await role.getByRole("button", { name: "Validate “Rotation images”" }).click();
    await panel.locator(`li.rotation-role[data-id="${created.body.id}"][data-verdict="fail"]`).waitFor({ timeout: 60_000 });
    assert.match(await role.locator(".verdict-text").textContent(), /^Accepts neither external ID/);
    await assertAccessible(page, "the rotation, the integration validated");

    // Completed: one external ID again, the new one.
    await panel.getByRole("button", { name: "Complete rotation" }).click();
    await panel.locator("#rotation-completed").waitFor();
    assert.equal(await panel.locator("#rotation-external-id").textContent(), during.rotation.current_external_id);
    assert.equal(await panel.locator("#rotation-previous, #rotation-trust, #rotation-complete-error").count(), 0);
    const after_ = (await api(admin, "GET", "/policies/trust")).body;
    assert.equal(after_.rotation, undefined);
    assert.equal(after_.external_id, during.rotation.current_external_id);
    // Both steps are in the activity view, newest first, for the org (no integration).
    const activity = page.getByRole("region", { name: "Activity" });
    const completedRow = activity.locator('#audit-rows tr[data-action="external_id.rotation_completed"]');
    await completedRow.waitFor();
    assert.equal(await completedRow.locator(".what").textContent(), "External ID rotation completed");
    assert.equal(await completedRow.locator(".integration").textContent(), "");
    assert.deepEqual((await activity.locator("#audit-rows tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.action))).slice(0, 3), [
      "external_id.rotation_completed",
      "integration.validation_state_changed",
      "external_id.rotation_started",
    ]);
    await shot(page, "admin-rotation-completed");
    await assertAccessible(page, "the rotation completed");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("rotating with a real role: it accepts only the previous ID until the two-ID trust policy is pasted into it, then the new one, and the rotation completes", async () => {
    const org = unique("rotate-real");
    const admin = token(org, "admin");
    const bucket = unique("rotate-photos");
    const scope = { type: "bucket", bucket };
    console_(["bucket", bucket]);
    // The role as the wizard made it before the rotation: its trust policy names the one ID then.
    const access = await api(admin, "POST", "/policies/access", { scope, versioning: false });
    const before = await api(admin, "GET", "/policies/trust");
    assert.equal(before.status, 200);
    const roleName = unique("rotate-role");
    const trustFile = join(ARTIFACTS, `${roleName}.trust.json`);
    const accessFile = join(ARTIFACTS, `${roleName}.access.json`);
    writeFileSync(trustFile, before.body.text);
    writeFileSync(accessFile, access.body.text);
    const roleArn = console_(["role", roleName, "--trust", trustFile, "--access", accessFile]);
    const created = await api(admin, "POST", "/integrations", { name: "Rotating photos", role_arn: roleArn, region: "us-east-1", scope });
    assert.equal(created.status, 201);

    const { page, context, problems } = await open(admin);
    const panel = page.getByRole("region", { name: "External ID" });
    await panel.getByRole("button", { name: "Rotate external ID" }).click();
    await page.getByRole("dialog", { name: "Rotate the external ID?" }).getByRole("button", { name: "Rotate", exact: true }).click();
    const role = panel.locator(`li.rotation-role[data-id="${created.body.id}"]`);
    await role.waitFor();

    // Validated before its trust policy changed: it accepts only the previous ID, which holds the
    // rotation up.
    const verdict = (value) => panel.locator(`li.rotation-role[data-id="${created.body.id}"][data-verdict="${value}"]`);
    await role.getByRole("button", { name: "Validate “Rotating photos”" }).click();
    await verdict("warn").waitFor({ timeout: 60_000 });
    assert.match(await role.locator(".verdict-text").textContent(), /^Accepts only the previous external ID/);
    await assertAccessible(page, "the rotation, a role that accepts only the previous ID");
    await panel.getByRole("button", { name: "Complete rotation" }).click();
    const refusal = panel.locator("#rotation-complete-error");
    await refusal.filter({ hasText: "Rotating photos" }).waitFor();
    assert.match(await refusal.textContent(), /"Rotating photos" \(\w+\): its role still accepts only the previous external ID/);
    assert.ok((await api(admin, "GET", "/policies/trust")).body.rotation, "still open");
    await assertAccessible(page, "the rotation, completing refused for a role on the previous ID");

    // Step 1 done in the console: the role gets the trust policy naming both IDs (as shown).
    const pasted = await panel.locator("#rotation-trust").textContent();
    execFileSync(join(root, "scripts", "demo_trust.py"), ["fix", "--role", roleName, "--url", BASE_URL, "--admin-token", admin], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    assert.equal((await api(admin, "GET", "/policies/trust")).body.text, pasted, "the policy the role got is the one the panel shows");
    await role.getByRole("button", { name: "Validate “Rotating photos”" }).click();
    await verdict("pass").waitFor({ timeout: 60_000 });
    assert.equal(await role.locator(".verdict-text").textContent(), "Accepts the new external ID.");
    await assertAccessible(page, "the rotation, the role accepts the new ID");

    await panel.getByRole("button", { name: "Complete rotation" }).click();
    await panel.locator("#rotation-completed").waitFor();
    const after_ = (await api(admin, "GET", "/policies/trust")).body;
    assert.equal(after_.rotation, undefined);
    assert.equal(await panel.locator("#rotation-external-id").textContent(), after_.external_id);
    assert.notEqual(after_.external_id, before.body.external_id);
    await assertAccessible(page, "the rotation completed after the role was updated");
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe("SSE-KMS keys", () => {
  test("a KMS key ARN in step 2 adds the kms:Decrypt statement to the access policy, and the saved integration lists it", async () => {
    const org = unique("kms");
    const admin = token(org, "admin");
    const bucket = unique("kms-photos");
    const key = `arn:aws:kms:us-east-1:${CUSTOMER_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const { page, context, problems } = await open(admin);
    await page.getByText("No integrations yet").waitFor();
    // Amazon S3 is the kind a new integration starts with.
    assert.equal(await page.getByLabel("Amazon S3").isChecked(), true);

    await page.getByLabel("One bucket").check();
    await page.getByLabel("Bucket name", { exact: true }).fill(bucket);
    await page.getByRole("button", { name: "Next: access policy" }).click();
    const accessPre = page.locator("#access-policy");
    await accessPre.filter({ hasText: `arn:aws:s3:::${bucket}` }).waitFor();
    assert.doesNotMatch(await accessPre.innerText(), /kms:Decrypt/);

    // A second line that is no KMS key ARN: the API's message under the box, naming the line.
    const keys = page.getByLabel(/^KMS key ARNs/);
    await keys.fill(`${key}\nnot-a-key`);
    const keysError = page.locator("#kms-keys-error");
    await keysError.filter({ hasText: "Key 2:" }).waitFor();
    assert.equal(await keys.getAttribute("aria-invalid"), "true");
    assert.equal(await accessPre.innerText(), "");
    await assertNoRawJson(page);
    await shot(page, "step-2-kms-key-refused");
    await assertAccessible(page, "step 2, a KMS key ARN refused");

    // The key alone: the policy, rendered live, lets the role decrypt with it through S3 only.
    await keys.fill(key);
    await accessPre.filter({ hasText: "kms:Decrypt" }).waitFor();
    assert.equal(await keysError.innerText(), "");
    const policy = JSON.parse(await accessPre.innerText());
    const decrypt = policy.Statement.find((s) => s.Sid === "DecryptObjectsWithKms");
    assert.ok(decrypt, JSON.stringify(policy));
    assert.equal(decrypt.Effect, "Allow");
    assert.deepEqual([decrypt.Action].flat(), ["kms:Decrypt"]);
    assert.deepEqual([decrypt.Resource].flat(), [key]);
    assert.deepEqual(decrypt.Condition, { StringEquals: { "kms:ViaService": "s3.us-east-1.amazonaws.com" } });
    assert.match(await page.locator("#access-summary").innerText(), /decrypt them with the KMS key/);
    await shot(page, "step-2-kms-access-policy");
    await assertAccessible(page, "step 2, the access policy with a KMS key");

    await page.getByRole("button", { name: "Next: role" }).click();
    await page.locator("#trust-policy").filter({ hasText: "sts:ExternalId" }).waitFor();
    await page.getByRole("button", { name: "Next: save" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Encrypted photos");
    await page.getByLabel("Role ARN", { exact: true }).fill(customerRole(unique("kms-read")));
    await page.getByRole("button", { name: "Save integration" }).click();
    await page.locator("#report-state").waitFor({ timeout: 60_000 });

    // Saved with the key: the API has it, and the list shows it with the role.
    const listed = (await api(admin, "GET", "/integrations")).body.integrations;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].kind, "aws_role");
    assert.deepEqual(listed[0].kms_key_arns, [key]);
    const row = page.locator(`tr[data-id="${listed[0].id}"]`);
    await row.locator(".connection .kms").filter({ hasText: key }).waitFor();
    assert.match(await row.locator(".connection").innerText(), /AWS IAM role/);
    await shot(page, "kms-saved");
    await assertAccessible(page, "step 4, saved with a KMS key, and the list");

    // Editing it shows the key in step 2 again.
    await row.locator('[data-action="edit"]').click();
    await page.getByRole("heading", { name: "Edit “Encrypted photos”" }).waitFor();
    await page.getByRole("button", { name: "Next: access policy" }).click();
    assert.equal(await page.getByLabel(/^KMS key ARNs/).inputValue(), key);
    await accessPre.filter({ hasText: key }).waitFor();
    await assertAccessible(page, "step 2, editing an integration with a KMS key");
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe("an S3-compatible store", () => {
  test("choose the kind, connect with endpoint and keys, see the CORS JSON, save, validate, and edit keeping the secret", async () => {
    const storeUrl = process.env.S3_COMPATIBLE_URL;
    const accessKey = process.env.S3_COMPATIBLE_ACCESS_KEY;
    const secret = process.env.S3_COMPATIBLE_SECRET;
    const bucket = process.env.S3_COMPATIBLE_BUCKET;
    assert.ok(storeUrl && accessKey && secret && bucket, "S3_COMPATIBLE_* are not set: run the browser tests with scripts/run.sh --browser-tests");
    const org = unique("store");
    const admin = token(org, "admin");
    const { page, context, problems, network } = await open(admin);
    await page.getByText("No integrations yet").waitFor();

    // Step 1: the kind. An S3-compatible store has three steps, no role and no trust policy.
    await page.getByLabel("S3-compatible store").check();
    await page.getByLabel("Endpoint URL").waitFor();
    assert.deepEqual(await page.locator("#steps li").allInnerTexts(), [
      "Connect the store and select the scope",
      "Allow browsers to load files (CORS)",
      "Save integration",
    ]);
    const secretInput = page.getByLabel("Secret access key");
    assert.equal(await secretInput.getAttribute("type"), "password");
    await assertAccessible(page, "step 1, an S3-compatible store");

    // Next with nothing entered: each missing field says so.
    await page.getByRole("button", { name: "Next: CORS" }).click();
    await page.locator("#endpoint-error").filter({ hasText: "endpoint" }).waitFor();
    assert.equal(await page.getByLabel("Endpoint URL").getAttribute("aria-invalid"), "true");
    assert.notEqual(await page.locator("#secret-access-key-error").innerText(), "");
    await assertAccessible(page, "step 1, the store's fields missing");

    // An endpoint with a path: the page lets it through, the API refuses it on save (below).
    await page.getByLabel("Endpoint URL").fill(`${storeUrl}/${bucket}`);
    await page.getByLabel("Access key ID").fill(accessKey);
    await secretInput.fill(secret);
    assert.equal(await page.getByLabel("Path style").isChecked(), true);
    await page.getByLabel("One bucket").check();
    await page.getByLabel("Bucket name", { exact: true }).fill(bucket);
    await shot(page, "store-step-1");
    await assertAccessible(page, "step 1, the store's connection and scope");
    await page.getByRole("button", { name: "Next: CORS" }).click();

    // Step 2: the CORS configuration to apply to the store's bucket.
    const cors = page.locator("#store-cors-policy");
    await cors.filter({ hasText: "AllowedOrigins" }).waitFor();
    const rules = JSON.parse(await cors.innerText());
    assert.ok(Array.isArray(rules) && rules.length > 0);
    assert.ok(rules.every((rule) => rule.AllowedOrigins.length > 0 && rule.AllowedMethods.includes("GET")), JSON.stringify(rules));
    assert.equal(await page.locator("#access-policy").isVisible(), false);
    await page.getByRole("heading", { name: "2. Allow browsers to load files (CORS)" }).waitFor();
    await shot(page, "store-step-2-cors");
    await assertAccessible(page, "step 2, the store's CORS configuration");
    await page.getByRole("button", { name: "Next: save" }).click();

    // Step 3 (the save step): no role ARN; the region defaults to us-east-1.
    await page.getByRole("heading", { name: "3. Save integration" }).waitFor();
    assert.equal(await page.getByLabel("Role ARN", { exact: true }).isVisible(), false);
    assert.equal(await page.getByLabel(/^Region/).inputValue(), "us-east-1");
    await page.getByLabel("Name", { exact: true }).fill("Store photos");
    await page.getByRole("button", { name: "Save integration" }).click();

    // The API refuses the endpoint's path: the message waits under the field in step 1.
    const saveError = page.locator("#save-error");
    await saveError.filter({ hasText: "Go back to step 1" }).waitFor();
    await assertNoRawJson(page);
    await assertAccessible(page, "step 3, the endpoint refused by the API");
    assert.equal((await api(admin, "GET", "/integrations")).body.integrations.length, 0);
    await page.getByRole("button", { name: /^Go to step 1/ }).click();
    assert.notEqual(await page.locator("#endpoint-error").innerText(), "");
    assert.equal(await page.getByLabel("Endpoint URL").getAttribute("aria-invalid"), "true");
    await shot(page, "store-endpoint-refused");
    await assertAccessible(page, "step 1, the endpoint refused by the API");
    await page.getByLabel("Endpoint URL").fill(storeUrl);
    await page.getByRole("button", { name: "Next: CORS" }).click();
    await page.getByRole("button", { name: "Next: save" }).click();
    await page.getByRole("button", { name: "Save integration" }).click();

    // Saved; validation runs at once and reports the store's checks.
    await page.locator("#report-state").waitFor({ timeout: 60_000 });
    for (const passed of ["ENDPOINT_REACHABLE", "LIST_ACCESS", "READ_ACCESS"]) {
      assert.equal(await page.locator(`.check[data-code="${passed}"]`).getAttribute("class"), "check pass", passed);
    }
    assert.ok((await page.locator('.check[data-code="CORS"]').count()) >= 1);
    assert.match(await page.locator("#saved-text").innerText(), /Saved “Store photos”\. Checked against the store just now\./);
    await shot(page, "store-saved-report");
    await assertAccessible(page, "step 3, the store's validation report");

    // The API keeps the secret to itself; the list shows the endpoint and the key ID, never the secret.
    const listed = (await api(admin, "GET", "/integrations")).body.integrations;
    assert.equal(listed.length, 1);
    const saved = listed[0];
    assert.equal(saved.kind, "s3_compatible");
    assert.equal(saved.endpoint, storeUrl);
    assert.equal(saved.access_key_id, accessKey);
    assert.equal(saved.secret_set, true);
    assert.equal(saved.addressing_style, "path");
    assert.ok(!JSON.stringify(saved).includes(secret), "the API returned the secret");
    const row = page.locator(`tr[data-id="${saved.id}"]`);
    await row.waitFor();
    const connection = await row.locator(".connection").innerText();
    assert.match(connection, /S3-compatible/);
    assert.ok(connection.includes(storeUrl), connection);
    assert.ok(connection.includes(`key ${accessKey}`), connection);
    assert.match(connection, /secret set/);
    assert.ok(!(await page.locator("main").innerText()).includes(secret), "the page shows the secret");
    assert.equal(await secretInput.inputValue(), "");

    // Editing: the fields come back but the secret does not; left empty, the stored one stays.
    await row.locator('[data-action="edit"]').click();
    await page.getByRole("heading", { name: "Edit “Store photos”" }).waitFor();
    assert.equal(await page.getByLabel("Endpoint URL").inputValue(), storeUrl);
    assert.equal(await page.getByLabel("Access key ID").inputValue(), accessKey);
    assert.equal(await secretInput.inputValue(), "");
    assert.match(await page.locator("#secret-hint").innerText(), /leave this empty to keep it/);
    assert.equal(await page.getByLabel("S3-compatible store").isDisabled(), true);
    await assertAccessible(page, "step 1, editing a store integration");
    await page.getByRole("button", { name: "Next: CORS" }).click();
    await page.getByRole("button", { name: "Next: save" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Store photos, renamed");
    await page.getByRole("button", { name: "Save integration" }).click();
    await page.locator("#saved-text").filter({ hasText: "Checked against the store just now" }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('.check[data-code="LIST_ACCESS"]').getAttribute("class"), "check pass");
    const after = (await api(admin, "GET", `/integrations/${saved.id}`)).body;
    assert.equal(after.version, 2);
    assert.equal(after.name, "Store photos, renamed");
    assert.equal(after.secret_set, true);
    await assertAccessible(page, "step 3, the edited store integration validated");

    // The store's file shows through a stable link, which sends the browser to a URL signed with
    // the stored (kept) secret, at the store.
    await page.getByLabel("Locator", { exact: true }).fill(`s3://${bucket}/photos/kitten.png`);
    await page.getByRole("button", { name: "Show" }).click();
    const image = page.locator("#try-image");
    await image.waitFor();
    const src = await image.getAttribute("src");
    assertStableLink(src, "the image's src");
    await page.waitForFunction(() => document.querySelector("#try-image")?.complete === true);
    const { redirect, target } = redirectOf(network, src);
    assert.ok(redirect.location.startsWith(`${storeUrl}/${bucket}/photos/kitten.png?`), redirect.location);
    assert.equal(target?.status, 200, "the store served the signed URL");
    assert.equal(await image.evaluate((img) => img.naturalWidth), 48);
    await shot(page, "store-done");
    await assertAccessible(page, "the admin's page with the store's image");
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe("the integrations list", () => {
  test("pages with Load more until every integration is shown", async () => {
    const admin = token(unique("paging"), "admin");
    const total = 53;
    for (let n = 0; n < total; n++) {
      const created = await api(admin, "POST", "/integrations", {
        name: `Bucket ${String(n).padStart(2, "0")}`,
        role_arn: customerRole("paging"),
        region: "us-east-1",
        scope: { type: "bucket", bucket: `paging-${n}-${randomBytes(3).toString("hex")}` },
      });
      assert.equal(created.status, 201);
    }
    const { page, context } = await open(admin);
    const rows = page.locator("#integrations-rows tr[data-id]");
    await rows.first().waitFor();
    assert.equal(await rows.count(), 50, "the first page holds 50");
    await assertAccessible(page, "the list's first page, with Load more");
    await page.getByRole("button", { name: "Load more" }).click();
    await page.waitForFunction((n) => document.querySelectorAll("#integrations-rows tr[data-id]").length === n, total);
    assert.equal(await page.getByRole("button", { name: "Load more" }).isVisible(), false);
    await assertAccessible(page, "the whole list, after Load more");
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    assert.equal(new Set(ids).size, total, "no integration is shown twice");
    await context.close();
  });
});

describe("validating from the list", () => {
  test("shows the whole report, each failure with its fix", async () => {
    const admin = token(unique("listed"), "admin");
    const created = await api(admin, "POST", "/integrations", {
      name: "Never set up",
      role_arn: customerRole("does-not-exist"),
      region: "us-east-1",
      scope: { type: "bucket", bucket: unique("never-set-up") },
    });
    assert.equal(created.status, 201);
    const { page, context } = await open(admin);
    const row = page.locator(`tr[data-id="${created.body.id}"]`);
    assert.equal(await row.locator(".pill").innerText(), "unverified");
    await assertAccessible(page, "the list with an unverified integration");

    await row.locator('[data-action="validate"]').click();
    await page.locator('#report-state[data-state="failing"]').waitFor({ timeout: 60_000 });
    const assume = page.locator('.check.fail[data-code="ASSUME_ROLE"] .fix');
    assert.match(await assume.innerText(), /paste the trust policy from step 3 of the wizard/);
    assert.match(await page.locator("#saved-text").innerText(), /“Never set up”: Checked against AWS just now\./);
    await row.locator(".pill.failing").waitFor();
    await assertNoRawJson(page);
    await shot(page, "list-validate-failing");
    await assertAccessible(page, "the failing report from the list, and its row's failures");
    await context.close();
  });
});

/** Installed before the app loads (open's initScript), into window.__witness: every alert, confirm
 * and prompt (the dialog still opens, and open's listener records it too); every
 * Content-Security-Policy violation (the page's CSP refuses inline event handlers, so markup parsed
 * out of text, onerror= and all, would show here even though its script is refused); and every
 * element inserted as <img src=x> or with an onerror attribute, even one replaced before the test
 * looks. */
function hostileWitness() {
  const seen = { dialogs: [], violations: [], inserted: [] };
  window.__witness = seen;
  for (const name of ["alert", "confirm", "prompt"]) {
    const original = window[name].bind(window);
    window[name] = (...args) => {
      seen.dialogs.push(`${name}(${args.map(String).join(", ")})`);
      return original(...args);
    };
  }
  document.addEventListener("securitypolicyviolation", (event) =>
    seen.violations.push(`${event.violatedDirective}: ${event.sample || event.blockedURI}`),
  );
  const suspicious = 'img[src="x"], [onerror]';
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== Node.ELEMENT_NODE) continue;
        for (const element of [node, ...node.querySelectorAll(suspicious)]) {
          if (element.matches(suspicious)) seen.inserted.push(element.outerHTML);
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
}

describe("hostile text", () => {
  test("an integration named <img src=x onerror=alert(1)> shows literally in the list, the wizard and its validation report, and no script runs", async () => {
    const HOSTILE = "<img src=x onerror=alert(1)>";
    const org = unique("hostile");
    const admin = token(org, "admin");
    const bucket = unique("hostile-bucket");
    // The same text as the key prefix carries it into the validation report: the checks' messages
    // name the scope (READ_ACCESS says under which s3://bucket/prefix it found nothing), and a
    // prefix may hold any character but control characters and IAM's * ? $. The integration name
    // itself is in no check message; the report's lead line and the list show it.
    const prefix = `${HOSTILE}/`;
    const scope = { type: "bucket", bucket, prefix };

    // A real role for exactly this scope (the API's documents, pasted by the console), so that
    // validation gets past ASSUME_ROLE to the bucket. The bucket's one object, photos/kitten.png,
    // is outside the prefix: LIST_ACCESS passes and READ_ACCESS warns, naming the prefix.
    console_(["bucket", bucket]);
    const access = await api(admin, "POST", "/policies/access", { scope, versioning: false });
    assert.equal(access.status, 200);
    const trust = await api(admin, "GET", "/policies/trust");
    assert.equal(trust.status, 200);
    const roleName = unique("hostile-role");
    const trustFile = join(ARTIFACTS, `${roleName}.trust.json`);
    const accessFile = join(ARTIFACTS, `${roleName}.access.json`);
    writeFileSync(trustFile, trust.body.text);
    writeFileSync(accessFile, access.body.text);
    const roleArn = console_(["role", roleName, "--trust", trustFile, "--access", accessFile]);
    // Saved through the API, as any admin of the org (or a script with a stolen session) could.
    const created = await api(admin, "POST", "/integrations", { name: HOSTILE, role_arn: roleArn, region: "us-east-1", scope });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, HOSTILE);

    const { page, context, problems } = await open(admin, { initScript: hostileWitness });
    const row = page.locator(`tr[data-id="${created.body.id}"]`);

    // (a) The list: the name and the scope, as text.
    await row.waitFor();
    assert.equal(await row.locator(".name").textContent(), HOSTILE);
    assert.ok((await row.textContent()).includes(`${bucket}/${HOSTILE}/`), await row.textContent());
    await assertAccessible(page, "the list");
    // The activity view: the name, and the change that set it, as text.
    const createdEvent = page.locator('#audit-rows tr[data-action="integration.created"]');
    await createdEvent.waitFor();
    assert.equal(await createdEvent.locator(".integration").textContent(), HOSTILE);
    assert.equal(await createdEvent.locator('[data-field="name"]').textContent(), `name: null → ${JSON.stringify(HOSTILE)}`);

    // (b) The wizard, editing it: the heading, the fields, the access policy and its summary.
    await row.locator('[data-action="edit"]').click();
    await page.getByRole("heading", { name: `Edit “${HOSTILE}”` }).waitFor();
    assert.equal(await page.locator("#wizard-title").textContent(), `Edit “${HOSTILE}”`);
    assert.equal(await page.getByLabel(/^Prefix/).inputValue(), prefix);
    await page.getByRole("button", { name: "Next: access policy" }).click();
    const accessPre = page.locator("#access-policy");
    await accessPre.filter({ hasText: `arn:aws:s3:::${bucket}/` }).waitFor();
    assert.equal(await accessPre.textContent(), access.body.text);
    assert.ok(access.body.text.includes(`arn:aws:s3:::${bucket}/${HOSTILE}/*`), access.body.text);
    assert.ok((await page.locator("#access-summary").textContent()).includes(`in ${bucket} under ${prefix}.`));
    await page.getByRole("button", { name: "Next: role" }).click();
    await page.getByRole("button", { name: "Next: save" }).click();
    assert.equal(await page.getByLabel("Name", { exact: true }).inputValue(), HOSTILE);
    await assertAccessible(page, "the wizard, editing it");
    await page.getByRole("button", { name: "Cancel editing" }).click();

    // (c) Its validation report, from the list: the warning names the prefix, the lead line the name.
    await row.locator('[data-action="validate"]').click();
    await page.locator("#report-state").waitFor({ timeout: 60_000 });
    assert.equal(await page.locator("#report-state").getAttribute("data-state"), "degraded");
    for (const passed of ["ASSUME_ROLE", "EXTERNAL_ID_REQUIRED", "BUCKET_REGION", "LIST_ACCESS"]) {
      assert.equal(await page.locator(`.check[data-code="${passed}"]`).getAttribute("class"), "check pass", passed);
    }
    const warning = await page.locator('.check.warn[data-code="READ_ACCESS"] .fix').textContent();
    assert.ok(warning.includes(`No object under s3://${bucket}/${HOSTILE}/ could be listed`), warning);
    assert.ok(warning.includes(`arn:aws:s3:::${bucket}/${HOSTILE}/*`), warning);
    assert.equal(await page.locator("#saved-text").textContent(), `“${HOSTILE}”: Checked against AWS just now.`);
    // The list shows the same warning under the row.
    const detail = page.locator(`tr[data-id="${created.body.id}"] + tr.detail`);
    await detail.filter({ hasText: "No object under" }).waitFor();
    assert.ok((await detail.textContent()).includes(`s3://${bucket}/${HOSTILE}/`), await detail.textContent());
    await row.locator(".pill.degraded").waitFor();
    await shot(page, "hostile-text");
    await assertAccessible(page, "the validation report and the list");

    // Deleting asks about it by name, as text too.
    await row.locator('[data-action="delete"]').click();
    const confirmText = page.locator("#confirm-delete-text");
    await confirmText.filter({ hasText: "Delete" }).waitFor();
    assert.ok((await confirmText.textContent()).startsWith(`Delete “${HOSTILE}” (${bucket}/${HOSTILE}/)?`));
    await assertAccessible(page, "the delete confirmation");
    await page.locator("#confirm-delete").getByRole("button", { name: "Cancel", exact: true }).click();

    // The text stayed text: no <img src=x> and no onerror attribute, now or at any moment since the
    // page loaded, no dialog, no CSP violation (a parsed onerror= would be one), no error.
    assert.equal(await page.locator('img[src="x"], [onerror]').count(), 0);
    assert.deepEqual(await page.evaluate(() => window.__witness), { dialogs: [], violations: [], inserted: [] });
    assert.deepEqual(problems, []);

    // And the witness is awake: the same text parsed as markup is seen at once.
    await page.evaluate((html) => document.body.append(Object.assign(document.createElement("div"), { innerHTML: html })), HOSTILE);
    await page.waitForFunction(() => window.__witness.inserted.length === 1 && window.__witness.violations.length > 0);
    await context.close();
  });
});

describe("a member", () => {
  test("sees no admin controls, and a demo locator's image renders through a stable link, with the link and a download", async () => {
    const { page, context, problems, network } = await open(token("demo", "member"));
    await page.locator("#try").waitFor();
    assert.equal(await page.locator("#wizard").count(), 0);
    assert.equal(await page.locator("#integrations").count(), 0);
    assert.equal(await page.locator("#rotation, #audit, #confirm-rotate").count(), 0, "no external ID panel and no activity view");
    assert.equal(await page.locator("[data-action]").count(), 0);
    assert.match(await page.locator("#identity-text").innerText(), /member/);
    await assertAccessible(page, "the member's page");

    await page.getByLabel("Locator", { exact: true }).fill("s3://demo-images/samples/cat.png");
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForFunction(() => document.querySelector("#try-image")?.complete === true);
    assert.equal(await page.locator("#try-image").evaluate((img) => img.naturalWidth), 64);

    // The image, the link shown as text and "Open the file" are one stable link; the image came
    // through its 307 (no token: an <img> sends none) to a presigned URL that lives shorter than
    // the redirect may be cached.
    const link = await page.locator("#try-link-text").innerText();
    assertStableLink(link, "the link shown");
    assert.equal(await page.locator("#try-image").getAttribute("src"), link);
    assert.equal(await page.getByRole("link", { name: "Open the file" }).getAttribute("href"), link);
    const { redirect, target } = redirectOf(network, link);
    assert.equal(target?.status, 200, "the presigned URL served the image");
    assert.match(target.contentType ?? "", /^image\/png/);
    const maxAge = Number(/max-age=(\d+)/.exec(redirect.cacheControl ?? "")?.[1]);
    assert.match(redirect.cacheControl ?? "", /private/);
    assert.ok(maxAge < LINK_URL_SECONDS, `the redirect is cached for less than the URL lives: ${redirect.cacheControl}`);

    // "Download cat.png": a second stable link, made with download_as, so the file downloads under
    // its own name (a signed Content-Disposition).
    const downloadLink = page.getByRole("link", { name: "Download cat.png" });
    const downloadHref = await downloadLink.getAttribute("href");
    assertStableLink(downloadHref, "the download link");
    assert.notEqual(downloadHref, link);
    assert.equal(await downloadLink.getAttribute("download"), "cat.png");
    const [download] = await Promise.all([page.waitForEvent("download"), downloadLink.click()]);
    assert.equal(download.suggestedFilename(), "cat.png");
    const downloadRedirect = await fetch(downloadHref, { redirect: "manual" });
    assert.equal(downloadRedirect.status, 307);
    const served = await fetch(downloadRedirect.headers.get("location"));
    assert.equal(served.status, 200);
    assert.match(served.headers.get("content-disposition") ?? "", /^attachment; filename="cat\.png"/);
    await shot(page, "member-try-locator");
    await assertAccessible(page, "the member's page with the rendered image");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("explains a locator: the demo integration serves the demo image and presign would sign it; a bucket no integration serves is refused, with the fix", async () => {
    const member = token("demo", "member");
    const CAT = "s3://demo-images/samples/cat.png";
    const ELSEWHERE = "s3://not-connected-bucket/a.png";
    // What the API says, for the page to show in words.
    const asked = await api(member, "POST", "/locators/explain", { locators: [CAT, ELSEWHERE] });
    assert.equal(asked.status, 200);
    const [cat, elsewhere] = asked.body.results;
    assert.equal(cat.would_sign, true, JSON.stringify(cat));
    assert.ok(cat.integration && cat.matched_by, JSON.stringify(cat));
    assert.equal(elsewhere.would_sign, false);
    assert.ok(elsewhere.blocked_by && elsewhere.fix, JSON.stringify(elsewhere));

    const { page, context, problems } = await open(member, { initScript: hostileWitness });
    const section = page.getByRole("region", { name: "Explain a locator" });
    await section.waitFor();
    await assertAccessible(page, "the member's page with the explain view");

    // The locator in Try a locator's field, explained with the Explain button beside Show.
    await page.getByLabel("Locator", { exact: true }).fill(CAT);
    await page.getByRole("button", { name: "Explain", exact: true }).click();
    const first = section.getByRole("article", { name: CAT });
    await first.waitFor();
    assert.equal(await page.getByLabel("Locators to explain").inputValue(), CAT);
    assert.equal(await first.getAttribute("data-verdict"), "sign");
    assert.equal(await first.locator(".verdict").textContent(), "Presign would sign it.");
    const servedBy = await first.locator(".served-by").textContent();
    assert.ok(servedBy.startsWith(`“${cat.integration.name}” · Amazon S3 through an IAM role · `), servedBy);
    assert.ok(servedBy.includes("demo-images"), servedBy);
    assert.equal(await first.locator(".matched-by").textContent(), `${cat.matched_by}.`);
    const candidates = first.locator("ol.candidates > li");
    assert.equal(await candidates.count(), cat.candidates.length);
    assert.equal(await candidates.first().getAttribute("data-id"), cat.integration.id);
    assert.match(await candidates.first().textContent(), /\(serves it\)$/);
    assert.equal(await first.locator(".fix").count(), 0);
    await shot(page, "member-explain-demo");
    await assertAccessible(page, "the explanation of the demo image");

    // Two lines in the box: the demo image again, and a bucket no integration serves.
    await page.getByLabel("Locators to explain").fill(`${CAT}\n\n${ELSEWHERE}\n`);
    await page.getByRole("button", { name: "Explain locators" }).click();
    const refused = section.getByRole("article", { name: ELSEWHERE });
    await refused.waitFor();
    assert.equal(await section.getByRole("article").count(), 2);
    assert.equal(await page.locator("#explain-summary").textContent(), "2 locators: 1 would be signed, 1 refused.");
    assert.equal(await refused.getAttribute("data-verdict"), "refuse");
    assert.equal(await refused.locator(".verdict").textContent(), `Presign would refuse it: ${elsewhere.blocked_by}`);
    assert.equal(await refused.locator(".fix").textContent(), `Fix: ${elsewhere.fix}`);
    assert.equal(await refused.locator(".served-by").textContent(), "No integration serves it.");
    assert.equal(await refused.locator(".candidates-none").count(), 1);
    await assertNoRawJson(page);
    await shot(page, "member-explain-refused");
    await assertAccessible(page, "the explanations, one refused with its fix");

    // Nothing typed: the box says so.
    await page.getByLabel("Locators to explain").fill("  \n");
    await page.getByRole("button", { name: "Explain locators" }).click();
    await page.locator("#explain-locators-error").filter({ hasText: "Enter a locator" }).waitFor();
    assert.equal(await page.getByLabel("Locators to explain").getAttribute("aria-invalid"), "true");
    await assertAccessible(page, "the explain view, nothing to explain");
    assert.deepEqual(await page.evaluate(() => window.__witness), { dialogs: [], violations: [], inserted: [] });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("plays the demo WebM through a stable link and seeks it: 206 answers to its Range requests", async () => {
    const { page, context, problems, network } = await open(token("demo", "member"));
    await page.locator("#try").waitFor();
    await page.getByLabel("Locator", { exact: true }).fill(DEMO_CLIP);
    await page.getByRole("button", { name: "Show" }).click();
    const video = page.locator("#try-video");
    await video.waitFor();
    const link = await video.getAttribute("src");
    assertStableLink(link, "the video's src");
    assert.equal(await page.locator("#try-link-text").innerText(), link);
    assert.equal(await page.getByRole("link", { name: "Download clip.webm" }).getAttribute("download"), "clip.webm");

    // Its metadata (the Segment's Duration) arrives, it plays, and time advances.
    await page.waitForFunction(() => document.querySelector("#try-video")?.readyState >= 1, null, { timeout: 30_000 });
    const duration = await video.evaluate((v) => v.duration);
    assert.ok(Math.abs(duration - 5) < 0.2, `the clip lasts 5 s: ${duration}`);
    await video.evaluate((v) => {
      v.muted = true;
      return v.play();
    });
    await page.waitForFunction(() => document.querySelector("#try-video").currentTime > 0.5, null, { timeout: 30_000 });

    // Seeking to 2.0 s lands there (the Cues say where), and it plays on from there.
    const seekedTo = await video.evaluate(
      (v) =>
        new Promise((resolve, reject) => {
          v.pause();
          v.addEventListener("seeked", () => resolve(v.currentTime), { once: true });
          v.addEventListener("error", () => reject(new Error(`media error ${v.error?.code}: ${v.error?.message}`)), { once: true });
          v.currentTime = 2.0;
        }),
    );
    assert.ok(Math.abs(seekedTo - 2.0) < 0.1, `currentTime after seeking to 2.0 s: ${seekedTo}`);
    await video.evaluate((v) => v.play());
    await page.waitForFunction(() => document.querySelector("#try-video").currentTime > 2.3, null, { timeout: 30_000 });
    assert.equal(await video.evaluate((v) => v.error), null);

    // On the network: the link's 307 to a presigned URL, which answered the media's Range requests
    // with 206 and a Content-Range over the whole file.
    await Promise.all(network.pending);
    const redirects = network.filter((r) => r.url === link && r.status === 307);
    assert.ok(redirects.length >= 1, `no 307 from the link: ${network.map((r) => `${r.status} ${r.url}`).join(", ")}`);
    const targets = new Set(redirects.map((r) => r.location));
    const partial = network.filter((r) => targets.has(r.url) && r.status === 206);
    assert.ok(partial.length >= 1, `no 206 from the presigned URL: ${network.filter((r) => targets.has(r.url)).map((r) => r.status).join(", ")}`);
    for (const r of partial) {
      assert.match(r.range ?? "", /^bytes=\d+-\d*$/, "the media asked for a range");
      assert.match(r.contentRange ?? "", new RegExp(`^bytes \\d+-\\d+/${DEMO_CLIP_BYTES}$`), "the answer's Content-Range");
      assert.match(r.contentType ?? "", /^video\/webm/);
    }
    assert.deepEqual(network.filter((r) => (r.url === link || targets.has(r.url)) && r.status >= 400), [], "no refused request");
    await shot(page, "member-video");
    await assertAccessible(page, "the member's page with the playing video");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("a video whose presigned URL expired before it had every byte loads its stable link again and plays on", async () => {
    assert.ok(LINK_URL_SECONDS <= 30, `LINK_URL_SECONDS is ${LINK_URL_SECONDS}: run with a short one (scripts/run.sh --browser-tests sets 4)`);
    const { page, context, problems, network } = await open(token("demo", "member"));
    await page.locator("#try").waitFor();
    // The browser fetches the rest of a video from the presigned URL the link sent it to, not from
    // the link. Here the first answer there brings only the start of the file (enough for the
    // metadata: the same bytes as seeded), and the request for the rest reaches that URL only after
    // it expired, so it is refused as S3 refuses an expired URL (403 "Request has expired"; the
    // plain emulator does not check expiry, so this interception plays S3). Fresh URLs go through
    // untouched. DevTools' Fetch domain sees the request after the redirect (page.route does not).
    // Chromium's media cache reads in 32 KiB blocks: the first block, of the clip's 41 KiB.
    const PART = 32 * 1024;
    const clip = readFileSync(join(here, "fixtures", "demo-clip.webm"));
    let first;
    const refused = [];
    const cdp = await context.newCDPSession(page);
    cdp.on("Fetch.requestPaused", async ({ requestId, request }) => {
      const url = request.url;
      const isClip = new URL(url).pathname.endsWith("/samples/clip.webm") && url.includes("X-Amz-Signature=");
      if (isClip) first ??= url;
      const range = Object.entries(request.headers).find(([name]) => name.toLowerCase() === "range")?.[1] ?? "";
      try {
        if (!isClip || url !== first) {
          await cdp.send("Fetch.continueRequest", { requestId });
        } else if (/^bytes=0-/.test(range) && Date.now() < expiryOf(url)) {
          await cdp.send("Fetch.fulfillRequest", {
            requestId,
            responseCode: 206,
            responseHeaders: [
              { name: "Content-Type", value: "video/webm" },
              { name: "Content-Range", value: `bytes 0-${PART - 1}/${clip.length}` },
              { name: "Accept-Ranges", value: "bytes" },
            ],
            body: clip.subarray(0, PART).toString("base64"),
          });
        } else {
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiryOf(url) + 200 - Date.now())));
          refused.push(range);
          await cdp.send("Fetch.fulfillRequest", {
            requestId,
            responseCode: 403,
            responseHeaders: [{ name: "Content-Type", value: "application/xml" }],
            body: Buffer.from("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>").toString("base64"),
          });
        }
      } catch (err) {
        if (!/closed|detached/i.test(err.message)) problems.push(`interception: ${err.message}`);
      }
    });
    await cdp.send("Fetch.enable", { patterns: [{ urlPattern: "*clip.webm*", requestStage: "Request" }] });
    await page.getByLabel("Locator", { exact: true }).fill(DEMO_CLIP);
    await page.getByRole("button", { name: "Show" }).click();
    const video = page.locator("#try-video");
    await video.waitFor();
    const link = await video.getAttribute("src");
    await page.waitForFunction(() => document.querySelector("#try-video")?.readyState >= 1, null, { timeout: 30_000 });
    assert.ok(first, "the video went to a presigned URL");
    assert.ok(expiryOf(first) - Date.now() <= LINK_URL_SECONDS * 1000);
    const mark = network.length;
    await page.waitForTimeout(Math.max(0, expiryOf(first) + 1000 - Date.now()));

    // Played after that URL's life: the rest of the file is refused there, and the video goes back
    // to its link (a fresh 307 to a fresh URL) and plays on.
    await video.evaluate((v) => {
      v.muted = true;
      void v.play().catch(() => undefined);
    });
    await page.waitForFunction(() => document.querySelector("#try-video")?.currentTime > 4.5, null, { timeout: 30_000 });
    assert.ok(refused.length >= 1, "the expired URL was asked for the rest of the file");
    const again = redirectOf(network, link, mark);
    assert.notEqual(again.redirect.location, first, "a freshly presigned URL");
    assert.ok(network.some((r) => r.url === again.redirect.location && r.status === 206), "the fresh URL served the video");
    assert.equal(await video.evaluate((v) => v.error), null);
    assert.equal(await page.locator("#try-error").count(), 0);
    await assertAccessible(page, "the member's page, the video played on after its URL expired");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("a page left open past the presigned URL's life still loads the image through its stable link", async (t) => {
    assert.ok(LINK_URL_SECONDS <= 30, `LINK_URL_SECONDS is ${LINK_URL_SECONDS}: run with a short one (scripts/run.sh --browser-tests sets 4)`);
    const { page, context, problems, network } = await open(token("demo", "member"));
    await page.locator("#try").waitFor();
    const locator = page.getByLabel("Locator", { exact: true });
    await locator.fill("s3://demo-images/samples/forest.png");
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForFunction(() => document.querySelector("#try-image")?.complete === true);
    assert.equal(await page.locator("#try-image").evaluate((img) => img.naturalWidth), 64);
    const link = await page.locator("#try-image").getAttribute("src");
    assertStableLink(link, "the image's src");
    const first = redirectOf(network, link);
    assert.equal(first.target?.status, 200);

    // The presigned URL the link sent the browser to lives LINK_URL_SECONDS; the page stays open
    // past that.
    const life = Number(new URL(first.redirect.location).searchParams.get("X-Amz-Expires"));
    assert.ok(life > 0 && life <= LINK_URL_SECONDS, `X-Amz-Expires ${life}, LINK_URL_SECONDS ${LINK_URL_SECONDS}`);
    const expires = expiryOf(first.redirect.location);
    await page.waitForTimeout(Math.max(0, expires + 2000 - Date.now()));
    assert.ok(Date.now() > expires, "the first presigned URL has expired");
    const stale = await fetch(first.redirect.location);
    t.diagnostic(`the first presigned URL, expired, now answers ${stale.status} (the plain emulator may not check expiry)`);

    // Re-rendered (Show again). The page shows the same link, and a browser that still holds the
    // image shows it from memory; one that dropped it (as it may at any time: memory, many images)
    // loads it again. That is the case a presigned URL in the page fails: with the browser's caches
    // off from here (DevTools' "Disable cache"), the re-render goes to the network: a fresh 307
    // from /l/ to a new presigned URL, and a 200 image from there.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    const mark = network.length;
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForFunction(() => document.querySelector("#try-image")?.complete === true);
    assert.equal(await page.locator("#try-image").getAttribute("src"), link, "the page shows the same stable link");
    assert.equal(await page.locator("#try-image").evaluate((img) => img.naturalWidth), 64);
    const again = redirectOf(network, link, mark);
    assert.notEqual(again.redirect.location, first.redirect.location, "a freshly presigned URL");
    assert.equal(again.target?.status, 200, "the fresh URL served the image");
    assert.match(again.target.contentType ?? "", /^image\/png/);
    await shot(page, "member-image-after-url-expiry");
    await assertAccessible(page, "the member's page, the image re-rendered after the URL expired");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("sees errors in words: a bucket outside every integration, and a malformed locator", async () => {
    const { page, context } = await open(token("demo", "member"));
    await page.locator("#try").waitFor();
    await page.getByLabel("Locator", { exact: true }).fill("s3://not-connected-bucket/a.png");
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator("#try-error").filter({ hasText: "This bucket is not permitted: Bucket \"not-connected-bucket\" is not among" }).waitFor();
    await assertAccessible(page, "the member's page, a bucket not permitted");

    await page.getByLabel("Locator", { exact: true }).fill("ftp://what");
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator("#try-error").filter({ hasText: "ftp://what" }).waitFor();
    await assertNoRawJson(page);
    await shot(page, "member-locator-error");
    await assertAccessible(page, "the member's page, a malformed locator");
    await context.close();
  });
});

describe("signing in", () => {
  test("a refused token shows the sign-in form with the reason", async () => {
    const { page, context } = await open("not-a-token");
    await page.locator("#token-input-error").filter({ hasText: "not accepted" }).waitFor();
    assert.equal(await page.locator("#wizard").isVisible(), false);
    await assertAccessible(page, "the sign-in form, a refused token");
    await context.close();
  });

  test("a token that expires mid-session returns to sign-in with the reason", async () => {
    const { page, context } = await open(token("demo", "member", 2));
    await page.locator("#try").waitFor();
    await new Promise((resolve) => setTimeout(resolve, 3500));
    await page.getByLabel("Locator", { exact: true }).fill("s3://demo-images/samples/cat.png");
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator("#token-input-error").filter({ hasText: "Your sign-in ended: The token has expired." }).waitFor();
    assert.equal(await page.locator("#try").isVisible(), false);
    await assertAccessible(page, "the sign-in form, an expired token");
    await context.close();
  });
});
