// Opens the dashboard's Dead letters page in Debian's headless Chromium,
// reads the refused messages and their reasons, requeues one with its
// button, looks at the Pipelines page, and saves a screenshot (and checks
// the page fits a phone's width). Prints one JSON line for the caller.
// usage: node dead_letters.mjs URL SCREENSHOT.png TOKEN
import { openPage } from "./browser.mjs";

const [url, screenshot, token] = process.argv.slice(2);
const { browser, page, errors } = await openPage();
try {
  // The token as the page keeps it once asked, so no prompt opens.
  await page.addInitScript((t) => sessionStorage.setItem("sluice-token", t), token);
  await page.goto(url + "#dead-letters");
  await page.waitForSelector("#dead button[data-act=requeue]", { timeout: 10000 });
  const queues = await page.$$eval("#dead-queues button", (bs) => bs.map((b) => b.textContent.trim()));
  const visiblePages = await page.$$eval("main", (ms) => ms.filter((m) => m.offsetParent !== null || m.getClientRects().length).map((m) => m.id));
  const rows = await page.$$eval("#dead tr", (trs) => trs.map((r) => [...r.cells].map((c) => c.textContent)));
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.click("#dead button[data-act=requeue]");
  await page.waitForFunction(() => document.querySelector("#dead-action").textContent.length > 0, null, { timeout: 10000 });
  const action = await page.$eval("#dead-action", (p) => p.textContent);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.click("#nav-pipelines");
  await page.waitForFunction(() => document.querySelectorAll("#pipelines tr td").length > 1, null, { timeout: 10000 });
  const pipelines = await page.$$eval("#pipelines tr", (trs) => trs.length);
  console.log(JSON.stringify({ queues, visiblePages, rows, action, pipelines, phoneOverflow, errors }));
} finally {
  await browser.close();
}
