//! A year of invented visits for the demo street, so that the map and the statistics show
//! something real on first start (`wangge serve --demo-diary`): six demo cadres hold six of the
//! eight areas and visit their households with the diligence of real people, from nearly every
//! visit on time to most of them missed; two areas nobody holds, and nobody visits. Visits of
//! elderly people living alone find wristbands to buy, others extinguishers, door bolts,
//! anti-climb spikes; the diligent cadres meet most of what they find.
//!
//! The demo cadres cannot log in (their stored password is no password hash), and the diary is
//! the same on every start (a seeded generator), counted back from the day it is made.

use super::visits::{DAY_MS, distance_from, on_site};
use super::{App, HouseholdPoint};
use crate::auth::Role;
use crate::model::visits::{NeedKind, NewNeed, NewVisit};
use crate::model::{Id, PlaceKind};
use crate::timestamp::{from_millis, now_millis};
use geo::Coord;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The demo cadres: login name, the name people know them by, and how many of their due
/// visits they make.
const CADRES: [(&str, &str, f64); 6] = [
    ("demo-zhangwei", "张伟", 0.95),
    ("demo-lina", "李娜", 0.85),
    ("demo-wangqiang", "王强", 0.7),
    ("demo-liuyang", "刘洋", 0.5),
    ("demo-chenjing", "陈静", 0.3),
    ("demo-yangfan", "杨帆", 0.12),
];
/// What no argon2 check ever matches: the demo cadres exist to have visited, not to log in.
const NO_PASSWORD: &str = "!demo account: no login";
/// How far back the diary goes.
const DAYS: i64 = 365;
/// Of the visits a cadre makes, how many are at the door (the rest by phone or from afar).
const AT_THE_DOOR: f64 = 0.9;

/// What a visit may find, with how often a visit finds it; a wristband only for someone who
/// lives alone.
const NEEDS: [(NeedKind, f64, &str); 6] = [
    (NeedKind::Wristband, 0.25, "独居老人，需要智能手环"),
    (NeedKind::Extinguisher, 0.02, "厨房缺灭火器"),
    (NeedKind::DoorBolt, 0.015, "入户门缺推拉栓"),
    (NeedKind::AntiClimb, 0.01, "落水管需要防爬刺"),
    (NeedKind::Repair, 0.01, "楼道灯损坏"),
    (NeedKind::Medical, 0.005, "需要上门就医"),
];

impl App {
    /// Invents the demo diary unless the store holds visits already; the demo street must be
    /// loaded. Returns how many visits it stored.
    pub async fn load_demo_diary(self: &Arc<Self>) -> anyhow::Result<usize> {
        if !self.store.last_visits().await?.is_empty() {
            return Ok(0);
        }
        let map = self.map_data();
        let mut areas: Vec<(String, Id)> = map
            .places
            .iter()
            .filter(|p| p.kind == PlaceKind::Area)
            .map(|p| (p.code.clone(), p.id))
            .collect();
        areas.sort();
        let mut rng = StdRng::seed_from_u64(2026);
        let now = now_millis();
        let mut visits = Vec::new();
        let mut seen: HashSet<Id> = HashSet::new();
        let mut diligence_of = HashMap::new();
        for ((login, shown, diligence), (_, area)) in CADRES.into_iter().zip(&areas) {
            let cadre = self.demo_cadre(login, shown).await?;
            if !map.holders.contains_key(area) {
                self.claim_area(*area, cadre).await?;
            }
            diligence_of.insert(cadre, diligence);
            for h in map.households.iter().filter(|h| h.area_ids.contains(area)) {
                // A household in two areas is visited by the first area's holder.
                if seen.insert(h.id) {
                    visits.extend(self.invent_visits(&mut rng, h, cadre, diligence, now));
                }
            }
        }
        let stored = self.store.import_visits(&visits).await?;
        // The diligent meet most of what they find; the others little.
        let visited_by: HashMap<Id, Id> =
            visits.iter().map(|v| (v.household_id, v.user_id)).collect();
        for need in self.store.needs().await? {
            let Some(&cadre) = visited_by.get(&need.household_id) else {
                continue;
            };
            if rng.random_bool(diligence_of[&cadre] * 0.8) {
                self.store.meet_need(need.id, cadre).await?;
            }
        }
        self.load_demo_activities().await?;
        // The diary's times and every household's open needs (the `needs` tiles) from the store.
        self.refresh().await?;
        Ok(stored)
    }

    /// The demo cadre with this login, created on first use.
    async fn demo_cadre(&self, login: &str, shown: &str) -> anyhow::Result<Id> {
        if let Some(found) = self.store.user_by_name(login).await? {
            return Ok(found.user.id);
        }
        let user = self
            .store
            .insert_user(&crate::auth::NewUser {
                name: login.to_string(),
                role: Role::Cadre,
                password_hash: NO_PASSWORD.to_string(),
                display_name: Some(shown.to_string()),
                phone: None,
                community_id: None,
                branch_id: None,
            })
            .await?;
        Ok(user.id)
    }

    /// A year of visits of one household by a cadre of this diligence: each interval the
    /// household is due; a visit missed is tried again sooner.
    fn invent_visits(
        &self,
        rng: &mut StdRng,
        household: &HouseholdPoint,
        cadre: Id,
        diligence: f64,
        now: i64,
    ) -> Vec<NewVisit> {
        let map = self.map_data();
        let interval = i64::from(self.visit_policy().interval_days(&household.tags)) * DAY_MS;
        let lives_alone = household.tags.iter().any(|t| t == "elderly_alone");
        let mut visits = Vec::new();
        let mut at = now - DAYS * DAY_MS + rng.random_range(0..interval);
        let mut wristband_found = false;
        while at < now {
            if !rng.random_bool(diligence) {
                at += rng.random_range(interval / 3..=interval);
                continue;
            }
            let door = rng.random_bool(AT_THE_DOOR);
            // Metres east and north of the door: a few at the door, hundreds from afar.
            let (east, north) = if door {
                (rng.random_range(-15.0..15.0), rng.random_range(-15.0..15.0))
            } else {
                (
                    rng.random_range(200.0..600.0),
                    rng.random_range(-300.0..300.0),
                )
            };
            let position = Coord {
                x: household.location.x + east / 90_000.0,
                y: household.location.y + north / 111_195.0,
            };
            let accuracy_m = Some(rng.random_range(5.0..30.0_f64).round());
            let distance_m = distance_from(&map, household, position);
            let mut needs = Vec::new();
            for (kind, chance, note) in NEEDS {
                let fits = kind != NeedKind::Wristband || (lives_alone && !wristband_found);
                if fits && rng.random_bool(chance) {
                    wristband_found |= kind == NeedKind::Wristband;
                    needs.push(NewNeed {
                        kind,
                        note: note.to_string(),
                    });
                }
            }
            visits.push(NewVisit {
                household_id: household.id,
                user_id: cadre,
                key: format!("demo-{}-{}", household.id, visits.len()),
                digest: "demo".into(),
                visited_at: from_millis(at),
                lon: position.x,
                lat: position.y,
                accuracy_m,
                distance_m,
                on_site: on_site(distance_m, accuracy_m),
                notes: if door { "入户走访" } else { "电话回访" }.into(),
                needs,
                corrects: None,
            });
            at += interval + rng.random_range(-interval / 5..=interval / 5);
        }
        visits
    }
}
