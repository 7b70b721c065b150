// A page on another loopback origin tries to create an alert through the
// admin API, as a malicious site could while an operator browses: by
// no-cors fetch and by a text/plain form (which can carry a JSON-looking
// body). The test then asks sluice whether any alert exists.
// usage: node cross_site.mjs EVIL_PAGE_URL ADMIN_URL
import { openPage } from "./browser.mjs";

const [evil, admin] = process.argv.slice(2);
const { browser, page } = await openPage();
try {
  await page.goto(evil);
  await page.waitForFunction(() => document.title === "fetched", null, { timeout: 15000 });
  const answer = page.waitForResponse((r) => r.url().startsWith(admin + "/api/alerts"), { timeout: 15000 });
  await page.evaluate(() => document.forms[0].submit());
  console.log(JSON.stringify({ form_status: (await answer).status() }));
} finally {
  await browser.close();
}
