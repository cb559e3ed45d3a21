// The map's MapLibre style: every layer drawn from wangge's own vector tiles, built from the
// TileJSON of each layer (/tiles/{layer}.json) so that the zooms and the layers on offer are the
// server's; labels from the glyphs the server serves. Pure data, no DOM: test/unit.test.mjs
// validates it against the MapLibre style specification.

/**
 * Font stacks. Latin letters, digits and symbols come from the server's glyph ranges
 * (web-map/glyphs/<first font>/); CJK characters are always drawn by MapLibre in the browser with
 * these names as the CSS font-family list (then sans-serif), so the first names are the fonts a
 * Chinese desktop has: Noto Sans CJK SC (Linux), Microsoft YaHei (Windows), PingFang SC (macOS).
 */
export const FONT_REGULAR = ['Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC'];
export const FONT_BOLD = ['Noto Sans CJK SC Bold'];

/** Below this zoom the grids are coloured by household density. */
export const DENSITY_MAX_ZOOM = 15;

/** Households per km² → colour, for the density fill and its legend. */
export const DENSITY_STOPS = [
  [0, '#fff7ec'],
  [1000, '#fee8c8'],
  [2000, '#fdbb84'],
  [3500, '#fc8d59'],
  [5000, '#e34a33'],
  [8000, '#b30000'],
];

/** Soft, distinct fills for the communities of a street (a grid takes its community's colour). */
const COMMUNITY_COLOURS = ['#8dd3c7', '#fdb462', '#bebada', '#b3de69', '#fccde5', '#80b1d3', '#ffd92f', '#d9d9d9'];

export const COLOURS = {
  land: '#f3f1ea',
  water: '#a8d5e8',
  waterLabel: '#2f6f8f',
  road: '#ffffff',
  roadCasing: '#d3cbbd',
  primary: '#fce6a4',
  primaryCasing: '#d9b25f',
  district: '#6a3d9a',
  street: '#6a3d9a',
  community: '#1f6f6b',
  gridLine: '#ffffff',
  gridLabel: '#2e3a3a',
  area: '#d1495b',
  building: '#d8cfc3',
  buildingLine: '#b5a794',
  household: '#5e3c99',
  highlight: '#1565c0',
};

/**
 * A colour chosen by the last digits of a code (codes are numeric in Chinese administrative
 * data: 370202010001 → community 001), so that neighbours differ without a lookup table.
 */
function colourByCode(property, palette) {
  const digits = ['to-number', ['slice', ['to-string', ['get', property]], -3], 0];
  return ['to-color', ['at', ['%', digits, palette.length], ['literal', palette]]];
}

const densityColour = ['interpolate', ['linear'], ['coalesce', ['get', 'density'], 0], ...DENSITY_STOPS.flat()];
const gridCategoryColour = colourByCode('parent_code', COMMUNITY_COLOURS);

/** The grids' fill colour: by density below DENSITY_MAX_ZOOM when `density` is on, else by community. */
export function gridFillColour(density) {
  if (!density) return gridCategoryColour;
  return ['step', ['zoom'], densityColour, DENSITY_MAX_ZOOM, gridCategoryColour];
}

/** Line width in pixels for a road of `width_m` metres, at the latitude of `lat`. */
function roadWidth(lat, extra = 0) {
  const metresPerPixelZ0 = 156543.034 * Math.cos((lat * Math.PI) / 180);
  const stop = (z) => ['+', extra, ['max', 0.6, ['/', ['coalesce', ['get', 'width_m'], 8], metresPerPixelZ0 / 2 ** z]]];
  return ['interpolate', ['exponential', 2], ['zoom'], 12, stop(12), 20, stop(20)];
}

const halo = { 'text-halo-color': 'rgba(255,255,255,0.92)', 'text-halo-width': 1.6, 'text-halo-blur': 0.3 };

/** A vector source as its TileJSON describes it, inline, so that MapLibre does not fetch it again. */
function vectorSource(tilejson) {
  const { tiles, scheme = 'xyz', minzoom = 0, maxzoom = 22, bounds, attribution } = tilejson;
  return { type: 'vector', tiles, scheme, minzoom, maxzoom, ...(bounds ? { bounds } : {}), ...(attribution ? { attribution } : {}) };
}

/**
 * Keeps a style layer only if its source's TileJSON lists its source-layer, and starts it no
 * lower than that vector layer's minzoom (the layer's own minzoom, where it has one, is a
 * cartographic choice: buildings are clutter below 14). Layers of other sources pass as they are.
 */
function fitToTiles(layer, tilejson) {
  if (!layer['source-layer']) return [layer];
  const offered = tilejson[layer.source]?.vector_layers?.find((v) => v.id === layer['source-layer']);
  if (!offered) return [];
  const minzoom = Math.max(layer.minzoom ?? 0, offered.minzoom ?? 0);
  return [minzoom > 0 ? { ...layer, minzoom } : layer];
}

/**
 * The style.
 *
 * @param {object} o
 * @param {string} o.origin - this server, e.g. http://127.0.0.1:8080
 * @param {object} o.tilejson - the TileJSON of each of the server's tile layers, by name
 *   (GET /tiles lists them); a layer without one is not drawn
 * @param {string} [o.crs='wgs84'] - the map's CRS (gcj02 under a GCJ-02 basemap), for the label points
 * @param {object|null} o.basemap - {url, crs, attribution} from /api/v1/web-config, or null
 * @param {number} o.lat - latitude the road widths are computed for
 * @param {boolean} [o.density=true] - grids coloured by density at low zoom
 */
export function buildStyle({ origin, tilejson, crs = 'wgs84', basemap = null, lat = 36, density = true }) {
  const sources = Object.fromEntries(Object.entries(tilejson).map(([name, tj]) => [name, vectorSource(tj)]));
  // One point per place for its label (a polygon cut into tiles would be labelled once per tile).
  sources.labels = { type: 'geojson', data: `${origin}/api/v1/labels${crs === 'wgs84' ? '' : `?crs=${crs}`}` };
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': COLOURS.land } }];
  if (basemap) {
    sources.basemap = {
      type: 'raster',
      tiles: [basemap.url],
      tileSize: 256,
      // The external service's own range is not known here; XYZ basemaps commonly end at 18, and
      // MapLibre enlarges the last level's tiles beyond it.
      maxzoom: 18,
      ...(basemap.attribution ? { attribution: basemap.attribution } : {}),
    };
    layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  }
  layers.push(
    { id: 'water', type: 'fill', source: 'water', 'source-layer': 'water', paint: { 'fill-color': COLOURS.water } },
    {
      id: 'grids-fill',
      type: 'fill',
      source: 'grids',
      'source-layer': 'grids',
      paint: {
        'fill-color': gridFillColour(density),
        'fill-opacity': basemap ? 0.35 : ['interpolate', ['linear'], ['zoom'], 12, 0.75, 17, 0.55],
      },
    },
    {
      id: 'roads-casing',
      type: 'line',
      source: 'roads',
      'source-layer': 'roads',
      layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: {
        'line-color': ['match', ['get', 'kind'], 'primary', COLOURS.primaryCasing, COLOURS.roadCasing],
        'line-width': roadWidth(lat, 2),
      },
    },
    {
      id: 'roads',
      type: 'line',
      source: 'roads',
      'source-layer': 'roads',
      layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: {
        'line-color': ['match', ['get', 'kind'], 'primary', COLOURS.primary, COLOURS.road],
        'line-width': roadWidth(lat),
      },
    },
    {
      id: 'buildings-2d',
      type: 'fill',
      source: 'buildings',
      'source-layer': 'buildings',
      minzoom: 14,
      paint: { 'fill-color': COLOURS.building, 'fill-outline-color': COLOURS.buildingLine, 'fill-opacity': 0.95 },
    },
    {
      id: 'grids-line',
      type: 'line',
      source: 'grids',
      'source-layer': 'grids',
      paint: {
        'line-color': COLOURS.gridLine,
        'line-width': ['interpolate', ['linear'], ['zoom'], 13, 0.8, 18, 2.5],
      },
    },
    {
      // Unclaimed responsibility areas, filled for cadres (shown by the page after sign-in).
      id: 'areas-unclaimed',
      type: 'fill',
      source: 'areas',
      'source-layer': 'areas',
      filter: ['==', ['get', 'claimed'], false],
      layout: { visibility: 'none' },
      paint: { 'fill-color': COLOURS.area, 'fill-opacity': 0.3 },
    },
    {
      id: 'areas-line',
      type: 'line',
      source: 'areas',
      'source-layer': 'areas',
      paint: {
        'line-color': COLOURS.area,
        'line-width': ['interpolate', ['linear'], ['zoom'], 13, 1.2, 18, 3],
        'line-dasharray': [3, 2],
      },
    },
    {
      id: 'communities-line',
      type: 'line',
      source: 'communities',
      'source-layer': 'communities',
      layout: { 'line-join': 'round' },
      paint: {
        'line-color': COLOURS.community,
        'line-width': ['interpolate', ['linear'], ['zoom'], 12, 1.2, 18, 3.5],
      },
    },
    {
      id: 'streets-line',
      type: 'line',
      source: 'streets',
      'source-layer': 'streets',
      layout: { 'line-join': 'round' },
      paint: { 'line-color': COLOURS.street, 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 1.5, 18, 4.5], 'line-opacity': 0.8 },
    },
    {
      id: 'districts-line',
      type: 'line',
      source: 'districts',
      'source-layer': 'districts',
      layout: { 'line-join': 'round' },
      paint: { 'line-color': COLOURS.district, 'line-width': 2.5, 'line-dasharray': [4, 1.5], 'line-opacity': 0.7 },
    },
    {
      id: 'grids-highlight',
      type: 'line',
      source: 'grids',
      'source-layer': 'grids',
      filter: ['==', ['get', 'code'], ''],
      layout: { 'line-join': 'round' },
      paint: { 'line-color': COLOURS.highlight, 'line-width': ['interpolate', ['linear'], ['zoom'], 13, 2.5, 18, 5] },
    },
    {
      id: 'buildings-3d',
      type: 'fill-extrusion',
      source: 'buildings',
      'source-layer': 'buildings',
      minzoom: 14,
      layout: { visibility: 'none' },
      paint: {
        'fill-extrusion-color': [
          'interpolate', ['linear'], ['coalesce', ['get', 'height_m'], 3],
          0, '#f3ece2', 20, '#e4d7c6', 40, '#cfbda7', 80, '#b8a38b',
        ],
        'fill-extrusion-height': ['coalesce', ['get', 'height_m'], 3],
        'fill-extrusion-base': 0,
        'fill-extrusion-opacity': 0.92,
        'fill-extrusion-vertical-gradient': true,
      },
    },
    {
      // The households tiles carry one point per household from zoom 16 (the server's
      // HOUSEHOLD_POINTS_MIN_ZOOM) and one per grid below it; the TileJSON does not say where
      // the switch is, so it is written here.
      id: 'households-dots',
      type: 'circle',
      source: 'households',
      'source-layer': 'households',
      minzoom: 16,
      layout: { visibility: 'none' },
      paint: {
        'circle-color': COLOURS.household,
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 16, 1.5, 19, 3.5],
        'circle-opacity': 0.75,
      },
    },
    {
      id: 'households-counts',
      type: 'circle',
      source: 'households',
      'source-layer': 'households',
      maxzoom: 16,
      filter: ['has', 'households'],
      layout: { visibility: 'none' },
      paint: {
        // Proportional circles, under the grid labels (which give the count).
        'circle-color': COLOURS.household,
        'circle-opacity': 0.4,
        'circle-stroke-color': COLOURS.household,
        'circle-stroke-width': 1.5,
        'circle-stroke-opacity': 0.8,
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, ['/', ['sqrt', ['get', 'households']], 2.5], 15.9, ['/', ['sqrt', ['get', 'households']], 0.8]],
      },
    },
    {
      id: 'roads-label',
      type: 'symbol',
      source: 'roads',
      'source-layer': 'roads',
      minzoom: 15,
      layout: {
        'symbol-placement': 'line',
        'text-field': ['get', 'name'],
        'text-font': FONT_REGULAR,
        'text-size': 12,
        'text-max-angle': 30,
      },
      paint: { 'text-color': '#6b5e4b', ...halo },
    },
    {
      id: 'water-label',
      type: 'symbol',
      source: 'water',
      'source-layer': 'water',
      layout: { 'text-field': ['get', 'name'], 'text-font': FONT_REGULAR, 'text-size': 13, 'text-letter-spacing': 0.1 },
      paint: { 'text-color': COLOURS.waterLabel, 'text-halo-color': 'rgba(255,255,255,0.6)', 'text-halo-width': 1 },
    },
    {
      id: 'areas-label',
      type: 'symbol',
      source: 'areas',
      'source-layer': 'areas',
      minzoom: 15,
      layout: {
        'symbol-placement': 'line',
        'symbol-spacing': 400,
        'text-field': ['get', 'name'],
        'text-font': FONT_REGULAR,
        'text-size': 11,
        'text-offset': [0, -0.8],
        'text-max-angle': 25,
      },
      paint: { 'text-color': COLOURS.area, ...halo },
    },
    {
      id: 'buildings-label',
      type: 'symbol',
      source: 'buildings',
      'source-layer': 'buildings',
      minzoom: 17.5,
      layout: { 'text-field': ['get', 'name'], 'text-font': FONT_REGULAR, 'text-size': 10, 'text-max-width': 6 },
      paint: { 'text-color': '#6f6456', ...halo },
    },
    {
      id: 'grids-label',
      type: 'symbol',
      source: 'labels',
      filter: ['==', ['get', 'kind'], 'grid'],
      minzoom: 14.5,
      layout: {
        'text-field': [
          'format',
          ['get', 'name'], {},
          ['case', ['>', ['coalesce', ['get', 'households'], 0], 0], ['concat', '\n', ['to-string', ['get', 'households']], ' 户'], ''],
          { 'font-scale': 0.85, 'text-color': '#5b6664' },
        ],
        'text-font': FONT_REGULAR,
        'text-size': ['interpolate', ['linear'], ['zoom'], 14.5, 11, 18, 14],
        'text-max-width': 6,
        'text-padding': 4,
      },
      paint: { 'text-color': COLOURS.gridLabel, ...halo },
    },
    {
      id: 'communities-label',
      type: 'symbol',
      source: 'labels',
      filter: ['==', ['get', 'kind'], 'community'],
      minzoom: 12,
      maxzoom: 16,
      layout: {
        'text-field': ['get', 'name'],
        'text-font': FONT_BOLD,
        'text-size': ['interpolate', ['linear'], ['zoom'], 12, 12, 15, 16],
        'text-letter-spacing': 0.05,
      },
      paint: { 'text-color': COLOURS.community, ...halo, 'text-halo-width': 2 },
    },
    {
      id: 'streets-label',
      type: 'symbol',
      source: 'labels',
      filter: ['==', ['get', 'kind'], 'street'],
      maxzoom: 14,
      layout: { 'text-field': ['get', 'name'], 'text-font': FONT_BOLD, 'text-size': 16 },
      paint: { 'text-color': COLOURS.street, ...halo, 'text-halo-width': 2 },
    },
    {
      id: 'districts-label',
      type: 'symbol',
      source: 'labels',
      filter: ['==', ['get', 'kind'], 'district'],
      maxzoom: 12,
      layout: { 'text-field': ['get', 'name'], 'text-font': FONT_BOLD, 'text-size': 18 },
      paint: { 'text-color': COLOURS.district, ...halo, 'text-halo-width': 2 },
    },
  );
  return {
    version: 8,
    name: '网格 wangge',
    glyphs: `${origin}/glyphs/{fontstack}/{range}.pbf`,
    sources,
    layers: layers.flatMap((layer) => fitToTiles(layer, tilejson)),
  };
}

/**
 * MapLibre's `transformRequest` for a map drawn in `crs`: our tiles follow the basemap's CRS, so
 * under a GCJ-02 basemap every tile and TileJSON request to this server (`origin`) carries
 * crs=gcj02, and the server shifts the geometry into GCJ-02. In WGS84 nothing changes.
 */
export function tileRequestTransform(origin, crs) {
  return (url, resourceType) => {
    if (crs !== 'wgs84' && (resourceType === 'Tile' || resourceType === 'Source') && url.startsWith(`${origin}/tiles/`)) {
      return { url: `${url}${url.includes('?') ? '&' : '?'}crs=${crs}` };
    }
    return undefined;
  };
}

/**
 * The switches of the layer panel (图层): each names the style layers it shows and hides.
 * `buildings-2d` / `buildings-3d` also depend on the 2D/3D switch, and `density` changes the
 * grids' fill colour instead of a visibility.
 */
export const LAYER_GROUPS = [
  { key: 'grids', label: '网格', layers: ['grids-fill', 'grids-line', 'grids-label', 'grids-highlight'], on: true },
  { key: 'density', label: '住户密度（低缩放级别）', layers: [], on: true },
  { key: 'communities', label: '社区', layers: ['communities-line', 'communities-label'], on: true },
  { key: 'areas', label: '民情责任田', layers: ['areas-unclaimed', 'areas-line', 'areas-label'], on: true },
  { key: 'buildings', label: '楼栋', layers: ['buildings-2d', 'buildings-3d', 'buildings-label'], on: true },
  { key: 'households', label: '住户', layers: ['households-dots', 'households-counts'], on: false },
  { key: 'boundaries', label: '街道与区界', layers: ['streets-line', 'streets-label', 'districts-line', 'districts-label'], on: true },
  { key: 'roads', label: '道路', layers: ['roads-casing', 'roads', 'roads-label'], on: true },
  { key: 'water', label: '水域', layers: ['water', 'water-label'], on: true },
];
