// What the server answers for the web map, over HTTP (no browser): the page, its files with
// their content types, glyphs, settings, label points, and a clear page when the web map is not
// installed.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validateStyleMin } from '@maplibre/maplibre-gl-style-spec';
import { buildStyle, LAYER_GROUPS } from '../src/style.js';
import { demoLayer, runWangge, startServer } from './helpers.mjs';

describe('the web map as served', () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(() => server?.stop());

  const get = (p, init) => fetch(server.url(p), init);

  test('/ is the page, in Chinese, loading MapLibre from this server only', async () => {
    const res = await get('/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    const html = await res.text();
    assert.match(html, /<html lang="zh-CN">/);
    assert.match(html, /图层/);
    for (const [, url] of html.matchAll(/(?:src|href)="([^"]+)"/g)) assert.ok(url.startsWith('/'), `${url} is not on this server`);
  });

  test('/report is the residents\' page, in Chinese, for a phone, from this server only, with no inline script', async () => {
    const res = await get('/report');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy'), /script-src 'self'; /);
    const html = await res.text();
    assert.match(html, /<html lang="zh-CN">/);
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(html, /我要反映/);
    assert.match(html, /查询进度/);
    for (const [, url] of html.matchAll(/(?:src|href)="([^"#]+)"/g)) assert.ok(url.startsWith('/'), `${url} is not on this server`);
  });

  test('files have the right content types', async () => {
    const expect = {
      '/src/main.js': /^text\/javascript/,
      '/src/map.css': /^text\/css/,
      '/vendor/maplibre-gl/maplibre-gl.mjs': /^text\/javascript/,
      '/vendor/maplibre-gl/maplibre-gl-worker.mjs': /^text\/javascript/,
      '/vendor/maplibre-gl/maplibre-gl.css': /^text\/css/,
      '/vendor/terra-draw/terra-draw.modern.js': /^text\/javascript/,
      '/vendor/terra-draw-maplibre-gl-adapter/terra-draw-maplibre-gl-adapter.modern.js': /^text\/javascript/,
      '/src/editor.js': /^text\/javascript/,
      '/src/report.js': /^text\/javascript/,
      '/src/requests.js': /^text\/javascript/,
      '/src/report.css': /^text\/css/,
      '/glyphs/Noto Sans CJK SC/0-255.pbf': /^application\/x-protobuf$/,
      '/api/v1/web-config': /^application\/json/,
      '/api/v1/labels': /^application\/geo\+json/,
    };
    for (const [p, type] of Object.entries(expect)) {
      const res = await get(p);
      assert.equal(res.status, 200, p);
      assert.match(res.headers.get('content-type'), type, p);
      await res.arrayBuffer();
    }
  });

  test('glyphs: the first font of a stack that has the range answers; other ranges are 404', async () => {
    const res = await get(`/glyphs/${encodeURIComponent('Noto Sans CJK SC,Microsoft YaHei,PingFang SC')}/0-255.pbf`);
    assert.equal(res.status, 200);
    assert.ok((await res.arrayBuffer()).byteLength > 10_000);
    assert.equal((await get('/glyphs/Noto%20Sans%20CJK%20SC%20Bold/8192-8447.pbf')).status, 200);
    // CJK is drawn in the browser; a range nobody has is a 404 upon which MapLibre draws locally.
    assert.equal((await get('/glyphs/Noto%20Sans%20CJK%20SC/19968-20223.pbf')).status, 404);
    assert.equal((await get('/glyphs/Noto%20Sans%20CJK%20SC/1-256.pbf')).status, 400);
    assert.equal((await get('/glyphs/..%2F..%2Fsrc/0-255.pbf')).status, 400);
    assert.equal((await get('/src/../Cargo.toml')).status, 404);
  });

  test('missing files are JSON errors, not bare 404s', async () => {
    for (const p of ['/src/nope.js', '/vendor/maplibre-gl/nope.mjs']) {
      const res = await get(p);
      assert.equal(res.status, 404);
      const body = await res.json();
      assert.equal(body.error.code, 'not_found');
    }
  });

  test('the style built from this server\'s TileJSON draws every layer of the panel from this server', async () => {
    // What the page does at start (main.js loadTileJson), and the shape unit.test.mjs's TileJSON copies.
    const { layers } = await (await get('/tiles')).json();
    const tilejson = Object.fromEntries(await Promise.all(layers.map(async (l) => [l.name, await (await fetch(l.tilejson)).json()])));
    const style = buildStyle({ origin: server.base, tilejson });
    assert.deepEqual(validateStyleMin(style).map((e) => e.message), []);
    const ids = new Set(style.layers.map((l) => l.id));
    for (const group of LAYER_GROUPS) for (const id of group.layers) assert.ok(ids.has(id), id);
    for (const [name, source] of Object.entries(style.sources)) {
      if (source.type !== 'vector') continue;
      assert.deepEqual(source.tiles, [server.url(`/tiles/${name}/{z}/{x}/{y}.mvt`)]);
      assert.equal(typeof source.maxzoom, 'number', name);
    }
  });

  test('web-config: no basemap by default, the map in WGS84', async () => {
    assert.deepEqual(await (await get('/api/v1/web-config')).json(), {
      map_crs: 'wgs84',
      basemap: null,
      glyphs: '/glyphs/{fontstack}/{range}.pbf',
    });
  });

  test('labels: one point per place, inside it, with household counts for grids', async () => {
    const res = await get('/api/v1/labels');
    const etag = res.headers.get('etag');
    const labels = (await res.json()).features;
    const grids = (await demoLayer('grids')).features;
    const communities = (await demoLayer('communities')).features;
    const areas = (await demoLayer('areas')).features;
    const byKind = (k) => labels.filter((f) => f.properties.kind === k);
    assert.equal(byKind('grid').length, grids.length);
    assert.equal(byKind('community').length, communities.length);
    assert.equal(byKind('area').length, areas.length);
    const total = byKind('grid').reduce((n, f) => n + f.properties.households, 0);
    assert.equal(total, (await demoLayer('households')).features.length);
    // Each grid's label point looks up to that grid.
    for (const f of byKind('grid').slice(0, 5)) {
      const [lon, lat] = f.geometry.coordinates;
      const answer = await (await get(`/api/v1/lookup?lon=${lon}&lat=${lat}`)).json();
      assert.equal(answer.grid?.code, f.properties.code);
    }
    assert.equal((await get('/api/v1/labels', { headers: { 'if-none-match': etag } })).status, 304);
    // In GCJ-02 the points move by a few hundred metres, and map back to the same grids.
    const gcj = (await (await get('/api/v1/labels?crs=gcj02')).json()).features.find((f) => f.properties.kind === 'grid');
    const [lon, lat] = gcj.geometry.coordinates;
    const back = await (await get(`/api/v1/lookup?lon=${lon}&lat=${lat}&crs=gcj02`)).json();
    assert.equal(back.grid?.code, gcj.properties.code);
    assert.equal((await get('/api/v1/labels?crs=nonsense')).status, 400);
  });
});

describe('a server whose web map is not installed', () => {
  test('answers / with a page that says to run npm ci, and the API still works', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'wangge-empty-'));
    const withoutModules = await mkdtemp(path.join(tmpdir(), 'wangge-nomodules-'));
    await writeFile(path.join(withoutModules, 'index.html'), '<!doctype html><title>x</title>');
    try {
      for (const [root, says] of [
        [empty, /no index\.html/],
        [withoutModules, /dependencies are not installed/],
      ]) {
        const server = await startServer({ root });
        try {
          const res = await fetch(server.url('/'));
          assert.equal(res.status, 503);
          assert.match(res.headers.get('content-type'), /^text\/html/);
          const html = await res.text();
          assert.match(html, /npm ci --prefix web-map/);
          assert.match(html, says);
          const vendor = await fetch(server.url('/vendor/maplibre-gl/maplibre-gl.mjs'));
          assert.equal(vendor.status, 404);
          assert.match((await vendor.json()).error.message, /npm ci --prefix web-map/);
          assert.equal((await fetch(server.url('/health'))).status, 200);
        } finally {
          await server.stop();
        }
      }
    } finally {
      await rm(empty, { recursive: true, force: true });
      await rm(withoutModules, { recursive: true, force: true });
    }
  });
});

describe('the basemap settings', () => {
  test('are passed to the page', async () => {
    const server = await startServer({
      args: ['--basemap-url', 'https://tiles.example/{z}/{x}/{y}.png', '--basemap-crs', 'gcj02', '--basemap-attribution', '© 示例底图'],
    });
    try {
      assert.deepEqual(await (await fetch(server.url('/api/v1/web-config'))).json(), {
        map_crs: 'gcj02',
        basemap: { url: 'https://tiles.example/{z}/{x}/{y}.png', crs: 'gcj02', attribution: '© 示例底图' },
        glyphs: '/glyphs/{fontstack}/{range}.pbf',
      });
    } finally {
      await server.stop();
    }
  });

  test('are checked at start', async () => {
    const bad = await runWangge(['serve', '--bind', '127.0.0.1:0', '--database', 'sqlite::memory:', '--basemap-url', 'https://tiles.example/{z}/{x}.png']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /lacks \{y\}/);
    const baidu = await runWangge(['serve', '--bind', '127.0.0.1:0', '--database', 'sqlite::memory:', '--basemap-url', 'https://t.example/{z}/{x}/{y}', '--basemap-crs', 'bd09']);
    assert.notEqual(baidu.code, 0);
    assert.match(baidu.stderr, /Baidu/);
  });
});
