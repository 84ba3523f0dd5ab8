// The portal's browser test: headless Chromium (Debian's, /usr/bin/chromium)
// driven by playwright-core through the tutorial's path, against a real
// `roster serve` (temp data dir, random port) and a real SCIM app (roster's
// sample app). It also checks the refusals (no session, no CSRF token), that a
// saved secret never reaches a page, and saves screenshots of each main page at
// 1280 and 390 px under target/portal-screenshots/.
//
// Run through scripts/portal-test.sh, which installs Chromium, builds roster and
// stops everything by PID. Environment: ROSTER_BIN (the roster binary),
// PORTAL_ARTIFACTS (where screenshots go), PORTAL_WORK (a scratch folder whose
// `pids` file lists the processes started here).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, "..", "..");
const BIN = process.env.ROSTER_BIN || path.join(root, "target", "debug", "roster");
const ARTIFACTS = process.env.PORTAL_ARTIFACTS || path.join(root, "target", "portal-screenshots");
const WORK = process.env.PORTAL_WORK || mkdtempSync(path.join(tmpdir(), "roster-portal-"));
const DATA = path.join(WORK, "data");
const ADMIN = "admin";
const PASSWORD = "portal test password 1";
const APP_TOKEN = "sample-app-secret-" + Math.random().toString(36).slice(2);
const ENGINEERS = 10;
const WIDTHS = [1280, 390];

const children = [];
let base; // roster's URL
let scimUrl; // the sample app's SCIM base URL
let apiToken;
let browser;
let context;
let page;
let appId;

function startProcess(args, env, readyPattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    appendFileSync(path.join(WORK, "pids"), `${child.pid}\n`);
    let seen = "";
    const streams = { out: "", err: "" };
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${seen}`)), 30000);
    // Only whole lines are matched: a chunk may end in the middle of the address.
    const look = (which) => (chunk) => {
      streams[which] += chunk.toString();
      seen = streams.out + streams.err;
      const whole = streams[which].slice(0, streams[which].lastIndexOf("\n") + 1);
      const m = whole.match(readyPattern);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", look("out"));
    child.stderr.on("data", look("err"));
    child.on("exit", (code) => reject(new Error(`${args[0]} exited with ${code}: ${seen}`)));
  });
}

function stopAll() {
  for (const c of children) {
    if (c.exitCode === null) c.kill("SIGTERM");
  }
}
process.on("exit", stopAll);

async function api(method, url, body) {
  const r = await fetch(base + "/api/v1" + url, {
    method,
    headers: { Authorization: `Bearer ${apiToken}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

/// Opens a page and checks that the saved secret is nowhere in its source.
async function visit(url) {
  const response = await page.goto(base + url);
  assert.ok(response, `no response for ${url}`);
  assert.ok(!(await page.content()).includes(APP_TOKEN), `the secret token is in the page source of ${url}`);
  return response;
}

async function shoot(name) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width > 600 ? 900 : 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function clickAndWait(locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), locator.click()]);
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  mkdirSync(DATA, { recursive: true });
  writeFileSync(path.join(WORK, "password"), PASSWORD + "\n");
  await new Promise((resolve, reject) => {
    const c = spawn(BIN, ["--data-dir", DATA, "admin", "create", ADMIN, "--password-file", path.join(WORK, "password")], {
      stdio: "inherit",
    });
    c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`admin create exited with ${code}`))));
  });
  const rosterAddr = await startProcess(
    ["--data-dir", DATA, "serve", "--listen", "127.0.0.1:0"],
    { ROSTER_LOG: "warn" },
    /serving on (http:\/\/[0-9.:]+)/,
  );
  base = rosterAddr;
  scimUrl = await startProcess(["sample-app", "--listen", "127.0.0.1:0"], { ROSTER_SAMPLE_TOKEN: APP_TOKEN }, /(http:\/\/\S+\/scim\/v2)/);
  apiToken = readFileSync(path.join(DATA, "admin.token"), "utf8").trim();

  // The directory: engineers in a group, two of them outside the scoping filter.
  const users = [];
  for (let i = 1; i <= ENGINEERS + 2; i++) {
    const outside = i > ENGINEERS;
    const u = {
      userName: `eng${i}@example.com`,
      givenName: "Ada",
      surname: `Lovelace${i}`,
      displayName: `Engineer ${i}`,
      mail: `eng${i}@example.com`,
      department: outside ? "Sales" : "Engineering",
    };
    await api("POST", "/users", u);
    users.push(u.userName);
  }
  for (let i = 1; i <= 5; i++) await api("POST", "/users", { userName: `other${i}@example.com`, displayName: `Other ${i}` });
  await api("POST", "/groups", { displayName: "Engineering", description: "Everyone who builds" });
  await api("POST", "/groups/Engineering/members", { users });

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
});

after(async () => {
  if (browser) await browser.close();
  stopAll();
});

test("a request without a session is refused", async () => {
  const pageReq = await fetch(base + "/apps", { redirect: "manual", headers: { Accept: "text/html" } });
  assert.equal(pageReq.status, 303);
  assert.match(pageReq.headers.get("location"), /^\/signin\?next=%2Fapps/);
  const fragment = await fetch(base + "/apps/anything/status.json", { redirect: "manual" });
  assert.equal(fragment.status, 401);
  const post = await fetch(base + "/groups/new", {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Portal-Fetch": "1" },
    body: "displayName=Nobody",
  });
  assert.equal(post.status, 401);
});

test("sign in with the admin account", async () => {
  await visit("/signin");
  await shoot("signin");
  await page.fill("#password", "a wrong password");
  await page.fill("#name", ADMIN);
  await clickAndWait(page.getByRole("button", { name: "Sign in", exact: true }));
  assert.match(await page.textContent("#err-password"), /wrong/);
  await page.fill("#name", ADMIN);
  await page.fill("#password", PASSWORD);
  await clickAndWait(page.getByRole("button", { name: "Sign in", exact: true }));
  assert.match(page.url(), /\/apps$/);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "roster_session");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", "the session cookie is HttpOnly and SameSite=Strict");
  assert.ok(session.expires > Date.now() / 1000, "the session cookie expires");
});

test("a form posted without the CSRF token is refused", async () => {
  const none = await page.request.post(base + "/groups/new", { form: { displayName: "Forged" }, maxRedirects: 0 });
  assert.equal(none.status(), 403);
  const wrong = await page.request.post(base + "/groups/new", {
    form: { displayName: "Forged", _csrf: "not-the-token" },
    maxRedirects: 0,
  });
  assert.equal(wrong.status(), 403);
  const groups = await api("GET", "/groups?displayName=Forged");
  assert.equal(groups.total, 0, "no group was made by the forged posts");
});

test("create a SCIM app from the gallery", async () => {
  await visit("/apps/new");
  await shoot("gallery");
  await page.fill("#q", "scim");
  await clickAndWait(page.getByRole("button", { name: "Search", exact: true }));
  await page.fill("#name-scim", "Crm");
  await clickAndWait(page.getByRole("button", { name: "Add Generic SCIM 2.0 application" }));
  const m = page.url().match(/\/apps\/([0-9a-f-]{36})/);
  assert.ok(m, `landed on ${page.url()}`);
  appId = m[1];
  assert.match(await page.textContent("h1"), /Crm/);
});

test("enter credentials; Test Connection shows why a wrong token fails, then succeeds", async () => {
  await visit(`/apps/${appId}/provisioning`);
  await page.selectOption("#mode", "automatic");
  await page.fill("#tenantUrl", scimUrl);
  await page.fill("#secretToken", "a-wrong-token");
  await clickAndWait(page.getByRole("button", { name: "Test Connection" }));
  const failed = await page.textContent("#test-result");
  assert.match(failed, /Connection failed\./);
  assert.ok(failed.replace("Connection failed.", "").trim().length > 10, `a reason is shown: ${failed}`);
  await page.fill("#secretToken", APP_TOKEN);
  await clickAndWait(page.getByRole("button", { name: "Test Connection" }));
  assert.match(await page.textContent("#test-result"), /Connection succeeded\./);
  assert.ok(!(await page.content()).includes(APP_TOKEN), "the token is not sent back");
  assert.match(await page.textContent("#hint-secretToken"), /Set/);
});

test("edit a mapping with the live expression test", async () => {
  await visit(`/apps/${appId}/provisioning/mappings/user`);
  await shoot("mappings");
  await clickAndWait(page.locator('[aria-label="Edit displayName"]'));
  await page.selectOption("#mapping-type", "expression");
  await page.fill("#expression", 'Join(" ", [givenName], ToUpper([surname])');
  await page.fill("#test-user", "eng1@example.com");
  await page.getByRole("button", { name: "Test expression" }).click();
  await page.waitForFunction(() => /\S/.test(document.querySelector("[data-expr-result]").textContent) && !/Testing/.test(document.querySelector("[data-expr-result]").textContent));
  assert.match(await page.textContent("[data-expr-result]"), /\^|expected|\)/i, "a parse error points at the problem");
  await page.fill("#expression", 'Join(" ", [givenName], ToUpper([surname]))');
  await page.getByRole("button", { name: "Test expression" }).click();
  await page.waitForFunction(() => document.querySelector("[data-expr-result]").textContent.includes("LOVELACE1"));
  assert.match(await page.textContent("[data-expr-result]"), /Ada LOVELACE1/);
  await shoot("attribute-mapping");
  await clickAndWait(page.getByRole("button", { name: "Save", exact: true }));
  assert.match(await page.textContent(".notice.ok"), /Mapping saved/);
  assert.match(await page.textContent("table"), /ToUpper\(\[surname\]\)/);
});

test("set a scoping filter", async () => {
  await visit(`/apps/${appId}/provisioning/mappings/user/scoping`);
  await clickAndWait(page.getByRole("button", { name: "Add scoping clause group (OR)" }));
  await page.locator('[id="g0.c0.attribute"]').selectOption("department");
  await page.locator('[id="g0.c0.operator"]').selectOption("EQUALS");
  await page.locator('[id="g0.c0.value"]').fill("Engineering");
  await shoot("scoping");
  await clickAndWait(page.getByRole("button", { name: "Save", exact: true }));
  assert.match(await page.textContent(".notice.ok"), /Scoping filter saved/);
});

test("turn provisioning on and save", async () => {
  await visit(`/apps/${appId}/provisioning`);
  await page.selectOption("#mode", "automatic");
  await page.fill("#notificationEmail", "ops@example.com");
  await page.fill("#interval", "5 weeks");
  await page.check('input[name="status"][value="on"]');
  await clickAndWait(page.locator("#save"));
  assert.match(await page.textContent("#err-interval"), /duration/, "the engine's refusal is next to its field");
  assert.match(await page.textContent("#status"), /Off/, "nothing was saved");
  await page.fill("#interval", "40m");
  await page.check('input[name="status"][value="on"]');
  await clickAndWait(page.locator("#save"));
  assert.match(await page.textContent(".notice.ok"), /Saved/);
  assert.match(await page.textContent("#status"), /On/);
  await shoot("provisioning");
});

test("assign a group and watch the progress bar reach 100 % without reloading", async () => {
  // A second tab shows the app's status before the assignment; it must update by itself.
  const watcher = await context.newPage();
  await watcher.setViewportSize({ width: 1280, height: 900 });
  await watcher.goto(`${base}/apps/${appId}`);
  await watcher.evaluate(() => {
    window.__sameDocument = true;
  });

  await visit(`/apps/${appId}/users`);
  await page.check('input[name="kind"][value="group"]');
  await page.fill("#name", "Engineering");
  await page.selectOption("#role", "User");
  await clickAndWait(page.getByRole("button", { name: "Assign", exact: true }));
  assert.match(await page.textContent(".notice.ok"), /Assigned/);
  assert.match(await page.textContent("table"), /Engineering/);
  await shoot("users-and-groups");

  await watcher.waitForFunction(
    (n) => {
      const panel = document.querySelector("#status");
      const percent = panel && panel.querySelector('[data-part="percent"]');
      return percent && percent.textContent.includes("100 %") && panel.textContent.includes(`${n} provisioned`);
    },
    ENGINEERS,
    { timeout: 60000, polling: 250 },
  );
  assert.equal(await watcher.evaluate(() => window.__sameDocument), true, "the page was not reloaded");
  assert.equal(await watcher.locator("#cycle-progress").getAttribute("value"), "100");
  page = watcher;
  await shoot("overview");
});

test("the logs show a user's Create with its modified properties; the CSV downloads", async () => {
  await visit(`/apps/${appId}/logs?action=Create`);
  await clickAndWait(page.locator('[aria-label="Details of Create eng1@example.com"]'));
  const detail = await page.textContent("#detail");
  assert.match(detail, /Import/);
  assert.match(detail, /Scope/);
  assert.match(detail, /Match/);
  assert.match(detail, /Action/);
  assert.match(detail, /displayName/);
  assert.match(detail, /Ada LOVELACE1/, "the edited mapping's value was sent");
  assert.match(detail, /eng1@example\.com/);
  await shoot("logs");

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download CSV" }).click()]);
  const file = path.join(ARTIFACTS, "provisioning-logs.csv");
  await download.saveAs(file);
  const csv = readFileSync(file, "utf8");
  assert.match(csv.split("\n")[0], /^at,cycleId,changeId,objectKind,sourceId,sourceName/);
  assert.match(csv, /eng1@example\.com/);
  assert.match(csv, /Create/);
  assert.ok(!csv.includes("eng11@example.com,") || !/eng11@example\.com[^\n]*Create/.test(csv), "out-of-scope users were not created");
});

test("preview a scoping change before saving it, then check the app for drift", async () => {
  await visit(`/apps/${appId}/provisioning/mappings/user/scoping`);
  await page.locator('[id="g0.c0.value"]').fill("Nobody");
  await clickAndWait(page.getByRole("button", { name: "Preview changes", exact: true }));
  const plan = await page.textContent("#plan");
  assert.match(plan, /Preview of the next cycle/);
  assert.match(plan, /Disable user eng1@example\.com/, "the engineers would leave the app");
  assert.match(plan, /PATCH \/scim\/v2\/Users\//, "with the request the cycle would send");
  await shoot("plan-preview");
  await visit(`/apps/${appId}/provisioning/mappings/user/scoping`);
  assert.equal(await page.locator('[id="g0.c0.value"]').inputValue(), "Engineering", "a preview saves nothing");

  await visit(`/apps/${appId}/provisioning/drift`);
  assert.match(await page.textContent("#drift"), /No drift check has run yet/);
  await clickAndWait(page.getByRole("button", { name: "Check now", exact: true }));
  assert.match(await page.textContent(".notice.ok"), /drift check is done/);
  assert.match(await page.textContent("#drift"), /0 difference\(s\)/);
  await shoot("drift");
});

test("the directory pages render and the saved secret is in none of them", async () => {
  await visit("/apps");
  await shoot("apps");
  // On a phone every column of the applications list stays in view: the rows stack.
  await page.setViewportSize({ width: 390, height: 844 });
  const widths = await page.evaluate(() => {
    const table = document.querySelector('[data-part="apps"]');
    return { page: document.documentElement.scrollWidth, table: table.scrollWidth, wrap: table.parentElement.clientWidth };
  });
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.ok(widths.page <= 390, `the page is ${widths.page}px wide at 390px`);
  assert.ok(widths.table <= widths.wrap + 1, `the applications table is ${widths.table}px wide in ${widths.wrap}px`);
  await visit(`/apps/${appId}`);
  assert.equal(await page.locator("svg.activity").count(), 1, "the Overview draws its activity");
  assert.match(await page.locator("svg.activity > title").textContent(), /log entries/);
  await shoot("activity");
  await visit("/sources");
  await shoot("sources");
  await visit("/users?q=eng");
  await shoot("users");
  await visit("/users/eng1@example.com");
  assert.match(await page.textContent("main"), /Crm/);
  assert.match(await page.textContent("main"), /Through/);
  await shoot("user");
  await visit("/groups");
  await shoot("groups");
  await visit("/groups/Engineering");
  await shoot("group");
  await visit(`/apps/${appId}/provisioning/on-demand`);
  await page.fill("#user", "eng2@example.com");
  await clickAndWait(page.getByRole("button", { name: "Provision", exact: true }));
  assert.match(await page.textContent("#on-demand-result"), /Steps/);
  await shoot("on-demand");
  const source = await (await page.request.get(`${base}/apps/${appId}/provisioning`)).text();
  assert.ok(!source.includes(APP_TOKEN));
});

test("sign out ends the session", async () => {
  await visit("/apps");
  await clickAndWait(page.getByRole("button", { name: "Sign out" }));
  assert.match(page.url(), /\/signin$/);
  await page.goto(base + "/apps");
  assert.match(page.url(), /\/signin\?next=/);
});
