// Drives Debian's Chromium (headless, JavaScript disabled) through the entry
// page the way a person does: open the link, read what it asks, edit the
// allowed hosts, type the key, press "Store key", see the confirmation.
//
// usage: node entry.mjs URL VALUE HOSTS SCREENSHOT_DIR
// Prints one JSON line: what the page showed and what the browser sent.
import { chromium } from "playwright-core";

const [url, value, hosts, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const report = {};
try {
  // The page needs no JavaScript: run it with JavaScript off.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  // The headers Chromium's network stack really sent (Origin, Sec-Fetch-Site).
  let sent = null;
  page.on("request", (r) => {
    if (r.method() === "POST") sent = r.allHeaders();
  });
  const first = await page.goto(url);
  report.getStatus = first.status();
  report.csp = first.headers()["content-security-policy"];
  report.title = await page.title();
  report.proposed = await page.inputValue("#allowed_hosts");
  await page.screenshot({ path: `${shots}/entry-form.png`, fullPage: true });
  await page.fill("#allowed_hosts", hosts.replaceAll(",", "\n"));
  await page.fill("#value", value);
  const [answer] = await Promise.all([
    page.waitForNavigation(),
    page.click("button[value=store]"),
  ]);
  report.postStatus = answer.status();
  const h = await sent;
  report.post = { origin: h["origin"] ?? null, secFetchSite: h["sec-fetch-site"] ?? null };
  report.confirmation = (await page.textContent("h1")).trim();
  report.mayGoTo = (await page.textContent("dl:last-of-type dd")).trim();
  await page.screenshot({ path: `${shots}/entry-stored.png`, fullPage: true });
  // Back to the link: it is used up.
  const again = await page.goto(url);
  report.againStatus = again.status();
  report.againText = (await page.textContent(".error")).trim();
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
