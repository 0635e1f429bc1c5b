#!/usr/bin/env node
// Drives mpe serve's web page in headless Chromium as a person would: opens it with the
// token in the fragment, chooses a file in the file input (uploads throttled, so the
// progress bar is seen moving), waits for the asset's row to reach COMPLETE, opens its
// player, sees playback advance, switches rendition by the rendition menu and hovers the
// seek bar for a trick-play tile. Prints ONE
// JSON line of what it saw on stdout; exit 0 when every step ran, 1 otherwise.
//
//   node tests/player/web.mjs --base URL --token TOKEN --file PATH [--timeout 300]
//        [--chromium /usr/bin/chromium] [--resume]
//
// With --resume it checks a multipart upload instead: the last part is held in the
// browser while the others land, the page is closed, the file chosen again in a new
// page of the same browser, and every part PUT that S3 answered is counted.
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    token: { type: 'string' },
    file: { type: 'string' },
    timeout: { type: 'string', default: '300' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    resume: { type: 'boolean', default: false },
  },
});
const seen = { steps: [] };
const step = (s) => { seen.steps.push(s); console.error(`[web] ${s}`); };
const timeout = Number(args.timeout) * 1000;
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: args.chromium,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
});
let code = 1;

async function resume() {
  const context = await browser.newContext();
  context.setDefaultTimeout(timeout);
  const answered = {};
  context.on('response', (r) => {
    const u = new URL(r.url());
    const n = u.searchParams.get('partNumber');
    if (r.request().method() === 'PUT' && n && r.status() === 200) answered[n] = (answered[n] || 0) + 1;
  });
  const first = await context.newPage();
  await first.goto(`${args.base}/#token=${encodeURIComponent(args.token)}`);
  await first.waitForFunction(() => document.querySelector('#token-state').textContent === 'token accepted');
  // How many parts there are, from the API's answer (before any is sent).
  let known;
  const partsKnown = new Promise((resolve) => { known = resolve; });
  first.on('response', async (r) => {
    if (r.url().endsWith('/api/uploads') && r.status() === 201) {
      seen.parts = (await r.json()).parts.length;
      known();
    }
  });
  await first.route(/partNumber=/, async (route) => {
    const n = Number(new URL(route.request().url()).searchParams.get('partNumber'));
    await partsKnown;
    // The last part never leaves the first page.
    if (n !== seen.parts) route.continue();
  });
  await first.setInputFiles('#files', args.file);
  const deadline = Date.now() + timeout;
  while (!(seen.parts && Object.keys(answered).length >= seen.parts - 1)) {
    if (Date.now() > deadline) throw new Error(`parts answered before closing: ${JSON.stringify(answered)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  seen.beforeClose = { ...answered };
  await first.close();
  step(`closed the page with ${Object.keys(answered).length} of ${seen.parts} parts held by S3`);
  const second = await context.newPage();
  // The token lives in the tab's session storage: a new tab is opened by the link again.
  await second.goto(`${args.base}/#token=${encodeURIComponent(args.token)}`);
  await second.waitForFunction(() => document.querySelector('#token-state').textContent === 'token accepted');
  await second.setInputFiles('#files', args.file);
  await second.waitForSelector('#uploads li[data-state]');
  seen.uploadState = await second.getAttribute('#uploads li', 'data-state');
  seen.uploadInfo = await second.textContent('#uploads li .info');
  // Playwright reports a response on its own channel, which may trail the page's
  // own fetch resolving, by seconds on a loaded machine: give the last part's answer
  // time to be counted (a part never sent still fails, after the wait).
  const settle = Date.now() + 60000;
  while (Object.keys(answered).length < seen.parts && Date.now() < settle) {
    await new Promise((r) => setTimeout(r, 50));
  }
  seen.answered = answered;
  step(`reopened and ${seen.uploadState}`);
}

async function full() {
  const page = await browser.newPage();
  page.on('pageerror', (e) => { (seen.pageErrors ||= []).push(String(e)); });
  page.setDefaultTimeout(timeout);
  // Slow uploads down, so that the bar has somewhere to go between 0 and the end.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 5, downloadThroughput: -1, uploadThroughput: 4 * 1024 * 1024,
  });
  await page.goto(`${args.base}/#token=${encodeURIComponent(args.token)}`);
  await page.waitForFunction(() => document.querySelector('#token-state').textContent === 'token accepted');
  seen.fragmentKept = await page.evaluate(() => location.hash);
  step('page open, token accepted');

  const name = path.basename(args.file);
  await page.evaluate(() => {
    window.__bars = [];
    const t = setInterval(() => {
      const bar = document.querySelector('#uploads li progress');
      if (bar && window.__bars[window.__bars.length - 1] !== bar.value) window.__bars.push(bar.value);
      if (bar && bar.closest('li').dataset.state) clearInterval(t);
    }, 10);
  });
  await page.setInputFiles('#files', args.file);
  await page.waitForSelector('#uploads li[data-state]');
  seen.uploadState = await page.getAttribute('#uploads li', 'data-state');
  seen.uploadInfo = await page.textContent('#uploads li .info');
  seen.bars = await page.evaluate(() => window.__bars);
  step(`upload ${seen.uploadState}`);
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });

  const row = `#assets tr[data-file="${name}"]`;
  seen.statuses = [];
  await page.exposeFunction('__status', (s) => seen.statuses.push(s));
  await page.evaluate((sel) => {
    let last = '';
    const t = setInterval(() => {
      const tr = document.querySelector(sel);
      const s = tr ? tr.dataset.status : '';
      if (s && s !== last) { last = s; window.__status(s); }
      if (s === 'COMPLETE' || s === 'ERROR') clearInterval(t);
    }, 20);
  }, row);
  await page.waitForSelector(`${row}[data-status="COMPLETE"], ${row}[data-status="ERROR"]`);
  seen.final = await page.getAttribute(row, 'data-status');
  step(`asset ${seen.final}`);
  if (seen.final !== 'COMPLETE') throw new Error(await page.textContent(`${row} .status`));

  await page.click(`${row} .play a`);
  await page.waitForURL(/\/play\//);
  await page.waitForFunction(() => document.querySelector('#video').currentTime > 1);
  seen.playedTo = await page.evaluate(() => document.querySelector('#video').currentTime);
  step(`playing at ${seen.playedTo.toFixed(2)} s`);
  await page.waitForFunction(() => document.querySelector('#rendition').options.length > 2);
  seen.renditions = await page.evaluate(() => [...document.querySelector('#rendition').options].map((o) => o.textContent));
  const before = await page.textContent('#playing');
  // Choose the rendition that is not playing.
  const choice = await page.evaluate((now) => {
    const opts = [...document.querySelector('#rendition').options].slice(1);
    const other = opts.find((o) => !o.textContent.startsWith(now.replace('playing ', '')));
    return other ? other.value : opts[0].value;
  }, before);
  const want = seen.renditions[Number(choice) + 1].split(' ')[0];
  await page.selectOption('#rendition', choice);
  await page.waitForFunction((w) => document.querySelector('#playing').textContent === `playing ${w}`, want);
  const t0 = await page.evaluate(() => document.querySelector('#video').currentTime);
  await page.waitForFunction((t) => document.querySelector('#video').currentTime > t + 0.5, t0);
  seen.switched = { from: before, to: want };
  step(`switched from ${before} to ${want}, still playing`);
  seen.downloads = await page.$$eval('#downloads a', (as) => as.map((a) => a.href));
  seen.thumbnails = await page.$$eval('#thumbs img', (is) => is.map((i) => i.naturalWidth));
  // Trick play: hovering the seek bar near its end (90 %) shows that moment's tile, cut from
  // a sheet the browser can load.
  const record = JSON.parse(await page.textContent('#record'));
  seen.trickplay = (record.outputs || {}).trickplay || null;
  if (!seen.trickplay) throw new Error('the record names no trick-play track');
  await page.waitForFunction(() => document.querySelector('#seek').max > 0, null, { timeout: 30000 });
  // hover() scrolls the bar into view first: a pointer outside the viewport moves nothing.
  const bar = page.locator('#seek');
  await bar.scrollIntoViewIfNeeded();
  const box = await bar.boundingBox();
  await bar.hover({ position: { x: box.width * 0.1, y: box.height / 2 } });
  await bar.hover({ position: { x: box.width * 0.9, y: box.height / 2 } });
  await page.waitForFunction(
    () => getComputedStyle(document.querySelector('#tile')).display === 'block', null, { timeout: 30000 },
  ).catch(async (e) => {
    throw new Error(`no tile over the seek bar (page says "${await page.textContent('#state')}"): ${e.message}`);
  });
  seen.tile = await page.evaluate(async () => {
    const t = document.querySelector('#tile');
    const src = getComputedStyle(t).backgroundImage.replace(/^url\("?|"?\)$/g, '');
    const img = new Image();
    img.src = src;
    await img.decode();
    return {
      src, time: Number(t.dataset.time), width: t.clientWidth, height: t.clientHeight,
      position: t.style.backgroundPosition, sheet: [img.naturalWidth, img.naturalHeight],
    };
  });
  step(`trick-play tile at ${seen.tile.time} s from ${seen.tile.src.split('/').pop()}`);
}

try {
  await (args.resume ? resume() : full());
  code = 0;
} catch (e) {
  seen.error = String(e && e.message ? e.message : e).split('\n')[0];
} finally {
  process.stdout.write(`${JSON.stringify(seen)}\n`);
  await browser.close();
}
process.exit(code);
