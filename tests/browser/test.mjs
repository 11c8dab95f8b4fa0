// Drives the grpc-web test page (src/app.ts) in headless Chromium with
// playwright-core and checks what a browser really sees of identityd.
//
// Environment (run.sh sets it):
//   IDENTITYD_ORIGIN  identityd's origin, e.g. http://127.0.0.1:8000
//   PAGE_PORT         port of serve.mjs; http://127.0.0.1:PAGE_PORT must be in
//                     the server's BACKEND_CORS_ORIGINS, http://localhost:PAGE_PORT
//                     must not
//   CHROMIUM          browser binary (default /usr/bin/chromium)
//
// Preflights are not Playwright request events, so the DevTools protocol's
// Network domain records them (and the browser's CORS verdicts) beside it.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const SERVER = process.env.IDENTITYD_ORIGIN;
const PAGE_PORT = process.env.PAGE_PORT;
if (!SERVER || !PAGE_PORT) {
  throw new Error("IDENTITYD_ORIGIN and PAGE_PORT must be set (tests/browser/run.sh sets them)");
}
const ALLOWED_ORIGIN = `http://127.0.0.1:${PAGE_PORT}`;
// The same static server under another origin string: not in BACKEND_CORS_ORIGINS.
const OTHER_ORIGIN = `http://localhost:${PAGE_PORT}`;
const EMAIL = `browser-${Date.now()}-${process.pid}@example.com`;
const PASSWORD = "Browser-Test-42!";
const PAGE_TIMEOUT_MS = 30_000;

let userDataDir;
let context;
let flow; // the allowed-origin page's run: register, login, getMe, wrong password

/** Opens `url`, waits for the page to finish, returns its result and what crossed the network. */
async function runPage(url) {
  const page = await context.newPage();
  const seen = { requests: [], console: [], preflights: new Map(), corsErrors: [] };
  page.on("request", (request) => {
    if (request.url().startsWith(`${SERVER}/`)) seen.requests.push(request);
  });
  page.on("console", (message) => seen.console.push(message.text()));
  page.on("pageerror", (error) => seen.console.push(`pageerror: ${error.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.requestWillBeSent", ({ requestId, request }) => {
    if (request.method === "OPTIONS" && request.url.startsWith(`${SERVER}/`)) {
      seen.preflights.set(requestId, { url: request.url, requestHeaders: lower(request.headers) });
    }
  });
  cdp.on("Network.responseReceived", ({ requestId, type, response }) => {
    const preflight = seen.preflights.get(requestId);
    if (type === "Preflight" && preflight) {
      preflight.status = response.status;
      preflight.responseHeaders = lower(response.headers);
    }
  });
  cdp.on("Network.loadingFailed", ({ errorText, corsErrorStatus }) => {
    if (corsErrorStatus) seen.corsErrors.push({ errorText, ...corsErrorStatus });
  });

  try {
    await page.goto(url);
    await page.locator("#result[data-state=done]").waitFor({ timeout: PAGE_TIMEOUT_MS });
    const result = JSON.parse(await page.locator("#result").textContent());
    const calls = [];
    for (const request of seen.requests) {
      const response = await request.response();
      calls.push({
        method: request.method(),
        path: new URL(request.url()).pathname,
        requestHeaders: await request.allHeaders(),
        status: response?.status(),
        responseHeaders: response ? await response.allHeaders() : undefined,
        failure: request.failure()?.errorText,
      });
    }
    return { result, calls, preflights: [...seen.preflights.values()], corsErrors: seen.corsErrors, console: seen.console };
  } finally {
    await cdp.detach().catch(() => {});
    await page.close();
  }
}

function lower(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function show(value) {
  return JSON.stringify(value, null, 2);
}

function ok(outcome, what) {
  assert.ok(outcome, `${what}: no outcome on the page`);
  assert.equal(outcome.ok, true, `${what} failed in the browser: ${show(outcome)}`);
  return outcome.value;
}

before(async () => {
  userDataDir = mkdtempSync(join(tmpdir(), "identityd-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const query = new URLSearchParams({ server: SERVER, email: EMAIL, password: PASSWORD });
  flow = await runPage(`${ALLOWED_ORIGIN}/?${query}`);
  const summary = flow.calls.map((c) =>
    c.status === undefined
      ? `${c.method} ${c.path} -> failed: ${c.failure}`
      : `${c.method} ${c.path} -> HTTP ${c.status}, grpc-status ${c.responseHeaders["grpc-status"] ?? "in the trailer frame"}`,
  );
  console.log(`# page ${ALLOWED_ORIGIN}, server ${SERVER}, Chromium ${context.browser()?.version() ?? "?"}`);
  for (const line of summary) console.log(`#   ${line}`);
  assert.equal(flow.result.pageError, undefined, `the page failed: ${flow.result.pageError}; console: ${show(flow.console)}`);
});

after(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

test("Register over grpc-web returns the new user", () => {
  const user = ok(flow.result.register, "Register");
  assert.equal(user.email, EMAIL);
  assert.match(user.id, /^[0-9a-f-]{36}$/);
  assert.equal(user.firstName, "Browser");
  assert.equal(user.isActive, true);
  assert.equal(user.isSuperuser ?? false, false);
});

test("Login over grpc-web returns a bearer access token for that user", () => {
  const user = ok(flow.result.register, "Register");
  const token = ok(flow.result.login, "Login");
  assert.equal(token.tokenType, "bearer");
  assert.match(token.accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/, "access token is a JWT");
  assert.ok(token.expiresIn > 0, `expiresIn ${token.expiresIn}`);
  assert.equal(token.user?.id, user.id);
  assert.equal(token.user?.email, EMAIL);
});

test("GetMe over grpc-web with the bearer token returns the same user", () => {
  const user = ok(flow.result.register, "Register");
  const me = ok(flow.result.me, "GetMe");
  assert.equal(me.id, user.id);
  assert.equal(me.email, EMAIL);
  const getMe = flow.calls.find((c) => c.path === "/identity.v1.UserService/GetMe");
  assert.ok(getMe, "the browser sent no GetMe request");
  assert.match(getMe.requestHeaders.authorization ?? "", /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
});

test("a wrong password surfaces as ConnectError Unauthenticated with ErrorInfo AUTH_001", () => {
  const outcome = flow.result.wrongPassword;
  assert.equal(outcome?.ok, false, `Login with a wrong password did not fail: ${show(outcome)}`);
  // Code, message and details come from grpc-status, grpc-message and
  // grpc-status-details-bin: readable cross-origin only if the server exposes them.
  assert.equal(outcome.error.code, "Unauthenticated", show(outcome.error));
  assert.equal(outcome.error.rawMessage, "Invalid email or password");
  assert.equal(outcome.error.reason, "AUTH_001", `ErrorInfo missing or wrong: ${show(outcome.error)}`);
  assert.equal(outcome.error.domain, "identityd");
});

test("the calls crossed origins as grpc-web: preflights allowed, CORS headers on every answer", () => {
  assert.notEqual(new URL(SERVER).origin, ALLOWED_ORIGIN, "page and server must be different origins");
  const paths = flow.calls.map((c) => `${c.method} ${c.path}`);
  for (const expected of [
    "POST /identity.v1.AuthService/Register",
    "POST /identity.v1.AuthService/Login",
    "POST /identity.v1.UserService/GetMe",
  ]) {
    assert.ok(paths.includes(expected), `no ${expected} among ${show(paths)}`);
  }
  for (const call of flow.calls) {
    const where = `${call.method} ${call.path}`;
    assert.equal(call.failure, undefined, `${where} failed: ${call.failure}`);
    assert.equal(call.requestHeaders.origin, ALLOWED_ORIGIN, `${where}: Origin`);
    assert.match(call.requestHeaders["content-type"] ?? "", /^application\/grpc-web/, `${where}: request content-type`);
    assert.equal(call.requestHeaders["x-grpc-web"], "1", `${where}: x-grpc-web`);
    assert.match(call.requestHeaders["x-user-agent"] ?? "", /^connect-es\//, `${where}: x-user-agent`);
    assert.ok(call.requestHeaders["grpc-timeout"], `${where}: grpc-timeout`);
    assert.equal(call.status, 200, `${where}: HTTP status`);
    assert.match(call.responseHeaders["content-type"] ?? "", /^application\/grpc-web/, `${where}: response content-type`);
    assert.equal(call.responseHeaders["access-control-allow-origin"], ALLOWED_ORIGIN, `${where}: ${show(call.responseHeaders)}`);
    const exposed = (call.responseHeaders["access-control-expose-headers"] ?? "").toLowerCase().split(/\s*,\s*/);
    for (const name of ["grpc-status", "grpc-message", "grpc-status-details-bin"]) {
      assert.ok(exposed.includes(name), `${where}: ${name} is not in Access-Control-Expose-Headers: ${show(call.responseHeaders)}`);
    }
  }
  // A fresh profile has no preflight cache: the first call to each path was preflighted.
  assert.ok(flow.preflights.length >= 3, `expected a preflight per method, saw ${show(flow.preflights)}`);
  for (const preflight of flow.preflights) {
    const where = `OPTIONS ${new URL(preflight.url).pathname}`;
    assert.equal(preflight.status, 200, `${where}: ${show(preflight)}`);
    assert.equal(preflight.requestHeaders.origin, ALLOWED_ORIGIN, `${where}: Origin`);
    assert.equal(preflight.responseHeaders["access-control-allow-origin"], ALLOWED_ORIGIN, `${where}: ${show(preflight)}`);
    const asked = (preflight.requestHeaders["access-control-request-headers"] ?? "").toLowerCase().split(",");
    for (const name of ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"]) {
      assert.ok(asked.includes(name), `${where}: the browser did not ask for ${name}: ${show(preflight)}`);
    }
  }
  const getMePreflight = flow.preflights.find((p) => p.url.endsWith("/identity.v1.UserService/GetMe"));
  assert.ok(getMePreflight, "GetMe was not preflighted");
  assert.ok(getMePreflight.requestHeaders["access-control-request-headers"].toLowerCase().split(",").includes("authorization"));
  assert.deepEqual(flow.corsErrors, [], "the browser reported CORS errors");
});

test("a page from an origin outside BACKEND_CORS_ORIGINS cannot call GetMe", async () => {
  const token = ok(flow.result.login, "Login (needed for this case)").accessToken;
  const fragment = new URLSearchParams({ token });
  const query = new URLSearchParams({ server: SERVER, mode: "getme" });

  // Control: the same token and page work from the allowed origin.
  const allowed = await runPage(`${ALLOWED_ORIGIN}/?${query}#${fragment}`);
  assert.equal(ok(allowed.result.me, "GetMe from the allowed origin").email, EMAIL);

  const other = await runPage(`${OTHER_ORIGIN}/?${query}#${fragment}`);
  assert.equal(other.result.pageOrigin, OTHER_ORIGIN);
  const me = other.result.me;
  assert.equal(me?.ok, false, `GetMe from ${OTHER_ORIGIN} succeeded: ${show(me)}`);
  // The browser blocks the call: fetch() rejects and connect-web reports Unknown.
  assert.equal(me.error.code, "Unknown", show(me.error));
  assert.match(me.error.rawMessage, /Failed to fetch/);
  const call = other.calls.find((c) => c.path === "/identity.v1.UserService/GetMe");
  assert.ok(call, "the page did not even try GetMe");
  assert.equal(call.status, undefined, `the GetMe answer reached the page: ${show(call)}`);
  assert.ok(call.failure, "the GetMe request did not fail");
  const preflight = other.preflights.find((p) => p.url.endsWith("/identity.v1.UserService/GetMe"));
  assert.ok(preflight, `no preflight from ${OTHER_ORIGIN}`);
  assert.equal(preflight.requestHeaders.origin, OTHER_ORIGIN);
  assert.equal(preflight.status, 400, show(preflight));
  assert.equal(preflight.responseHeaders["access-control-allow-origin"], undefined, show(preflight));
  assert.ok(other.corsErrors.length > 0, `Chromium reported no CORS error; console: ${show(other.console)}`);
  assert.ok(
    other.console.some((line) => line.includes("blocked by CORS policy")),
    `no CORS message on the console: ${show(other.console)}`,
  );
});
