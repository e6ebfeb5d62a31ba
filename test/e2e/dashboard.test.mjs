// The admin dashboard in a real headless browser (Debian's chromium, driven by playwright-core):
// served by a `skiff proxy` process (the bundled command a pod runs), it loads with no console
// errors and no request off the loopback, and shows the figures of the traffic this test sent,
// with both charts drawn.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { spawnProxy } from '../helpers/proxy-process.mjs';
import { ConfigDir, serviceYaml, sliceYaml, statusOf } from '../helpers/mesh.mjs';

const WEB = 'web.default.svc.cluster.local:80';
let app, config, proxy, browser;

test.before(async () => {
  app = http.createServer((req, res) => {
    if (req.url === '/fail') { res.writeHead(503); res.end('down'); return; }
    res.end('ok');
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  config = new ConfigDir();
  config.write('web.yaml', `${serviceYaml('web', 80)}---\n${sliceYaml('web', [{ port: app.address().port }], { meshed: false })}`);
  proxy = await spawnProxy(['--app', '127.0.0.1:1', '--config', config.dir]);
  // flags: no sandbox (root in a container); no background calls home (the network is closed).
  // playwright gives the browser a fresh profile of its own.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  });
});

test.after(async () => {
  await browser?.close();
  await proxy?.stop();
  app.close();
  config.remove();
});

const get = (path) => statusOf(proxy.outbound, WEB, path);

test('the dashboard shows the traffic sent, with charts, offline and without console errors', async () => {
  for (let i = 0; i < 17; i++) assert.is(await get('/ok'), 200);
  for (let i = 0; i < 3; i++) assert.is(await get('/fail'), 503);

  const page = await browser.newPage();
  const problems = [];
  const offLoopback = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  // offline: anything not from the proxy itself is recorded and refused
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' && u.port === String(proxy.admin)) return route.continue();
    offLoopback.push(u.href);
    return route.abort();
  });
  const res = await page.goto(`http://127.0.0.1:${proxy.admin}/dashboard`, { timeout: 30_000 });
  assert.is(res.status(), 200);
  assert.is(await page.title(), 'Skiff proxy');

  // the routes table: the figures of the traffic above
  const row = page.locator('#routes tbody tr', { hasText: WEB });
  await row.waitFor({ timeout: 15_000 });
  const cells = await row.locator('td').allTextContents();
  assert.equal([cells[0], cells[1], cells[2], cells[7]], ['outbound', WEB, '85.0%', '20']);
  assert.is(await row.locator('td').nth(2).getAttribute('class'), 'bad', 'a success rate under 95% stands out');
  assert.match(cells[4], /^\d+(\.\d+)?$/, 'p50 in ms');
  const peer = page.locator('#peers tbody tr', { hasText: `127.0.0.1:${app.address().port}` });
  await peer.waitFor({ timeout: 15_000 });
  assert.is((await peer.locator('td').allTextContents())[7], '20');

  // the charts fill in from successive readings: keep traffic flowing until both have a line (bounded)
  let drawn = false;
  for (let i = 0; i < 300 && !drawn; i++) {
    await get(i % 4 === 0 ? '/fail' : '/ok');
    await new Promise((r) => setTimeout(r, 20));
    drawn = (await page.locator('#sr polyline').count()) > 0 && (await page.locator('#lat polyline').count()) === 3;
  }
  assert.ok(drawn, 'success-rate and latency (p50, p95, p99) lines drawn');
  assert.match(await page.locator('#sr-legend').textContent(), /outbound/);
  assert.match(await page.locator('#status').textContent(), /^updated .* · up \d+ s$/);
  const total = Number((await row.locator('td').allTextContents())[7]);
  assert.ok(total > 20, 'the table keeps up with new traffic');

  assert.equal(problems, []);
  assert.equal(offLoopback, [], 'nothing fetched from anywhere but the proxy');
  await page.close();
});

test('the dashboard says so when the proxy cannot be read', async () => {
  const page = await browser.newPage();
  await page.route('**/stats.json', (route) => route.fulfill({ status: 503, body: 'no' }));
  await page.goto(`http://127.0.0.1:${proxy.admin}/dashboard`, { timeout: 30_000 });
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('cannot read'), null, { timeout: 15_000 });
  assert.match(await page.locator('#status').textContent(), /cannot read the proxy: stats\.json: 503/);
  await page.close();
});

test.run();
