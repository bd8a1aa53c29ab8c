// A person in a real browser: Debian's Chromium, headless, driven by playwright-core, at the
// authorization server's pages (runtime/tests/browser.rs starts the server and the client's
// callback). For each viewport (desktop 1280x800, phone 390x844), in a fresh browser profile:
//   1. opens the authorization URL: the sign-in page (screenshot);
//   2. signs in with a wrong password: the page again with the error (screenshot);
//   3. signs in with the right one and allows, using the keyboard only: the browser lands on the
//      client's callback with a code;
//   4. opens the authorization URL with prompt=consent: the consent page, signed in
//      (screenshot), allows by mouse: a second code;
//   5. opens an authorization URL with an unknown client: the error page (screenshot).
//
//   node browser.mjs CONFIG_JSON
//
// CONFIG_JSON: {"chromium": PATH, "authorize": URL, "consent": URL, "error": URL,
//               "callback": URL_PREFIX, "password": STRING, "out": DIR}
// Prints one line `RESULT {json}` (the callback URLs reached, the screenshots written) and exits
// 0; any failure exits non-zero. playwright-core is loaded from tests/clients/.deps/npm
// (tests/clients/install.sh), or from $MCPGEN_CLIENT_NPM.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const npmDir = process.env.MCPGEN_CLIENT_NPM
  ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '.deps', 'npm');
const require = createRequire(path.join(npmDir, 'package.json'));
const { chromium } = require('playwright-core');

const cfg = JSON.parse(process.argv[2]);
const viewports = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
};

const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  // Containers often run as root without user namespaces.
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const result = { callbacks: [], screenshots: [], console: [] };
try {
  for (const [name, options] of Object.entries(viewports)) {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    try {
    // Every console message but the statuses the pages answer with on purpose (401 for a
    // wrong password or an unknown client, 404 for /favicon.ico): a CSP violation shows here.
    page.on('console', (m) => {
      if (!m.text().startsWith('Failed to load resource: the server responded with a status of')) {
        result.console.push(`${name}: ${m.type()}: ${m.text()}`);
      }
    });
    const shot = async (what) => {
      const file = path.join(cfg.out, `${what}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      result.screenshots.push(file);
    };
    const landed = async () => {
      await page.waitForURL((u) => u.href.startsWith(cfg.callback), { timeout: 15000 });
      result.callbacks.push(page.url());
    };

    // 1. The sign-in page.
    const first = await page.goto(cfg.authorize);
    if (first.status() !== 200) throw new Error(`sign-in page: status ${first.status()}`);
    await shot('sign-in');

    // 2. A wrong password: the page again, the error in the alert region.
    await page.getByLabel('Server password').fill('not the password');
    await Promise.all([
      page.waitForNavigation(),
      page.getByRole('button', { name: 'Sign in and allow' }).click(),
    ]);
    await page.waitForLoadState('load');
    const alert = (await page.getByRole('alert').innerText()).trim();
    if (!alert.startsWith('Wrong password')) throw new Error(`alert says ${JSON.stringify(alert)}`);
    await shot('sign-in-error');

    // 3. The keyboard only: the password field has focus, Enter submits with the first
    //    (default) button, Allow.
    const focused = await page.evaluate(() => document.activeElement?.id);
    if (focused !== 'password') throw new Error(`focus is on ${JSON.stringify(focused)}, not the password field`);
    await page.keyboard.type(cfg.password);
    await page.keyboard.press('Enter');
    await landed();

    // 4. The consent page, signed in.
    const again = await page.goto(cfg.consent);
    if (again.status() !== 200) throw new Error(`consent page: status ${again.status()}`);
    if (await page.getByLabel('Server password').count() !== 0) throw new Error('signed in, yet asked for the password');
    await page.getByText('Signed in as').waitFor();
    await shot('consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await landed();

    // 5. The error page.
    const error = await page.goto(cfg.error);
    if (error.status() < 400) throw new Error(`error page: status ${error.status()}`);
    await page.getByRole('alert').waitFor();
    await shot('error');

    } catch (e) {
      // What the browser showed when it went wrong, for the test's failure message.
      await page.screenshot({ path: path.join(cfg.out, `failure-${name}.png`), fullPage: true }).catch(() => {});
      console.error(`at ${page.url()}:\n${await page.content().catch(() => '')}`);
      throw e;
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(`RESULT ${JSON.stringify(result)}`);
