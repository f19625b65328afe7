// Firefox over WebDriver BiDi, for internal/browsertest: open one page and
// wait until it sets window.c1mResult.
//
//	node firefox.mjs /usr/bin/firefox-esr http://127.0.0.1:PORT/page 30000
//
// Prints one JSON object on stdout and exits 0 when the page set its
// verdict within the time given (milliseconds, launch included):
//
//	{"browser": "firefox/153.8.0", "json": "<JSON.stringify(window.c1mResult)>",
//	 "console": ["error: ...", "uncaught: ...", ...]}
//
// "json" is null when the value cannot be stringified. Otherwise it prints
// {"error": "...", "timedOut": true|false, "browser": ..., "console": [...]}
// and exits 1. The console lines are the page's console errors and
// warnings and its uncaught exceptions, in order.
//
// The browser is closed on every way out: puppeteer runs Firefox as the
// leader of its own process group and kills that group when this process
// exits, and closes it on SIGTERM (the Go side's cancel), after which this
// script reports and exits. The first line on stderr, "c1m-firefox-pid N",
// lets the Go side kill that group if this process is itself killed.
// Nothing here downloads a browser: puppeteer-core never does, and the
// executable is the one given.
import puppeteer from "puppeteer-core";

const [executablePath, url, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg);
// How often the page is asked for its verdict: a verdict is seen at most
// this late.
const pollMs = 50;
// Bounds closing the browser; past it, exiting kills Firefox's group anyway.
const closeMs = 3_000;

const out = { console: [] };
let browser;
let phase = "launching firefox";
let code = 1;
try {
  if (!executablePath || !url || !(timeoutMs > 0)) {
    throw new Error("usage: node firefox.mjs EXECUTABLE URL TIMEOUT_MS");
  }
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  browser = await puppeteer.launch({
    browser: "firefox",
    protocol: "webDriverBiDi",
    executablePath,
    headless: true,
    timeout: left(),
    protocolTimeout: left(),
    // No update checks, telemetry or captive-portal probes: nothing but the
    // page's own traffic.
    extraPrefsFirefox: {
      "app.update.enabled": false,
      "browser.shell.checkDefaultBrowser": false,
      "datareporting.policy.dataSubmissionEnabled": false,
      "network.captive-portal-service.enabled": false,
      "network.connectivity-service.enabled": false,
      "toolkit.telemetry.enabled": false,
    },
  });
  process.stderr.write(`c1m-firefox-pid ${browser.process()?.pid ?? 0}\n`);
  out.browser = await browser.version();
  const page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warn") out.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => out.console.push(`uncaught: ${e?.message ?? e}`));
  phase = "loading the page";
  await page.goto(url, { waitUntil: "load", timeout: left() });
  phase = "waiting for window.c1mResult";
  await page.waitForFunction("window.c1mResult !== undefined", { polling: pollMs, timeout: left() });
  out.json = await page.evaluate("JSON.stringify(window.c1mResult) ?? null");
  code = 0;
} catch (e) {
  out.error = `${phase}: ${e?.message ?? e}`;
  out.timedOut = e?.name === "TimeoutError";
} finally {
  if (browser) {
    await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, closeMs))]);
  }
}
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(code));
