// The map's projection: Albers equal-area conic with the USGS standard
// parallels for the conterminous United States (29.5°N, 45.5°N), centred on
// 96°W. Equal-area keeps Canada's and Texas' sizes honest, and the border
// at 49°N nearly straight. The basemap, the corridors and the live
// positions all go through project(), so they always line up.

const rad = Math.PI / 180;
const phi1 = 29.5 * rad, phi2 = 45.5 * rad, phi0 = 37.5 * rad, lam0 = -96 * rad;
const n = (Math.sin(phi1) + Math.sin(phi2)) / 2;
const C = Math.cos(phi1) ** 2 + 2 * n * Math.sin(phi1);
const rho0 = Math.sqrt(C - 2 * n * Math.sin(phi0)) / n;
const SCALE = 1000; // SVG user units per Earth radius: 1 unit ≈ 6.4 km

/** [x, y] in SVG user units (y down) of a WGS84 position. */
export function project(lon, lat) {
  const theta = n * (lon * rad - lam0);
  const rho = Math.sqrt(C - 2 * n * Math.sin(lat * rad)) / n;
  return [SCALE * rho * Math.sin(theta), -SCALE * (rho0 - rho * Math.cos(theta))];
}

/** The SVG viewBox covering a lon/lat window, from its projected edges. */
export function viewBox(minLon, minLat, maxLon, maxLat) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i <= 20; i++) {
    const lon = minLon + (maxLon - minLon) * i / 20, lat = minLat + (maxLat - minLat) * i / 20;
    for (const [x, y] of [project(lon, minLat), project(lon, maxLat), project(minLon, lat), project(maxLon, lat)]) {
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
    }
  }
  return [x0, y0, x1 - x0, y1 - y0].map((v) => v.toFixed(1)).join(' ');
}

const r1 = (v) => Math.round(v * 10) / 10;

/** An SVG path's d for a flat [lon, lat, lon, lat, ...] ring. */
export function ringPath(flat, close = true) {
  let d = '';
  for (let i = 0; i < flat.length; i += 2) {
    const [x, y] = project(flat[i], flat[i + 1]);
    d += (i ? 'L' : 'M') + r1(x) + ',' + r1(y);
  }
  return close ? d + 'Z' : d;
}

/** An SVG path's d for a [[lat, lon], ...] line (the corridors' order). */
export function linePath(latLons) {
  return latLons.map(([lat, lon], i) => {
    const [x, y] = project(lon, lat);
    return (i ? 'L' : 'M') + r1(x) + ',' + r1(y);
  }).join('');
}
