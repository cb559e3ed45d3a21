// Small geometry helpers for the web map, free of MapLibre and of the DOM so that Node's test
// runner can check them (test/unit.test.mjs). Nothing here decides which grid holds a point:
// the page asks the server (GET /api/v1/lookup), whose boundary rule is src/spatial/owner.rs.

/** Every [lon, lat] position of a GeoJSON geometry. */
export function positions(geometry) {
  const out = [];
  const walk = (c) => {
    if (typeof c[0] === 'number') out.push(c);
    else c.forEach(walk);
  };
  if (geometry.type === 'GeometryCollection') geometry.geometries.forEach((g) => out.push(...positions(g)));
  else walk(geometry.coordinates);
  return out;
}

/** [west, south, east, north] of a GeoJSON geometry. */
export function bbox(geometry) {
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of positions(geometry)) {
    w = Math.min(w, x);
    s = Math.min(s, y);
    e = Math.max(e, x);
    n = Math.max(n, y);
  }
  return [w, s, e, n];
}

/** The polygons of a Polygon or MultiPolygon, as arrays of rings. */
function polygons(geometry) {
  if (geometry.type === 'Polygon') return [geometry.coordinates];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates;
  throw new Error(`not a polygon: ${geometry.type}`);
}

/**
 * A point well inside a Polygon or MultiPolygon (not on its boundary, not in a hole): the middle of
 * the widest stretch of the largest polygon's interior along a horizontal line. Lines are tried
 * at the middle of the bounding box first, then at other heights; the widest stretch of all wins.
 */
export function interiorPoint(geometry) {
  let best = null;
  for (const rings of polygons(geometry)) {
    const [, s, , n] = bbox({ type: 'Polygon', coordinates: rings });
    for (const f of [0.5, 0.35, 0.65, 0.2, 0.8, 0.1, 0.9]) {
      const y = s + (n - s) * f;
      const xs = [];
      for (const ring of rings) {
        for (let i = 0; i + 1 < ring.length; i++) {
          const [x1, y1] = ring[i];
          const [x2, y2] = ring[i + 1];
          // Half-open on y so that a vertex exactly on the line counts once.
          if ((y1 <= y && y < y2) || (y2 <= y && y < y1)) {
            xs.push(x1 + ((y - y1) * (x2 - x1)) / (y2 - y1));
          }
        }
      }
      xs.sort((a, b) => a - b);
      for (let i = 0; i + 1 < xs.length; i += 2) {
        const width = xs[i + 1] - xs[i];
        if (!best || width > best.width) best = { width, point: [(xs[i] + xs[i + 1]) / 2, y] };
      }
    }
  }
  if (!best) throw new Error('empty polygon');
  return best.point;
}

// GCJ-02 ("Mars coordinates"), the offset system of AMap and Tencent maps. Which grid holds a point
// and the GCJ-02 → WGS84 direction are the server's alone (a click is sent to /api/v1/lookup with
// crs=gcj02). The page keeps only the forward direction, because the server answers no point or
// API geometry in GCJ-02 (only tiles and label points): it places a GPS position (WGS84) and the
// API's WGS84 geometry on a map drawn in GCJ-02. Same formula and "China box" as
// src/spatial/crs.rs, checked against the server at hundreds of points (test/lookup.test.mjs).
const KRASOVSKY_A = 6378245.0;
const KRASOVSKY_EE = 0.006693421622965943;

function inChina(lon, lat) {
  return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
}

/** WGS84 [lon, lat] → GCJ-02 [lon, lat]. */
export function wgs84ToGcj02([lon, lat]) {
  if (!inChina(lon, lat)) return [lon, lat];
  const { PI, sin, cos, sqrt, abs } = Math;
  const x = lon - 105.0;
  const y = lat - 35.0;
  const common = ((20 * sin(6 * x * PI) + 20 * sin(2 * x * PI)) * 2) / 3;
  const north =
    -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x)) + common +
    ((20 * sin(y * PI) + 40 * sin((y / 3) * PI)) * 2) / 3 +
    ((160 * sin((y / 12) * PI) + 320 * sin((y * PI) / 30)) * 2) / 3;
  const east =
    300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x)) + common +
    ((20 * sin(x * PI) + 40 * sin((x / 3) * PI)) * 2) / 3 +
    ((150 * sin((x / 12) * PI) + 300 * sin((x / 30) * PI)) * 2) / 3;
  const phi = lat * (PI / 180); // as Rust's f64::to_radians, so that both round alike
  const w = 1 - KRASOVSKY_EE * sin(phi) * sin(phi);
  const meridianRadius = (KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (w * sqrt(w));
  const parallelRadius = (KRASOVSKY_A / sqrt(w)) * cos(phi);
  return [lon + (east * 180) / (parallelRadius * PI), lat + (north * 180) / (meridianRadius * PI)];
}

/** A GeoJSON geometry with every position passed through `f` (e.g. wgs84ToGcj02). */
export function mapPositions(geometry, f) {
  if (!geometry) return geometry;
  if (geometry.type === 'GeometryCollection') return { ...geometry, geometries: geometry.geometries.map((g) => mapPositions(g, f)) };
  const walk = (c) => (typeof c[0] === 'number' ? f(c) : c.map(walk));
  return { ...geometry, coordinates: walk(geometry.coordinates) };
}

/** Every ring (outer and holes) of a Polygon or MultiPolygon, as arrays of [lon, lat]. */
export function rings(geometry) {
  if (!geometry) return [];
  return polygons(geometry).flat();
}

/**
 * Snapping to neighbours while drawing: the point of `rings` nearest to the pointer, within
 * `tolerance` pixels: a vertex if there is one that near, else the nearest point on an edge.
 * Distances are measured on the screen (`project` gives {x, y} for [lon, lat]); the point on an
 * edge is interpolated in lon/lat, so it lies on the straight edge the server's geometry has.
 *
 * @param pointer - {x, y}, the pointer on the screen
 * @param rings - arrays of [lon, lat] positions (closed rings or lines)
 * @returns [lon, lat], or undefined when nothing is that near
 */
export function snapPosition(pointer, rings, project, tolerance) {
  let vertex = null;
  let edge = null;
  for (const ring of rings) {
    let prev = null;
    for (const position of ring) {
      const p = project(position);
      const d = Math.hypot(p.x - pointer.x, p.y - pointer.y);
      if (d <= tolerance && (!vertex || d < vertex.d)) vertex = { d, position };
      if (prev) {
        const [a, pa] = prev;
        const dx = p.x - pa.x;
        const dy = p.y - pa.y;
        const len2 = dx * dx + dy * dy;
        if (len2 > 0) {
          const t = Math.max(0, Math.min(1, ((pointer.x - pa.x) * dx + (pointer.y - pa.y) * dy) / len2));
          const de = Math.hypot(pa.x + t * dx - pointer.x, pa.y + t * dy - pointer.y);
          if (de <= tolerance && (!edge || de < edge.d)) {
            edge = { d: de, position: [a[0] + t * (position[0] - a[0]), a[1] + t * (position[1] - a[1])] };
          }
        }
      }
      prev = [position, p];
    }
  }
  return (vertex ?? edge)?.position;
}

/**
 * A Polygon or MultiPolygon grown outwards by `metres` (a mitred offset of every edge; holes
 * shrink). The 3D map draws a floor's slab this little outside its building's walls, so that the
 * slab covers the wall behind it instead of fighting it for the same pixels. Meant for a fraction
 * of a metre around buildings: no self-intersection is resolved, and a spike's mitre is capped.
 */
export function outset(geometry, metres) {
  const grow = (ring, isHole) => {
    const open = ring.length > 1 && ring[0][0] === ring.at(-1)[0] && ring[0][1] === ring.at(-1)[1] ? ring.slice(0, -1) : ring;
    if (open.length < 3) return ring;
    // Metres in a plane tangent at the first vertex: enough for a building.
    const [lon0, lat0] = open[0];
    const mx = 111_320 * Math.cos((lat0 * Math.PI) / 180);
    const my = 110_574;
    const pts = open.map(([lon, lat]) => [(lon - lon0) * mx, (lat - lat0) * my]);
    let twiceArea = 0;
    for (let i = 0; i < pts.length; i++) {
      const [x1, y1] = pts[i];
      const [x2, y2] = pts[(i + 1) % pts.length];
      twiceArea += x1 * y2 - x2 * y1;
    }
    if (twiceArea === 0) return ring;
    // The polygon's inside is left of a counter-clockwise outer ring and right of a
    // counter-clockwise hole: the outward normal of an edge (dx, dy) is (dy, -dx) times `side`.
    const side = (twiceArea > 0) !== isHole ? 1 : -1;
    const normal = (a, b) => {
      const dx = b[0] - a[0];
      const dy = b[1] - a[1];
      const len = Math.hypot(dx, dy);
      return len ? [(side * dy) / len, (-side * dx) / len] : null;
    };
    const moved = pts.map((p, i) => {
      const prev = pts[(i - 1 + pts.length) % pts.length];
      const next = pts[(i + 1) % pts.length];
      const n1 = normal(prev, p) ?? normal(p, next);
      const n2 = normal(p, next) ?? n1;
      if (!n1) return p;
      let [bx, by] = [n1[0] + n2[0], n1[1] + n2[1]];
      const blen = Math.hypot(bx, by);
      if (blen < 1e-9) [bx, by] = n1; // a spike back along itself
      else [bx, by] = [bx / blen, by / blen];
      // Along the bisector so that both edges move by `metres`; a sharp corner's mitre is capped.
      const cos = Math.max(bx * n1[0] + by * n1[1], 1 / 3);
      return [p[0] + (bx * metres) / cos, p[1] + (by * metres) / cos];
    });
    const out = moved.map(([x, y]) => [lon0 + x / mx, lat0 + y / my]);
    out.push(out[0]);
    return out;
  };
  const grown = polygons(geometry).map((poly) => poly.map((ring, i) => grow(ring, i > 0)));
  return geometry.type === 'Polygon' ? { type: 'Polygon', coordinates: grown[0] } : { type: 'MultiPolygon', coordinates: grown };
}
