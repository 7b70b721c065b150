// Opens the sluice dashboard in Debian's headless Chromium while an alert is
// going out, checks that the counts move and that the page works from the
// keyboard, that the drill-down lists who did not get it, and saves a
// screenshot. Prints one JSON line for the caller.
// usage: node dashboard.mjs URL SCREENSHOT.png
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  // The machine is offline: no background connections to Google's hosts.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 860 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url);
  await page.waitForSelector("#alerts button", { timeout: 10000 });
  const sentSelector = "#numbers div:nth-child(2) b";
  await page.waitForSelector(sentSelector);
  const read = () => page.$eval(sentSelector, (b) => Number(b.textContent.replace(/,/g, "")));
  const first = await read();
  await page.waitForFunction(
    ([sel, before]) => Number(document.querySelector(sel).textContent.replace(/,/g, "")) > before,
    [sentSelector, first], { timeout: 15000 });
  const second = await read();
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.dataset?.id ?? "");
  const funnel = await page.$$eval("#funnel output", (os) => os.map((o) => o.textContent));
  // The drill-down lists who did not get it (provider-sim fails about 5%).
  await page.waitForFunction(
    () => [...document.querySelectorAll("#missed td")].some((td) => td.textContent.startsWith("+")), null,
    { timeout: 20000 });
  const missed = await page.$$eval("#missed tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ first, second, focused, funnel, missed, errors, title: await page.title() }));
} finally {
  await browser.close();
}
