// The console in a real browser: Debian's headless Chromium driven through
// the DevTools protocol by puppeteer-core. Run by
// tests/python/test_console_browser.py, which starts the gateway (paper
// broker, a Unix socket, the HTTP listener on loopback) and passes:
//   CONSOLE_URL, SOCKET_PATH, ADMIN_TOKEN, VIEWER_TOKEN, BOT_TOKEN,
//   SCREENSHOT (where to save the picture), CHROMIUM (the browser binary),
//   CLUSTER_MEMBER (optional: the member's name; its panel is then checked).
// Exits 0 when every step passed; prints the failed step otherwise.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const CONSOLE_URL = env('CONSOLE_URL');
const SOCKET_PATH = env('SOCKET_PATH');
const ADMIN_TOKEN = env('ADMIN_TOKEN');
const VIEWER_TOKEN = env('VIEWER_TOKEN');
const BOT_TOKEN = env('BOT_TOKEN');
const SCREENSHOT = env('SCREENSHOT');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Set when the gateway is a cluster member of that name with shared budgets.
const CLUSTER_MEMBER = process.env.CLUSTER_MEMBER || '';
const STEP_TIMEOUT = 20000;

// A strategy on the Unix socket: newline-delimited JSON.
class SocketClient {
  constructor(socketPath) {
    this.socket = net.createConnection(socketPath);
    this.buffer = '';
    this.waiting = new Map();
    this.reports = [];
    this.nextId = 1;
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk) => {
      this.buffer += chunk;
      let end;
      while ((end = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 1);
        if (!line) continue;
        const message = JSON.parse(line);
        if (message.id !== undefined && this.waiting.has(message.id)) {
          this.waiting.get(message.id)(message);
          this.waiting.delete(message.id);
        } else {
          this.reports.push(message);
        }
      }
    });
  }
  ready() {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }
  request(fields) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${fields.op} within ${STEP_TIMEOUT} ms`)), STEP_TIMEOUT);
      this.waiting.set(id, (message) => { clearTimeout(timer); resolve(message); });
      this.socket.write(JSON.stringify({ ...fields, id }) + '\n');
    });
  }
  submit(clOrdId) {
    return this.request({ op: 'submit', cl_ord_id: clOrdId, account: 'paper', symbol: 'EUR/USD', side: 'buy',
      type: 'market', tif: 'ioc', qty: '1000' });
  }
  close() { this.socket.end(); }
}

let step = 'start';
const requests = [];
const problems = [];

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'og-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    // Root in CI: Chromium's sandbox needs an unprivileged user.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--metrics-recording-only',
      '--window-size=1280,1100'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1100 });
    page.setDefaultTimeout(STEP_TIMEOUT);
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused to/.test(message.text())) {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(String(error)));

    step = 'the login form shows';
    await page.goto(CONSOLE_URL, { waitUntil: 'load' });
    await page.waitForSelector('#login-panel:not([hidden])');

    step = 'a wrong token is refused';
    await page.type('#token', 'not-a-token-' + 'x'.repeat(32));
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent.startsWith('Refused'));
    assert.equal(await page.$eval('#console', (element) => element.hidden), true);

    step = 'an admin logs in';
    await page.type('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#whoami').textContent === 'ops (admin)');
    await page.waitForFunction(() => document.querySelector('#live').textContent === 'live');
    assert.equal(await page.$eval('#token', (element) => element.value), '', 'the token field is cleared');
    const cookies = await page.cookies();
    const session = cookies.find((cookie) => cookie.name === 'ordergate_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the cookie is out of reach of scripts');

    if (CLUSTER_MEMBER) {
      step = 'the cluster panel shows the member and its budget leases';
      await page.waitForSelector('#cluster-panel:not([hidden])');
      await page.waitForFunction((name) => document.querySelector('#cluster').textContent
        .startsWith('Member ' + name + ': connected'), {}, CLUSTER_MEMBER);
      await page.waitForFunction(() => [...document.querySelectorAll('#leases tbody tr')]
        .some((tr) => tr.cells[0].textContent === 'paper' && tr.cells[1].textContent === '100/1000ms' &&
          Number(tr.cells[2].textContent) > 0));
      step = 'the cluster panel shows the member\'s exposure leases';
      await page.waitForFunction(() => [...document.querySelectorAll('#exposure-leases tbody tr')]
        .some((tr) => tr.cells[0].textContent === 'paper' && tr.cells[1].textContent === 'position EUR/USD' &&
          tr.cells[2].textContent === '0' && Number(tr.cells[3].textContent) > 0 &&
          Number(tr.cells[3].textContent) <= Number(tr.cells[4].textContent)));
    } else {
      step = 'no cluster panel without a cluster';
      assert.equal(await page.$eval('#cluster-panel', (element) => element.hidden), true);
    }

    step = 'an order over the socket shows as a position';
    const bot = new SocketClient(SOCKET_PATH);
    await bot.ready();
    const welcome = await bot.request({ op: 'hello', token: BOT_TOKEN });
    assert.equal(welcome.type, 'welcome', JSON.stringify(welcome));
    const first = await bot.submit('web-1');
    assert.equal(first.type, 'accepted', JSON.stringify(first));
    await page.waitForFunction(() => [...document.querySelectorAll('#accounts td.position')]
      .some((cell) => Number(cell.textContent) === 1000));
    await page.waitForFunction(() => [...document.querySelectorAll('#executions td')]
      .some((cell) => cell.textContent === 'web-1'));

    const stateButton = async (scope, action) => {
      const handle = await page.evaluateHandle((wanted, label) => {
        const row = [...document.querySelectorAll('#states tbody tr')].find((tr) => tr.cells[0].textContent === wanted);
        return row ? row.querySelector(`button[data-action="${label}"]`) : null;
      }, scope, action);
      const element = handle.asElement();
      assert.ok(element, `a ${action} button for ${scope}`);
      return element;
    };
    const stateOf = (scope) => page.evaluate((wanted) => {
      const row = [...document.querySelectorAll('#states tbody tr')].find((tr) => tr.cells[0].textContent === wanted);
      return row ? row.cells[1].textContent : null;
    }, scope);

    step = 'HALT asks for confirmation and Cancel changes nothing';
    await (await stateButton('account:paper', 'HALT')).click();
    await page.waitForSelector('#confirm[open]');
    assert.match(await page.$eval('#confirm-text', (element) => element.textContent), /Halt account:paper/);
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm:not([open])');
    assert.equal(await stateOf('account:paper'), 'ACTIVE');

    step = 'HALT confirmed halts the account';
    await (await stateButton('account:paper', 'HALT')).click();
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitForFunction(() => [...document.querySelectorAll('#states tbody tr')]
      .some((tr) => tr.cells[0].textContent === 'account:paper' && tr.cells[1].textContent === 'HALTED'));

    step = 'an order over the socket is answered TRADING_HALTED';
    const halted = await bot.submit('web-2');
    assert.equal(halted.type, 'rejected', JSON.stringify(halted));
    assert.equal(halted.reason, 'TRADING_HALTED');
    await page.waitForFunction(() => [...document.querySelectorAll('#rejections td')]
      .some((cell) => cell.textContent === 'TRADING_HALTED'));

    step = 'the screenshot';
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    step = 'RESUME confirmed lets orders pass again';
    await (await stateButton('account:paper', 'RESUME')).click();
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitForFunction(() => [...document.querySelectorAll('#states tbody tr')]
      .some((tr) => tr.cells[0].textContent === 'account:paper' && tr.cells[1].textContent === 'ACTIVE'));
    const resumed = await bot.submit('web-3');
    assert.equal(resumed.type, 'accepted', JSON.stringify(resumed));

    step = 'a state-changing POST without the CSRF token is refused';
    const refused = await page.evaluate(async () => {
      const response = await fetch('/api/trading-state', {
        method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ scope: 'global', state: 'halted' }),
      });
      return { status: response.status, body: await response.json() };
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'CSRF_TOKEN_MISSING');
    const globalState = await page.evaluate(async () => (await (await fetch('/api/state')).json()).trading_states[0]);
    assert.deepEqual(globalState, { scope: 'global', state: 'active' });

    step = 'no token in the page';
    const html = await page.content();
    for (const token of [ADMIN_TOKEN, VIEWER_TOKEN, BOT_TOKEN]) assert.ok(!html.includes(token), 'a token in the page');

    step = 'logout ends the session';
    await page.click('#logout');
    await page.waitForSelector('#login-panel:not([hidden])');
    const afterLogout = await page.evaluate(async () => (await fetch('/api/state')).status);
    assert.equal(afterLogout, 401);

    step = 'a read-only principal sees everything and no enabled action';
    await page.type('#token', VIEWER_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#whoami').textContent === 'viewer (read only)');
    await page.waitForFunction(() => [...document.querySelectorAll('#accounts td.position')]
      .some((cell) => Number(cell.textContent) === 2000));
    const buttons = await page.$$eval('#console button[data-action]', (all) => all.map((b) => b.disabled));
    assert.ok(buttons.length >= 6, `action buttons are shown (${buttons.length})`);
    assert.ok(buttons.every((disabled) => disabled), 'every action button is disabled');

    bot.close();

    step = 'only the gateway was asked for anything, and nothing was refused by the policy';
    const origin = new URL(CONSOLE_URL).origin;
    const elsewhere = requests.filter((url) => !url.startsWith(origin + '/'));
    assert.deepEqual(elsewhere, [], 'requests to elsewhere');
    assert.deepEqual(problems, [], 'page errors or policy violations');
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => {
  console.log(`console browser test passed (${requests.length} requests, screenshot ${SCREENSHOT})`);
  process.exit(0);
}, (error) => {
  console.error(`console browser test failed at step "${step}": ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
