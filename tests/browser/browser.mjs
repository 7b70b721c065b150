// What every browser test shares: Debian's headless Chromium, offline, and a
// desktop-sized page that records every script error, console error and
// dialog (a dialog is an error: the page must never need one in a test).
import { chromium } from "playwright-core";

export async function openPage() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    // The machine is offline: no background connections to Google's hosts.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1366, height: 860 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("dialog", async (d) => { errors.push("a dialog opened: " + d.message()); await d.dismiss(); });
  return { browser, page, errors };
}
