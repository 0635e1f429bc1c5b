#!/usr/bin/env node
// Real-player playback checker for mpe outputs: serves a directory over HTTP,
// plays an HLS (hls.js, MSE) or DASH (dash.js) manifest in headless Chromium
// and forces every video level. Prints ONE JSON line on stdout; exit 0 = ok,
// 1 = not ok (including usage errors). Diagnostics go to stderr.
//
//   node tests/player/play.mjs --root DIR --manifest REL_PATH --kind hls|dash
//        [--seconds 3] [--level-seconds 1] [--timeout 60] [--no-full]
//        [--chromium /usr/bin/chromium] [--verbose]
//
// See README.md in this folder.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NM = path.join(HERE, 'node_modules');
const PREFIX = '/__mpe__/';

const CONTENT_TYPES = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.cmfv': 'video/mp4',
  '.m4s': 'video/mp4',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.cmfa': 'audio/mp4',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.ts': 'video/mp2t',
  '.vtt': 'text/vtt',
  '.webvtt': 'text/vtt',
  '.cmft': 'application/mp4',
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.xml': 'application/xml',
};

// Fixed set of player assets served under /__mpe__/ (nothing else from node_modules).
const ASSETS = {
  'hls.min.js': path.join(NM, 'hls.js', 'dist', 'hls.min.js'),
  'dash.all.min.js': path.join(NM, 'dashjs', 'dist', 'modern', 'umd', 'dash.all.min.js'),
  'harness.js': path.join(HERE, 'harness.js'),
};

const CHROMIUM_ARGS = [
  // --headless is added by playwright-core itself (headless: true)
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

const t_start = Date.now();
let verbose = false;
const log = (...a) => {
  if (verbose) console.error('[play]', ...a);
};

// ----------------------------------------------------------------- result
let printed = false;
function finish(result, code) {
  if (!printed) {
    printed = true;
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  return code;
}

function baseResult(kind) {
  return {
    ok: false,
    kind: kind ?? null,
    manifest: null,
    player: null,
    levels: [],
    advanced_s: 0,
    duration_s: null,
    errors: [],
    warnings: [],
    elapsed_s: 0,
  };
}

function usage(msg) {
  const r = baseResult(null);
  r.errors.push(`usage: ${msg}`);
  console.error(`play.mjs: ${msg}`);
  console.error('usage: node play.mjs --root DIR --manifest REL_PATH --kind hls|dash [--seconds 3] ' +
    '[--level-seconds 1] [--timeout 60] [--no-full] [--chromium PATH] [--verbose]');
  return finish(r, 1);
}

// ----------------------------------------------------------------- server
function startServer(root, onError) {
  const served = [];
  const server = http.createServer((req, res) => {
    const cors = {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Allow-Headers': 'Range, Content-Type',
      'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges',
      'Cache-Control': 'no-store',
    };
    const fail = (status, msg) => {
      res.writeHead(status, { ...cors, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(msg + '\n');
    };
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      onError(`HTTP 400 ${req.method} ${req.url} (bad URL)`);
      return fail(400, 'bad url');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      return res.end();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method not allowed');
    if (pathname === '/favicon.ico') {
      res.writeHead(204, cors);
      return res.end();
    }

    let file;
    if (pathname.startsWith(PREFIX)) {
      const name = pathname.slice(PREFIX.length);
      if (name === 'index.html') {
        const body = Buffer.from(pageHtml(req.url));
        res.writeHead(200, { ...cors, 'Content-Type': CONTENT_TYPES['.html'], 'Content-Length': body.length });
        return res.end(req.method === 'HEAD' ? undefined : body);
      }
      file = ASSETS[name];
    } else {
      const p = path.resolve(root, '.' + pathname);
      if (p === root || p.startsWith(root + path.sep)) file = p;
    }
    let st;
    try {
      st = file && fs.statSync(file);
    } catch {
      st = null;
    }
    if (!st || !st.isFile()) {
      const why = !file ? 'outside root' : 'not found under --root';
      onError(`HTTP 404 ${req.method} ${pathname} (${why})`);
      return fail(404, 'not found');
    }

    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream';
    const headers = { ...cors, 'Content-Type': type, 'Accept-Ranges': 'bytes' };
    let start = 0;
    let end = st.size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (!m || (m[1] === '' && m[2] === '')) {
        onError(`HTTP 416 ${req.method} ${pathname} (unsupported Range "${range}")`);
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
        return res.end();
      }
      if (m[1] === '') {
        start = Math.max(0, st.size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start > end || start >= st.size) {
        onError(`HTTP 416 ${req.method} ${pathname} (Range "${range}" outside ${st.size}-byte file)`);
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
        return res.end();
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
    }
    headers['Content-Length'] = end - start + 1;
    res.writeHead(status, headers);
    if (!pathname.startsWith(PREFIX)) served.push(`${status} ${pathname}${range ? ` ${range}` : ''}`);
    log(`${status} ${req.method} ${pathname}${range ? ` (${range})` : ''}`);
    if (req.method === 'HEAD' || st.size === 0) return res.end();
    fs.createReadStream(file, { start, end }).on('error', (e) => res.destroy(e)).pipe(res);
  });
  server.keepAliveTimeout = 1000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, served }));
  });
}

function pageHtml(reqUrl) {
  const kind = new URL(reqUrl, 'http://x').searchParams.get('kind');
  const lib = kind === 'dash' ? 'dash.all.min.js' : 'hls.min.js';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>mpe player check</title></head>
<body style="margin:0;background:#000">
<video id="video" muted playsinline width="640" height="360"></video>
<script src="${PREFIX}${lib}"></script>
<script src="${PREFIX}harness.js"></script>
</body></html>
`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withTimeout = (p, ms, fallback) => Promise.race([p, sleep(ms).then(() => fallback)]);

// ------------------------------------------------------------------- main
async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        root: { type: 'string' },
        manifest: { type: 'string' },
        url: { type: 'string' },
        kind: { type: 'string' },
        seconds: { type: 'string', default: '3' },
        'level-seconds': { type: 'string', default: '1' },
        timeout: { type: 'string', default: '60' },
        'no-full': { type: 'boolean', default: false },
        chromium: { type: 'string', default: process.env.MPE_CHROMIUM || '/usr/bin/chromium' },
        verbose: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    return usage(e.message);
  }
  if (args.help) return usage('help requested');
  verbose = args.verbose;
  // --url plays a manifest another server serves (mpe serve's delivery path, with its
  // own CORS, caching and range answers) instead of one under --root.
  if (args.url) {
    args.root = args.root || os.tmpdir();
    args.manifest = args.manifest || 'remote';
  }
  if (!args.root || !args.manifest || !args.kind) return usage('--root, --manifest and --kind are required');
  if (args.kind !== 'hls' && args.kind !== 'dash') return usage(`--kind must be hls or dash, got "${args.kind}"`);
  const seconds = Number(args.seconds);
  const levelSeconds = Number(args['level-seconds']);
  const timeoutS = Number(args.timeout);
  if (!(seconds > 0) || !(levelSeconds > 0) || !(timeoutS > 0)) {
    return usage('--seconds, --level-seconds and --timeout must be positive numbers');
  }

  const result = baseResult(args.kind);
  const errors = result.errors;
  const root = safeRealpath(args.root);
  if (!root || !fs.statSync(root).isDirectory()) {
    errors.push(`--root is not a directory: ${args.root}`);
    return finish(result, 1);
  }
  let rel = args.manifest;
  if (path.isAbsolute(rel)) rel = path.relative(root, safeRealpath(rel) ?? rel);
  rel = rel.split(path.sep).join('/').replace(/^\.\//, '');
  result.manifest = rel;
  const manifestFile = path.resolve(root, rel);
  if (rel.startsWith('../') || !(manifestFile === root || manifestFile.startsWith(root + path.sep))) {
    errors.push(`manifest ${args.manifest} is outside --root ${root}`);
    return finish(result, 1);
  }
  if (!args.url && (!fs.existsSync(manifestFile) || !fs.statSync(manifestFile).isFile())) {
    errors.push(`manifest not found: ${manifestFile} (--root ${root}, --manifest ${args.manifest})`);
    return finish(result, 1);
  }
  for (const [name, f] of Object.entries(ASSETS)) {
    if (!fs.existsSync(f)) {
      errors.push(`missing player asset ${name} (${f}); run tests/player/setup.sh`);
      return finish(result, 1);
    }
  }
  if (!fs.existsSync(args.chromium)) {
    errors.push(`chromium not found at ${args.chromium} (set --chromium or MPE_CHROMIUM)`);
    return finish(result, 1);
  }

  // How many variants/representations the manifest itself declares (sanity check
  // against what the player kept after codec filtering).
  let text;
  if (args.url) {
    const r = await fetch(args.url);
    text = await r.text();
    if (!r.ok) errors.push(`${args.url}: HTTP ${r.status}`);
    result.manifest = args.url;
  } else {
    text = fs.readFileSync(manifestFile, 'utf8');
  }
  let declared = null;
  if (args.kind === 'hls') {
    if (!text.startsWith('#EXTM3U')) errors.push(`${rel}: does not start with #EXTM3U`);
    const n = (text.match(/^#EXT-X-STREAM-INF:/gm) || []).length;
    declared = n > 0 ? n : text.includes('#EXTINF') ? 1 : null;
  } else if (!/<MPD[\s>]/.test(text)) {
    errors.push(`${rel}: no <MPD> element`);
  }

  const serverErrors = [];
  let first404 = null;
  const { chromium } = await import('playwright-core');
  const { server, port, served } = await startServer(root, (msg) => {
    if (serverErrors.includes(msg)) return;
    console.error(`[play] ERROR ${msg}`);
    serverErrors.push(msg);
    if (!first404) first404 = Date.now();
  });
  const base = `http://127.0.0.1:${port}`;
  const manifestUrl = args.url || `${base}/${rel.split('/').map(encodeURIComponent).join('/')}`;
  log(`serving ${root} at ${base}; manifest ${manifestUrl}`);

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpe-player-'));
  tempDirs.push(userDataDir);
  let context = null;
  let page = null;
  let snapshot = null;
  const pageErrors = [];
  let code = 1;
  let closing = false;
  try {
    const deadline = t_start + timeoutS * 1000;
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: args.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30000,
      viewport: { width: 800, height: 600 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => !closing && pageErrors.push(`page error: ${e.message}`));
    page.on('crash', () => pageErrors.push('page crashed'));
    page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
    page.on('requestfailed', (r) => {
      const f = r.failure();
      if (f && !closing && !/ERR_ABORTED/.test(f.errorText)) pageErrors.push(`request failed: ${r.url()} (${f.errorText})`);
    });
    await page.goto(`${base}${PREFIX}index.html?kind=${args.kind}`, { timeout: 15000 });
    const browserVersion = context.browser()?.version() ?? null;

    const opts = {
      kind: args.kind,
      url: manifestUrl,
      seconds,
      levelSeconds,
      full: !args['no-full'],
    };
    let why = null;
    const run = page.evaluate((o) => window.__mpe.run(o), opts).then(
      (s) => s,
      (e) => {
        if (!closing) pageErrors.push(`page.evaluate failed: ${e.message.split('\n')[0]}`);
        return null;
      },
    );
    // Stop early once the server has answered 404 (give the player 1.5 s to
    // report its own view of it), or at the overall deadline.
    const watchdog = (async () => {
      for (;;) {
        await sleep(100);
        if (first404 && Date.now() - first404 > 1500) return 'http';
        if (Date.now() > deadline - 4000) return 'timeout';
      }
    })();
    const winner = await Promise.race([run, watchdog]);
    if (winner === 'http' || winner === 'timeout') {
      why = winner;
      snapshot = await withTimeout(
        page.evaluate(() => {
          window.__mpe.stop();
          return window.__mpe.snapshot();
        }).catch(() => null),
        3000,
        null,
      );
    } else {
      snapshot = winner;
    }
    if (why === 'timeout') errors.push(`overall timeout (${timeoutS}s) hit during phase "${snapshot?.phase ?? '?'}"`);
    if (why === 'http') errors.push(`stopped early after HTTP error (phase "${snapshot?.phase ?? '?'}")`);
    if (browserVersion) result.browser = `Chromium ${browserVersion}`;
  } catch (e) {
    errors.push(`harness: ${e.message.split('\n')[0]}`);
  } finally {
    // always tear everything down
    closing = true;
    if (context) await withTimeout(context.close().catch(() => {}), 10000, null);
    await new Promise((r) => {
      server.closeAllConnections?.();
      server.close(() => r());
      setTimeout(r, 2000);
    });
    try {
      fs.rmSync(userDataDir, { recursive: true, force: true, maxRetries: 3 });
    } catch (e) {
      console.error(`[play] warning: could not remove ${userDataDir}: ${e.message}`);
    }
  }

  // ------------------------------------------------------------ verdict
  if (snapshot && verbose && snapshot.trace) console.error(`[play] page trace:\n  ${snapshot.trace.join('\n  ')}`);
  if (snapshot) {
    result.player = snapshot.player;
    result.start_s = snapshot.start_s;
    result.played_to_end = !!snapshot.played_to_end;
    result.mse = snapshot.mse;
    result.levels = snapshot.levels;
    result.audio = snapshot.audio;
    result.advanced_s = snapshot.advanced_s;
    result.frames = snapshot.frames;
    result.duration_s = snapshot.duration_s;
    result.live = snapshot.live;
    result.warnings.push(...snapshot.warnings);
    errors.push(...snapshot.errors);
  } else if (!errors.length) {
    errors.push('no result from the page');
  }
  // server-side (404 etc.) errors first: they are usually the root cause
  errors.unshift(...serverErrors);
  errors.push(...pageErrors);
  if (snapshot && args.kind === 'hls' && declared != null && snapshot.levels.length > 0 &&
      snapshot.levels.length !== declared) {
    errors.push(`manifest declares ${declared} variant(s) but hls.js kept ${snapshot.levels.length} (unsupported codecs?)`);
  }
  if (snapshot && snapshot.levels.length === 0 && !errors.length) errors.push('no levels found');
  if (snapshot && snapshot.levels.some((l) => !l.played) && !errors.length) {
    errors.push('not every level was played');
  }
  if (snapshot && snapshot.advanced_s < seconds - 0.05 && !snapshot.played_to_end && !errors.length) {
    errors.push(`playback advanced only ${snapshot.advanced_s}s (need ${seconds}s)`);
  }
  if (verbose) log(`served:\n  ${served.join('\n  ')}`);
  result.elapsed_s = Math.round((Date.now() - t_start) / 100) / 10;
  result.ok = errors.length === 0;
  code = result.ok ? 0 : 1;
  if (!result.ok && !exiting) for (const e of errors) console.error(`[play] FAIL ${e}`);
  return finish(result, code);
}

function safeRealpath(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

const tempDirs = [];
let exiting = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (exiting) return;
    exiting = true;
    const r = baseResult(null);
    r.errors.push(`interrupted by ${sig}`);
    finish(r, 1);
    process.exitCode = 1;
    // playwright-core kills the browser it launched when this process exits
    setTimeout(() => {
      for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
      process.exit(1);
    }, 300);
  });
}

main().then(
  (code) => process.exit(code),
  (e) => {
    const r = baseResult(null);
    r.errors.push(`harness crashed: ${e && e.stack ? e.stack : e}`);
    finish(r, 1);
    process.exit(1);
  },
);
