//! The visit diary's store contract, on SQLite and on PostGIS: households by id and by text,
//! visits once per idempotency key, needs open until met, the latest visits and each cadre's work.

use crate::common;

use common::fixtures::{building, hierarchy, household, user};
use std::sync::Arc;
use wangge::auth::{NewUser, Role};
use wangge::model::visits::{NeedKind, NewNeed, NewVisit};
use wangge::model::{HouseholdWrite, Id};
use wangge::store::{Store, StoreError};

/// Two households (one in a building), as the demo's import would store them.
async fn two_households(store: &Arc<dyn Store>) -> (Id, Id) {
    store.upsert_places(&hierarchy()).await.unwrap();
    store.upsert_buildings(&[building("B1")]).await.unwrap();
    let mut second = household("H2", None);
    second.details.head_name = "李建国".into();
    second.details.address = "山东省青岛市市南区珠海路街道东海西路5号".into();
    store
        .upsert_households(&[household("H1", Some("B1")), second])
        .await
        .unwrap();
    let all = store.households().await.unwrap();
    (all[0].id, all[1].id)
}

fn visit(household_id: Id, user_id: Id, key: &str, at: &str, on_site: bool) -> NewVisit {
    NewVisit {
        household_id,
        user_id,
        key: key.into(),
        digest: format!("digest of {key} at {at}"),
        visited_at: at.into(),
        lon: 120.3712,
        lat: 36.0512,
        accuracy_m: Some(8.0),
        distance_m: if on_site { 3.5 } else { 420.0 },
        on_site,
        notes: "独居老人，身体尚好".into(),
        needs: vec![
            NewNeed {
                kind: NeedKind::Wristband,
                note: "需要智能手环".into(),
            },
            NewNeed {
                kind: NeedKind::Extinguisher,
                note: "厨房缺灭火器".into(),
            },
        ],
        corrects: None,
    }
}

async fn households_are_read_by_id_and_found_by_text(store: Arc<dyn Store>) {
    let (first, second) = two_households(&store).await;
    let both = store
        .households_by_id(&[second, first, 999_999])
        .await
        .unwrap();
    assert_eq!(
        both.iter().map(|h| h.id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(both, store.households().await.unwrap());
    assert!(store.households_by_id(&[]).await.unwrap().is_empty());
    assert_eq!(store.households_matching("建国").await.unwrap(), [second]);
    assert_eq!(
        store.households_matching("香港中路").await.unwrap(),
        [first]
    );
    assert_eq!(
        store.households_matching("H").await.unwrap(),
        [first, second]
    );
    // Text is matched as it is, not as a LIKE pattern.
    assert!(store.households_matching("%").await.unwrap().is_empty());
    assert!(store.households_matching("_").await.unwrap().is_empty());
}

async fn a_visit_is_stored_once_per_key(store: Arc<dyn Store>) {
    let (first, _) = two_households(&store).await;
    let cadre = user(&store, "zhangwei", Role::Cadre, None).await;
    let other = user(&store, "lina", Role::Cadre, None).await;
    let sent = visit(first, cadre.id, "phone-1", "2026-11-30T02:00:00.000Z", true);
    let (stored, created) = store.record_visit(&sent).await.unwrap();
    assert!(created);
    assert_eq!(
        (stored.household_id, stored.user_id, stored.on_site),
        (first, cadre.id, true)
    );
    assert_eq!(stored.visited_at, "2026-11-30T02:00:00.000Z");
    assert_eq!((stored.lon, stored.lat), (sent.lon, sent.lat));
    assert_eq!((stored.accuracy_m, stored.distance_m), (Some(8.0), 3.5));
    assert_eq!(stored.recorded_at.len(), 24, "{}", stored.recorded_at);
    let kinds: Vec<NeedKind> = stored.needs.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [NeedKind::Wristband, NeedKind::Extinguisher]);
    assert!(stored.needs.iter().all(|n| n.met_at.is_none()));

    // A resend after a lost answer: the stored visit, nothing new.
    let (again, created) = store.record_visit(&sent).await.unwrap();
    assert!(!created);
    assert_eq!(again, stored);
    assert_eq!(
        store.visits(first).await.unwrap(),
        std::slice::from_ref(&stored)
    );
    assert_eq!(store.needs().await.unwrap().len(), 2);

    // The same key for other content: refused, nothing stored.
    let mut changed = sent.clone();
    changed.notes = "另一次走访".into();
    changed.digest = "another digest".into();
    match store.record_visit(&changed).await {
        Err(StoreError::KeyReused { key, visit_id }) => {
            assert_eq!((key.as_str(), visit_id), ("phone-1", stored.id));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.visits(first).await.unwrap().len(), 1);

    // Keys are the phone's own: another cadre's phone may use the same one.
    let theirs = visit(
        first,
        other.id,
        "phone-1",
        "2026-11-30T03:00:00.000Z",
        false,
    );
    let (theirs, created) = store.record_visit(&theirs).await.unwrap();
    assert!(created);
    let newest_first: Vec<Id> = store
        .visits(first)
        .await
        .unwrap()
        .iter()
        .map(|v| v.id)
        .collect();
    assert_eq!(newest_first, [theirs.id, stored.id]);

    let nowhere = visit(
        999_999,
        cadre.id,
        "phone-2",
        "2026-11-30T02:00:00.000Z",
        true,
    );
    assert!(matches!(
        store.record_visit(&nowhere).await,
        Err(StoreError::NoSuchHousehold(999_999))
    ));
}

async fn needs_stay_open_until_met(store: Arc<dyn Store>) {
    let (first, _) = two_households(&store).await;
    let cadre = user(&store, "zhangwei", Role::Cadre, None).await;
    let sent = visit(first, cadre.id, "k", "2026-11-30T02:00:00.000Z", true);
    let (stored, _) = store.record_visit(&sent).await.unwrap();
    let wristband = stored.needs[0].id;
    assert_eq!(
        store.need(wristband).await.unwrap().as_ref(),
        Some(&stored.needs[0])
    );
    assert_eq!(store.need(999_999).await.unwrap(), None);
    let met = store.meet_need(wristband, cadre.id).await.unwrap();
    assert_eq!(met.met_by, Some(cadre.id));
    let met_at = met.met_at.clone().expect("met now");
    // Met twice: who met it and when stay as they were.
    let admin = user(&store, "admin", Role::Admin, None).await;
    let again = store.meet_need(wristband, admin.id).await.unwrap();
    assert_eq!((again.met_by, again.met_at), (Some(cadre.id), Some(met_at)));
    let open: Vec<NeedKind> = store
        .needs()
        .await
        .unwrap()
        .iter()
        .filter(|n| n.met_at.is_none())
        .map(|n| n.kind)
        .collect();
    assert_eq!(open, [NeedKind::Extinguisher]);
    assert!(matches!(
        store.meet_need(999_999, cadre.id).await,
        Err(StoreError::NoSuchNeed(999_999))
    ));
}

async fn the_latest_visits_and_each_cadres_work_are_counted(store: Arc<dyn Store>) {
    let (first, second) = two_households(&store).await;
    let cadre = user(&store, "zhangwei", Role::Cadre, None).await;
    let idle = user(&store, "lina", Role::Cadre, None).await;
    user(&store, "planner", Role::Planner, None).await;
    for (key, at, on_site) in [
        ("a", "2026-10-01T02:00:00.000Z", true),
        ("b", "2026-11-20T02:00:00.000Z", true),
        ("c", "2026-11-25T02:00:00.000Z", false),
    ] {
        store
            .record_visit(&visit(first, cadre.id, key, at, on_site))
            .await
            .unwrap();
    }
    let last = store.last_visits().await.unwrap();
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!(last[0].household_id, first);
    assert_eq!(last[0].any, "2026-11-25T02:00:00.000Z");
    assert_eq!(last[0].on_site.as_deref(), Some("2026-11-20T02:00:00.000Z"));
    assert!(last.iter().all(|l| l.household_id != second));

    let need = store.needs().await.unwrap()[0].id;
    store.meet_need(need, cadre.id).await.unwrap();
    let work = store.cadre_work("2026-11-01T00:00:00.000Z").await.unwrap();
    let counts: Vec<(Id, i64, i64)> = work
        .iter()
        .map(|w| (w.user_id, w.on_site_visits, w.needs_met))
        .collect();
    // Only cadres, each once; the October visit and the off-site one do not count.
    assert_eq!(counts, [(cadre.id, 1, 1), (idle.id, 0, 0)]);
    assert!(matches!(
        store.cadre_work("last month").await,
        Err(StoreError::BadInstant(_))
    ));
}

async fn a_secretary_keeps_their_community(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let community = store
        .places(None)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.code == "370202010001")
        .unwrap();
    let created = store
        .insert_user(&NewUser {
            name: "shuji".into(),
            role: Role::Secretary,
            password_hash: "h".into(),
            display_name: None,
            phone: None,
            community_id: Some(community.id),
            branch_id: None,
        })
        .await
        .unwrap();
    assert_eq!(created.community_id, Some(community.id));
    let found = store.user_by_name("shuji").await.unwrap().unwrap();
    assert_eq!(found.user.community_id, Some(community.id));
}

async fn an_import_of_visits_stores_all_or_nothing(store: Arc<dyn Store>) {
    let (first, second) = two_households(&store).await;
    let cadre = user(&store, "zhangwei", Role::Cadre, None).await;
    let good = [
        visit(first, cadre.id, "i-1", "2026-10-01T02:00:00.000Z", true),
        visit(second, cadre.id, "i-2", "2026-10-02T02:00:00.000Z", false),
    ];
    let bad = visit(999_999, cadre.id, "i-3", "2026-10-03T02:00:00.000Z", true);
    let with_bad: Vec<NewVisit> = good.iter().cloned().chain([bad]).collect();
    assert!(store.import_visits(&with_bad).await.is_err());
    assert!(
        store.last_visits().await.unwrap().is_empty(),
        "nothing of the batch"
    );
    assert!(store.needs().await.unwrap().is_empty());
    assert_eq!(store.import_visits(&good).await.unwrap(), 2);
    assert_eq!(store.last_visits().await.unwrap().len(), 2);
    assert_eq!(store.needs().await.unwrap().len(), 4);
}

async fn a_household_is_written_alone_with_its_version_and_trace(store: Arc<dyn Store>) {
    let (first, _) = two_households(&store).await;
    let places = store.places(None).await.unwrap();
    let grid = places
        .iter()
        .find(|p| p.code == "370202010001001")
        .unwrap()
        .id;
    let area = places
        .iter()
        .find(|p| p.code == "370202010-Q01")
        .unwrap()
        .id;
    let admin = user(&store, "admin", Role::Admin, None).await;
    let write = |id, version, h| HouseholdWrite {
        id,
        expected_version: version,
        household: h,
        grid_id: Some(grid),
        area_ids: vec![area],
        user_id: Some(admin.id),
    };
    let created = store
        .write_household(&write(None, 0, household("H3", Some("B1"))))
        .await
        .unwrap();
    assert_eq!((created.version, created.grid_id), (1, Some(grid)));
    assert_eq!(created.area_ids, [area]);
    assert!(matches!(
        store.write_household(&write(None, 0, household("H3", None))).await,
        Err(StoreError::HouseholdCodeTaken(code)) if code == "H3"
    ));

    let mut moved = household("H3", Some("B1"));
    moved.details.phone = Some("13911112222".into());
    let updated = store
        .write_household(&write(Some(created.id), 1, moved.clone()))
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.details.phone.as_deref(), Some("13911112222"));
    // From a stale version: refused, unchanged.
    moved.details.phone = None;
    match store
        .write_household(&write(Some(created.id), 1, moved.clone()))
        .await
    {
        Err(StoreError::HouseholdVersionMismatch {
            id,
            expected,
            stored,
        }) => {
            assert_eq!((id, expected, stored), (created.id, 1, 2));
        }
        other => panic!("{other:?}"),
    }
    let stored = store.households_by_id(&[created.id]).await.unwrap();
    assert_eq!(stored, std::slice::from_ref(&updated));
    // An import bumps the version too.
    store
        .upsert_households(&[household("H1", Some("B1"))])
        .await
        .unwrap();
    assert_eq!(
        store.households_by_id(&[first]).await.unwrap()[0].version,
        2
    );

    assert!(matches!(
        store
            .write_household(&write(None, 0, household("H4", Some("B9"))))
            .await,
        Err(StoreError::Item { .. })
    ));
    assert!(matches!(
        store
            .write_household(&write(Some(999_999), 1, household("H5", None)))
            .await,
        Err(StoreError::NoSuchHousehold(999_999))
    ));
    let trace = store.audit("household", Some(created.id)).await.unwrap();
    let actions: Vec<&str> = trace.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["create", "update"]);
    assert_eq!(trace[1].before.as_ref().unwrap()["version"], 1);
    assert_eq!(trace[1].after.as_ref().unwrap()["phone"], "13911112222");
    assert_eq!(trace[1].after.as_ref().unwrap()["lon"], 120.37115);
}

async fn a_correction_keeps_the_visit_it_corrects(store: Arc<dyn Store>) {
    let (first, second) = two_households(&store).await;
    let cadre = user(&store, "zhangwei", Role::Cadre, None).await;
    let at_door = visit(first, cadre.id, "c-1", "2026-11-20T02:00:00.000Z", true);
    let (original, _) = store.record_visit(&at_door).await.unwrap();
    // It was a phone call, not a visit at the door.
    let mut fixed = visit(first, cadre.id, "c-2", "2026-11-20T02:00:00.000Z", false);
    fixed.corrects = Some(original.id);
    let (correction, created) = store.record_visit(&fixed).await.unwrap();
    assert!(created);
    assert_eq!(correction.corrects, Some(original.id));
    let kept = store.visit(original.id).await.unwrap().unwrap();
    assert_eq!(kept.corrected_by, Some(correction.id));
    assert_eq!(
        (kept.on_site, kept.notes.as_str()),
        (true, original.notes.as_str()),
        "kept as it was"
    );
    // Only what is not corrected counts.
    let last = store.last_visits().await.unwrap();
    assert_eq!(last[0].on_site, None, "{last:?}");
    let work = store.cadre_work("2026-11-01T00:00:00.000Z").await.unwrap();
    assert_eq!(work[0].on_site_visits, 0);

    let mut twice = visit(first, cadre.id, "c-3", "2026-11-20T02:00:00.000Z", true);
    twice.corrects = Some(original.id);
    match store.record_visit(&twice).await {
        Err(StoreError::AlreadyCorrected { visit_id, by }) => {
            assert_eq!((visit_id, by), (original.id, correction.id));
        }
        other => panic!("{other:?}"),
    }
    let mut elsewhere = visit(second, cadre.id, "c-4", "2026-11-20T02:00:00.000Z", true);
    elsewhere.corrects = Some(correction.id);
    assert!(matches!(
        store.record_visit(&elsewhere).await,
        Err(StoreError::CorrectsAnotherHousehold { .. })
    ));
    let mut nothing = visit(first, cadre.id, "c-5", "2026-11-20T02:00:00.000Z", true);
    nothing.corrects = Some(999_999);
    assert!(matches!(
        store.record_visit(&nothing).await,
        Err(StoreError::NoSuchVisit(999_999))
    ));
    assert_eq!(
        store.visits(first).await.unwrap().len(),
        2,
        "refused corrections store nothing"
    );
    assert_eq!(store.visits(second).await.unwrap().len(), 0);
}

store_contract!(
    a_correction_keeps_the_visit_it_corrects,
    a_household_is_written_alone_with_its_version_and_trace,
    an_import_of_visits_stores_all_or_nothing,
    households_are_read_by_id_and_found_by_text,
    a_visit_is_stored_once_per_key,
    needs_stay_open_until_met,
    the_latest_visits_and_each_cadres_work_are_counted,
    a_secretary_keeps_their_community,
);
