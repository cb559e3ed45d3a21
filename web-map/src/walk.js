// The due walk of 我的走访, as data: the server's households in walking order grouped into the
// stops a cadre walks to, and how long each has gone without a visit at the door. No DOM, no
// map: test/unit.test.mjs checks it.

/** The need types of POST /api/v1/visits, in the order of the form, with their Chinese names. */
export const NEED_TYPES = [
  ['wristband', '智能手环'],
  ['extinguisher', '灭火器'],
  ['anti_climb', '防爬刺'],
  ['door_bolt', '推拉栓'],
  ['repair', '维修'],
  ['medical', '就医'],
  ['other', '其他'],
];

/** Household tags (src/app/visits.rs decides their visit intervals) in Chinese. */
export const TAG_NAMES = {
  elderly_alone: '独居老人',
  disabled: '残疾人',
  child_left_behind: '留守儿童',
  low_income: '低收入',
  mobile_member: '流动党员',
  veteran: '退役军人',
  party_member: '党员',
};

/**
 * Classes of days since the last visit at the door, worst last, for the colour of a household
 * and its legend. The due list holds only households already due, so every class is "late":
 * the colour says how late. `never` is a household nobody has visited at the door.
 */
export const AGE_CLASSES = [
  { key: 'recent', label: '30 天内', max: 30, colour: '#fdcc8a' },
  { key: 'month', label: '31–90 天', max: 90, colour: '#fc8d59' },
  { key: 'old', label: '90 天以上', max: Infinity, colour: '#d7301f' },
  { key: 'never', label: '从未入户', max: null, colour: '#7f0000' },
];

const DAY = 86_400_000;

/**
 * Whole days since the last visit at the door, null if never. It is the visit at the door
 * (`last_on_site_visit_at`), not any visit, that the server's due date counts from.
 */
export function daysSince(properties, now = Date.now()) {
  const at = Date.parse(properties.last_on_site_visit_at ?? '');
  return Number.isNaN(at) ? null : Math.max(0, Math.floor((now - at) / DAY));
}

/** The age class (one of AGE_CLASSES) of a number of days, null meaning never. */
export function ageClass(days) {
  if (days === null) return AGE_CLASSES[AGE_CLASSES.length - 1];
  return AGE_CLASSES.find((c) => c.max !== null && days <= c.max);
}

/**
 * The stops of a walk: consecutive households at the same point (the entrance of a building
 * the server places them at) make one stop, numbered from 1 in the server's order. A stop's
 * age is its longest-waiting household's, so a stop with one never-visited household shows it.
 *
 * @returns {{n: number, coordinates: number[], households: object[], days: number|null, age: object}[]}
 */
export function stopsOf(features, now = Date.now()) {
  const stops = [];
  for (const f of features) {
    const [lon, lat] = f.geometry.coordinates;
    let stop = stops[stops.length - 1];
    if (!stop || stop.coordinates[0] !== lon || stop.coordinates[1] !== lat) {
      stop = { n: stops.length + 1, coordinates: [lon, lat], households: [], days: 0 };
      stops.push(stop);
    }
    const days = daysSince(f.properties, now);
    stop.households.push({ ...f.properties, id: f.properties.id ?? f.id, days });
    if (stop.days !== null && (days === null || days > stop.days)) stop.days = days;
  }
  for (const stop of stops) stop.age = ageClass(stop.days);
  return stops;
}

/** A walk length for people: 850 米, 2.6 公里. */
export function formatMetres(m) {
  return m < 1000 ? `${Math.round(m)} 米` : `${(m / 1000).toFixed(1)} 公里`;
}

/** The place of a stop for its list: 香港中路7号29号楼 from 山东省青岛市市南区珠海路街道香港中路7号29号楼1单元101户. */
export function stopName(stop) {
  const address = stop.households[0]?.address ?? '';
  const place = address.replace(/^.*?(街道|镇|乡)/, '').replace(/\d+单元.*$/, '').replace(/\d+户$/, '');
  return place || address;
}
