// Shared by the web map's tests: the real `wangge` binary serving the demo street on a free
// port, and Debian's Chromium driven by playwright-core.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

export const webRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(webRoot, '..');
export const resultsDir = path.join(webRoot, 'test-results');

/** The binary under test: WANGGE_BIN, else the debug build (`npm test` builds it first). */
export const binary = process.env.WANGGE_BIN ?? path.join(repoRoot, 'target', 'debug', 'wangge');

/**
 * Starts `wangge serve --demo` on a free port with a fresh SQLite file, serving `webRoot`, and
 * resolves once it prints the address it listens on.
 */
export async function startServer({ args = [], root = webRoot } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'wangge-web-'));
  const env = { ...process.env, RUST_LOG: 'wangge=warn' };
  for (const k of Object.keys(env)) if (k.startsWith('WANGGE_') && k !== 'WANGGE_BIN') delete env[k];
  delete env.DATABASE_URL;
  const database = `sqlite://${dir}/w.db`;
  const child = spawn(
    binary,
    ['serve', '--demo', '--bind', '127.0.0.1:0', '--database', database, '--web-root', root, ...args],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.WANGGE_TEST_VERBOSE) process.stderr.write(d);
  });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/wangge listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`wangge exited (${code}) before listening:\n${stderr}`)));
    child.on('error', reject);
  });
  return {
    base,
    database,
    url: (p) => `${base}${p}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A stand-in for a GCJ-02 basemap's tile server (AMap's), on this machine: every tile is the same
 * 1×1 PNG. `url` is its XYZ template for --basemap-url; `requests()` counts the tiles served.
 */
export async function startBasemapStandIn() {
  const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
  let requests = 0;
  const tiles = createServer((req, res) => {
    requests += 1;
    res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' });
    res.end(PNG);
  }).listen(0, '127.0.0.1');
  await once(tiles, 'listening');
  return {
    url: `http://127.0.0.1:${tiles.address().port}/amap/{z}/{x}/{y}.png`,
    requests: () => requests,
    close: () => tiles.close(),
  };
}

/** Runs the binary to completion: {code, stdout, stderr}; `stdin` is written to its input. */
export async function runWangge(args, { stdin = '' } = {}) {
  const child = spawn(binary, args, { env: { ...process.env, RUST_LOG: 'wangge=warn' } });
  child.stdin.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = await once(child, 'exit');
  return { code, stdout, stderr };
}

/**
 * Creates an account in a running server's database with `wangge user add` (the password on
 * standard input), as an operator would.
 */
export async function addUser(server, { name, role, password, displayName, phone, community }) {
  const args = ['user', 'add', '--name', name, '--role', role, '--database', server.database];
  if (displayName) args.push('--display-name', displayName);
  if (phone) args.push('--phone', phone);
  // A secretary's community, by code (`--community 370202010001`).
  if (community) args.push('--community', community);
  const { code, stderr } = await runWangge(args, { stdin: `${password}\n` });
  if (code !== 0) throw new Error(`wangge user add ${name} failed (${code}): ${stderr}`);
}

/** Signs in over the API (not the page): the bearer token, for checks a test makes itself. */
export async function apiToken(server, name, password) {
  const res = await fetch(server.url('/api/v1/auth/login'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });
  if (!res.ok) throw new Error(`login ${name}: HTTP ${res.status}`);
  return (await res.json()).token;
}

/**
 * Debian's Chromium, headless. It renders WebGL2 with SwiftShader. playwright-core gives it a
 * fresh temporary profile; the flags keep it from reaching for the network on its own.
 */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * Watches a page: console errors, uncaught exceptions, failed requests, HTTP errors, any
 * request to a host other than 127.0.0.1 (aborted, so that nothing leaves the machine), and any
 * Content-Security-Policy violation (`securitypolicyviolation` events, in log.csp).
 */
export async function watch(context, page) {
  const log = {
    errors: [],
    /** What the server's Content-Security-Policy blocked: `directive blocked-URI`. */
    csp: [],
    failed: [],
    foreign: [],
    requests: [],
    /** 4xx answers the test provokes on purpose, declared with log.expect(); see below. */
    expected: [],
    expectations: [],
    /**
     * Declares that the next answer of `status` to a request whose path matches `path` is part
     * of the test (a wrong password, a claim someone else made first): it goes to log.expected
     * instead of log.failed, and so does the console line Chromium prints for it. Each
     * declaration covers one answer; an unexpected 4xx or 5xx still fails the test, and the test
     * asserts that what it provoked did happen (log.expected), so the allowance cannot hide a
     * real failure nor pass unnoticed.
     */
    expect(path, status) {
      this.expectations.push({ path, status });
    },
  };
  const takeExpected = (url, status) => {
    const i = log.expectations.findIndex((e) => new URL(url).pathname.match(e.path) && e.status === status);
    if (i < 0) return false;
    log.expectations.splice(i, 1);
    log.expected.push(`${new URL(url).pathname}: HTTP ${status}`);
    return true;
  };
  /** Chromium's console line for an error answer, keyed by URL: dropped when that answer was expected. */
  const expectedUrls = new Set();
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== '127.0.0.1') {
      log.foreign.push(url.href);
      return route.abort();
    }
    return route.continue();
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const loadFailure = /^Failed to load resource: the server responded with a status of (\d+)/.exec(m.text());
    if (loadFailure) {
      // The console line may come before or after the response event: either way it must match.
      const [url, status] = [m.location()?.url ?? '', Number(loadFailure[1])];
      const pending = url && log.expectations.some((e) => new URL(url).pathname.match(e.path) && e.status === status);
      if (expectedUrls.has(`${url} ${status}`) || pending) return;
    }
    log.errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => log.errors.push(`exception: ${e.message}`));
  // Chromium also prints a violation on the console, but only the event says which directive
  // and what was blocked; it is reported from the page as soon as it happens.
  await page.exposeFunction('__reportCspViolation', (v) => log.csp.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__reportCspViolation(`${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
  });
  page.on('request', (r) => log.requests.push(r.url()));
  page.on('requestfailed', (r) => {
    // MapLibre cancels the tiles it no longer needs while the map moves: not a failure.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') log.failed.push(`${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    if (takeExpected(r.url(), r.status())) expectedUrls.add(`${r.url()} ${r.status()}`);
    else log.failed.push(`${r.url()}: HTTP ${r.status()}`);
  });
  return log;
}

/** Waits until the map has its style, every visible tile, and no pending movement. */
export async function mapIdle(page) {
  await page.waitForFunction(() => window.map?.isStyleLoaded(), null, { timeout: 60_000 });
  await page.evaluate(
    () =>
      new Promise((resolve) => {
        const map = window.map;
        const done = () => map.loaded() && map.areTilesLoaded() && !map.isMoving();
        if (done()) return resolve();
        const check = () => (done() ? resolve() : map.once('idle', check));
        map.once('idle', check);
        map.triggerRepaint();
      }),
  );
}

/** Opens the map page and waits for it to settle. */
export async function openMap(page, base) {
  await page.goto(`${base}/`);
  await mapIdle(page);
}

/**
 * How many distinct colours the visible page has (quantised to 4 bits a channel), counted by
 * decoding a screenshot in the page itself.
 */
export async function distinctColours(page, clip) {
  const png = await page.screenshot({ clip });
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const canvas = new OffscreenCanvas(img.width, img.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const { data } = ctx.getImageData(0, 0, img.width, img.height);
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4) seen.add(((data[i] >> 4) << 8) | ((data[i + 1] >> 4) << 4) | (data[i + 2] >> 4));
    return seen.size;
  }, png.toString('base64'));
}

/**
 * Saves a screenshot under test-results/; a README picture (`docs: true`) also under docs/ when
 * UPDATE_SCREENSHOTS is set (`npm run screenshots`).
 */
export async function saveScreenshot(page, name, { docs = false } = {}) {
  await mkdir(resultsDir, { recursive: true });
  const png = await page.screenshot();
  await writeFile(path.join(resultsDir, name), png);
  if (docs && process.env.UPDATE_SCREENSHOTS) {
    await mkdir(path.join(repoRoot, 'docs'), { recursive: true });
    await writeFile(path.join(repoRoot, 'docs', name), png);
  }
  return png;
}

/** A demo layer's GeoJSON FeatureCollection (geodata/demo/NAME.geojson). */
export async function demoLayer(name) {
  return JSON.parse(await readFile(path.join(repoRoot, 'geodata', 'demo', `${name}.geojson`), 'utf8'));
}

/** CRC-32 (ISO-HDLC, as PNG's chunks use it). */
function crc32(bytes) {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * A PNG of `width` × `height` made in Node (no browser needed): diagonal bands of two colours
 * ([r, g, b] each), a stand-in for a camera's photo when a test sets up data over the API.
 */
export function pngImage(width, height, { colours = [[179, 38, 30], [243, 197, 83]], band = 24 } = {}) {
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = colours[Math.floor((x + y) / band) % colours.length];
      raw.set([r, g, b], y * stride + 1 + x * 3);
    }
  }
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
