//! What leaders read (statistics of the visit diary): coverage and overdue households per unit,
//! needs per unit and type, and the 先锋榜 of cadres. Counts only, never a name or a phone of a
//! household: every signed-in role may read them.

use super::visits::{DAY_MS, VisitError, VisitPolicy, VisitTimes, next_due};
use super::{App, HouseholdPoint, MapData};
use crate::model::visits::{CadreWork, NeedKind};
use crate::model::{Id, PlaceKind};
use crate::timestamp::{from_millis, now_millis};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The coverage of one unit (an area, grid, community or street).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CoverageRow {
    /// The unit's place id.
    pub id: Id,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Households in it.
    pub households: usize,
    /// Of those, visited at the door in the window.
    pub visited: usize,
    /// `visited / households`, 0 to 1 (0 for a unit without households).
    pub coverage: f64,
    /// Households past their next visit (never visited at the door included).
    pub overdue: usize,
}

/// The open and met needs of one unit, by type.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NeedsRow {
    /// The unit's place id.
    pub id: Id,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Open needs by type.
    pub open: BTreeMap<NeedKind, usize>,
    /// Met needs by type.
    pub met: BTreeMap<NeedKind, usize>,
}

/// The units of one level, and which of them each household counts towards.
struct Units {
    places: Vec<(Id, String, String)>,
    parent: HashMap<Id, Id>,
    level: PlaceKind,
}

impl Units {
    fn of(map: &MapData, level: PlaceKind) -> Units {
        Units {
            places: map
                .places
                .iter()
                .filter(|p| p.kind == level)
                .map(|p| (p.id, p.code.clone(), p.name.clone()))
                .collect(),
            parent: map
                .places
                .iter()
                .filter_map(|p| Some((p.id, p.parent_id?)))
                .collect(),
            level,
        }
    }

    /// Calls `count` with each unit of this level the household counts towards: its areas, its
    /// grid, or the community or street above its grid.
    fn of_household(&self, h: &HouseholdPoint, mut count: impl FnMut(Id)) {
        let up = |id: Option<Id>| id.and_then(|i| self.parent.get(&i).copied());
        let unit = match self.level {
            PlaceKind::Area => {
                h.area_ids.iter().copied().for_each(count);
                return;
            }
            PlaceKind::Grid => h.grid_id,
            PlaceKind::Community => up(h.grid_id),
            PlaceKind::Street => up(up(h.grid_id)),
            PlaceKind::District => up(up(up(h.grid_id))),
        };
        unit.into_iter().for_each(&mut count);
    }
}

impl App {
    /// Coverage per unit of `level` over the last `days` days, by code.
    pub async fn coverage(
        self: &Arc<Self>,
        level: PlaceKind,
        days: u32,
    ) -> Result<Vec<CoverageRow>, VisitError> {
        let app = self.clone();
        Ok(self.compute(move || app.coverage_now(level, days)).await?)
    }

    fn coverage_now(&self, level: PlaceKind, days: u32) -> Vec<CoverageRow> {
        let map = self.map_data();
        let times = self.diary.read();
        coverage(&map, &times, self.visit_policy(), level, days, now_millis())
    }

    /// Open and met needs per unit of `level` and type, by code.
    pub async fn needs_by_unit(&self, level: PlaceKind) -> Result<Vec<NeedsRow>, VisitError> {
        let needs = self.store.needs().await?;
        let map = self.map_data();
        let units = Units::of(&map, level);
        let households: HashMap<Id, &HouseholdPoint> =
            map.households.iter().map(|h| (h.id, h)).collect();
        let mut rows: BTreeMap<Id, NeedsRow> = units
            .places
            .iter()
            .map(|(id, code, name)| {
                let row = NeedsRow {
                    id: *id,
                    code: code.clone(),
                    name: name.clone(),
                    open: BTreeMap::new(),
                    met: BTreeMap::new(),
                };
                (*id, row)
            })
            .collect();
        for need in needs {
            let Some(h) = households.get(&need.household_id) else {
                continue;
            };
            units.of_household(h, |unit| {
                if let Some(row) = rows.get_mut(&unit) {
                    let tally = if need.met_at.is_some() {
                        &mut row.met
                    } else {
                        &mut row.open
                    };
                    *tally.entry(need.kind).or_default() += 1;
                }
            });
        }
        let mut rows: Vec<NeedsRow> = rows.into_values().collect();
        rows.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(rows)
    }

    /// The 先锋榜: every cadre's on-site visits and needs met over the last `days` days, the
    /// most visits first (then needs met, then id).
    pub async fn pioneers(&self, days: u32) -> Result<Vec<CadreWork>, VisitError> {
        let since = from_millis(now_millis() - i64::from(days) * DAY_MS);
        let mut work = self.store.cadre_work(&since).await?;
        work.sort_by(|a, b| {
            (b.on_site_visits, b.needs_met, a.user_id).cmp(&(
                a.on_site_visits,
                a.needs_met,
                b.user_id,
            ))
        });
        Ok(work)
    }
}

/// Coverage per unit of `level` at `now` (Unix ms) over the last `days` days, by code: what
/// [`App::coverage`] answers from the snapshot and the diary, apart for benchmarks.
pub fn coverage(
    map: &MapData,
    times: &HashMap<Id, VisitTimes>,
    policy: &VisitPolicy,
    level: PlaceKind,
    days: u32,
    now: i64,
) -> Vec<CoverageRow> {
    let units = Units::of(map, level);
    let since = now - i64::from(days) * DAY_MS;
    // households, visited, overdue by unit
    let mut counts: HashMap<Id, [usize; 3]> = HashMap::new();
    for h in map.households.iter() {
        let t = times.get(&h.id).copied().unwrap_or_default();
        let visited = t.on_site.is_some_and(|at| at >= since);
        let overdue = next_due(policy, t, &h.tags).is_none_or(|d| d < now);
        units.of_household(h, |unit| {
            let c = counts.entry(unit).or_default();
            c[0] += 1;
            c[1] += usize::from(visited);
            c[2] += usize::from(overdue);
        });
    }
    let mut rows: Vec<CoverageRow> = units
        .places
        .into_iter()
        .map(|(id, code, name)| {
            let [households, visited, overdue] = counts.get(&id).copied().unwrap_or_default();
            CoverageRow {
                id,
                code,
                name,
                households,
                visited,
                coverage: if households == 0 {
                    0.0
                } else {
                    (visited as f64 / households as f64 * 1000.0).round() / 1000.0
                },
                overdue,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.code.cmp(&b.code));
    rows
}
