// Opens the sluice dashboard in Debian's headless Chromium while an alert is
// going out, checks that the counts move and that the page works from the
// keyboard, that the drill-down lists who did not get it, and saves a
// screenshot. Prints one JSON line for the caller.
// Also: an alert with a hostile body shows it as text and runs nothing; the
// page fits a phone's width (a second screenshot).
// usage: node dashboard.mjs URL SCREENSHOT.png HOSTILE_BODY
import { openPage } from "./browser.mjs";

const [url, screenshot, hostile] = process.argv.slice(2);
const { browser, page, errors } = await openPage();
try {
  await page.goto(url);
  await page.waitForSelector("#alerts button", { timeout: 10000 });
  const hostileShown = (await page.$eval("#alerts", (e) => e.textContent)).includes(hostile);
  // From the keyboard: past the page links (Alerts, Pipelines, Dead letters) to the first alert.
  const tabOrder = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("Tab");
    tabOrder.push(await page.evaluate(() => document.activeElement?.dataset?.id || document.activeElement?.textContent || ""));
  }
  const focused = tabOrder[3];
  await page.click("#alerts button:has-text('Emergency drill')");
  await page.waitForFunction(() => document.querySelector("#detail-title").textContent.includes("Emergency drill"));
  const sentSelector = "#numbers div:nth-child(2) b";
  await page.waitForSelector(sentSelector);
  const read = () => page.$eval(sentSelector, (b) => Number(b.textContent.replace(/,/g, "")));
  const first = await read();
  await page.waitForFunction(
    ([sel, before]) => Number(document.querySelector(sel).textContent.replace(/,/g, "")) > before,
    [sentSelector, first], { timeout: 15000 });
  const second = await read();
  const funnel = await page.$$eval("#funnel output", (os) => os.map((o) => o.textContent));
  const funnelNames = await page.$$eval("#funnel span", (ss) => ss.map((x) => x.textContent));
  const badge = await page.$eval("#detail-title .badge", (b) => b.textContent);
  // The drill-down lists who did not get it (provider-sim fails about 5%).
  await page.waitForFunction(
    () => [...document.querySelectorAll("#missed td")].some((td) => td.textContent.startsWith("+")), null,
    { timeout: 20000 });
  const missed = await page.$$eval("#missed tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-phone.png"), fullPage: true });
  console.log(JSON.stringify({ first, second, focused, tabOrder, funnel, funnelNames, badge, missed, hostileShown, phoneOverflow,
                               errors, title: await page.title() }));
} finally {
  await browser.close();
}
