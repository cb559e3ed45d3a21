//! Claims of responsibility areas, the store contract on SQLite and on PostGIS: one holder at a
//! time, a history that outlives the area, the order of changes of holders, contact details.

use crate::common;

use common::fixtures::{hierarchy, household, user};
use serde_json::json;
use std::sync::Arc;
use wangge::auth::{Role, User};
use wangge::model::{ClaimEnd, HeldArea, Holder, HouseholdAssignment, Id, PlaceKind};
use wangge::store::{Store, StoreError};

/// Unix milliseconds of a stored claim time (`YYYY-MM-DDTHH:MM:SS.mmmZ`), read with the `time`
/// crate as an independent check of the stored text.
fn millis(t: &str) -> i64 {
    assert_eq!(t.len(), 24, "{t}");
    assert!(t.ends_with('Z'), "{t}");
    let instant = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{t}: {e}"));
    i64::try_from(instant.unix_timestamp_nanos() / 1_000_000).unwrap()
}

/// Unix milliseconds in the stored form, the inverse of [`millis`].
fn stored(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap()
}

async fn users_keep_their_contact_details(store: Arc<dyn Store>) {
    let zhang = user(&store, "zhangwei", Role::Cadre, Some("张伟")).await;
    assert_eq!(zhang.display_name.as_deref(), Some("张伟"));
    assert_eq!(zhang.phone.as_deref(), Some("13900001111"));
    let found = store.user_by_name("zhangwei").await.unwrap().unwrap();
    assert_eq!(found.user, zhang);
    store.create_token("t", zhang.id, i64::MAX).await.unwrap();
    assert_eq!(store.token_user("t", 0).await.unwrap(), Some(zhang));
    let plain = store.create_user("li", Role::Cadre, "h").await.unwrap();
    assert_eq!((plain.display_name, plain.phone), (None, None));
}

async fn an_area_has_one_holder_and_a_history(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let places = store.places(None).await.unwrap();
    let id = |code: &str| places.iter().find(|p| p.code == code).unwrap().id;
    let area = id("370202010-Q01");
    let grid = id("370202010001001");
    let zhang = user(&store, "zhangwei", Role::Cadre, Some("张伟")).await;
    let li = user(&store, "li", Role::Cadre, None).await;
    let admin = user(&store, "admin", Role::Admin, None).await;
    let planner = user(&store, "planner", Role::Planner, None).await;
    let holder = |u: &User| Holder::from(u);

    // Only areas can be claimed.
    let err = store.claim_area(area + 1000, zhang.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NoSuchArea(_)), "{err:?}");
    let err = store.claim_area(grid, zhang.id).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::NotAnArea {
                kind: PlaceKind::Grid,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        store.area_claims(grid).await.unwrap_err(),
        StoreError::NotAnArea { .. }
    ));
    assert_eq!(store.area_claims(area).await.unwrap(), vec![]);
    let err = store
        .release_area(area, zhang.id, zhang.id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotHeld { current: None, .. }),
        "not held: {err:?}"
    );

    // Zhang claims; nobody else can, not even Zhang again.
    let (first, first_seq) = store.claim_area(area, zhang.id).await.unwrap();
    assert_eq!(first.holder, holder(&zhang));
    assert_eq!((first.area_id, first.released_at.clone()), (area, None));
    for who in [&li, &zhang] {
        let err = store.claim_area(area, who.id).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::AlreadyClaimed { current: Some(c), .. } if c.holder.display_name.as_deref() == Some("张伟")),
            "{err:?}"
        );
    }
    assert_eq!(store.current_claims().await.unwrap(), vec![first.clone()]);
    // The read in order names the last change it includes; refused writes take no number.
    assert_eq!(
        store.current_claims_ordered().await.unwrap(),
        (first_seq, vec![first.clone()])
    );

    // Li cannot release Zhang's claim; Zhang can.
    let err = store.release_area(area, li.id, li.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotHeld {
                current: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    let (released, released_seq) = store.release_area(area, zhang.id, zhang.id).await.unwrap();
    assert!(released_seq > first_seq, "{released_seq} after {first_seq}");
    assert_eq!(
        store.current_claims_ordered().await.unwrap(),
        (released_seq, vec![])
    );
    assert_eq!(released.ended_by, Some(ClaimEnd::Release));
    assert_eq!(released.ended_by_user, Some(zhang.id));
    let released_at = released.released_at.clone().unwrap();
    assert!(millis(&released_at) >= millis(&first.claimed_at));
    assert_eq!(store.current_claims().await.unwrap(), vec![]);

    // Li claims; an admin hands the area back to Zhang, but never to a planner or its holder.
    let (second, second_seq) = store.claim_area(area, li.id).await.unwrap();
    assert!(second_seq > released_seq);
    let err = store
        .reassign_area(area, planner.id, admin.id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotACadre {
                role: Role::Planner,
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .reassign_area(area, li.id, admin.id)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyClaimed { .. }), "{err:?}");
    let err = store
        .reassign_area(area, li.id + 1000, admin.id)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSuchUser(_)), "{err:?}");
    let (third, third_seq) = store.reassign_area(area, zhang.id, admin.id).await.unwrap();
    assert!(third_seq > second_seq);
    assert_eq!(third.holder, holder(&zhang));

    let history = store.area_claims(area).await.unwrap();
    let summary: Vec<(Id, Option<ClaimEnd>, Option<Id>)> = history
        .iter()
        .map(|c| (c.holder.id, c.ended_by, c.ended_by_user))
        .collect();
    assert_eq!(
        summary,
        [
            (zhang.id, Some(ClaimEnd::Release), Some(zhang.id)),
            (li.id, Some(ClaimEnd::Reassign), Some(admin.id)),
            (zhang.id, None, None),
        ]
    );
    // A reassignment ends one claim at the instant the next starts.
    assert_eq!(history[1].released_at.as_deref(), Some(&*third.claimed_at));
    assert_eq!(history[1].claimed_at, second.claimed_at);

    // Who held it when: claims are half-open intervals [claimed_at, released_at).
    let at = |t: String| {
        let store = store.clone();
        async move {
            let claims = store.holders_at(&t).await.unwrap();
            assert!(claims.len() <= 1, "{claims:?}");
            claims.first().map(|c| c.holder.id)
        }
    };
    let before = |t: &str| stored(millis(t) - 1);
    assert_eq!(stored(millis(&first.claimed_at)), first.claimed_at);
    assert_eq!(at("0001-01-01T00:00:00.000Z".into()).await, None);
    assert_eq!(at(first.claimed_at.clone()).await, Some(zhang.id));
    assert_eq!(at(before(&first.claimed_at)).await, None);
    if released_at > first.claimed_at {
        // (A release in the claim's own millisecond leaves no instant between them.)
        assert_eq!(at(before(&released_at)).await, Some(zhang.id));
    }
    assert_ne!(at(released_at.clone()).await, Some(zhang.id));
    if third.claimed_at > second.claimed_at {
        assert_eq!(at(before(&third.claimed_at)).await, Some(li.id));
    }
    assert_eq!(at(third.claimed_at.clone()).await, Some(zhang.id));
    assert_eq!(at("9999-12-31T23:59:59.999Z".into()).await, Some(zhang.id));
    for bad in [
        "2026-11-28",
        "2026-11-28T08:00:00Z",
        "2026-11-28T08:00:00.000+08:00",
        "x",
    ] {
        let err = store.holders_at(bad).await.unwrap_err();
        assert!(matches!(err, StoreError::BadInstant(_)), "{bad}: {err:?}");
    }

    // Each change is in the trace with the holder before and after.
    let trace = store.audit("area", Some(area)).await.unwrap();
    let actions: Vec<(&str, Option<Id>)> = trace
        .iter()
        .map(|r| (r.action.as_str(), r.user_id))
        .collect();
    assert_eq!(
        actions,
        [
            ("claim", Some(zhang.id)),
            ("release", Some(zhang.id)),
            ("claim", Some(li.id)),
            ("reassign", Some(admin.id)),
        ]
    );
    assert_eq!(trace[0].before, Some(json!({"holder": null})));
    assert_eq!(
        trace[0].after.as_ref().unwrap()["holder"]["display_name"],
        "张伟"
    );
    assert_eq!(trace[3].before.as_ref().unwrap()["holder"]["name"], "li");
    assert_eq!(
        trace[3].after.as_ref().unwrap()["holder"]["name"],
        "zhangwei"
    );
}

async fn my_areas_count_their_households(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    store
        .upsert_households(&[
            household("H1", None),
            household("H2", None),
            household("H3", None),
        ])
        .await
        .unwrap();
    let places = store.places(None).await.unwrap();
    let area = places.iter().find(|p| p.code == "370202010-Q01").unwrap();
    let households = store.households().await.unwrap();
    let in_area = |h: usize, inside: bool| HouseholdAssignment {
        household_id: households[h].id,
        grid_id: None,
        area_ids: if inside { vec![area.id] } else { vec![] },
    };
    store
        .apply_assignments(
            &[in_area(0, true), in_area(1, false), in_area(2, true)],
            &[],
        )
        .await
        .unwrap();
    let zhang = user(&store, "zhangwei", Role::Cadre, None).await;
    assert_eq!(store.held_areas(zhang.id).await.unwrap(), vec![]);
    let (claim, _) = store.claim_area(area.id, zhang.id).await.unwrap();
    assert_eq!(
        store.held_areas(zhang.id).await.unwrap(),
        vec![HeldArea {
            id: area.id,
            code: area.code.clone(),
            name: area.name.clone(),
            claimed_at: claim.claimed_at,
            households: 2,
        }]
    );
    store
        .release_area(area.id, zhang.id, zhang.id)
        .await
        .unwrap();
    assert_eq!(store.held_areas(zhang.id).await.unwrap(), vec![]);
}

/// The database, not the caller, keeps one holder: 40 claims at once, one wins.
async fn concurrent_claims_have_one_winner(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let places = store.places(None).await.unwrap();
    let area = places
        .iter()
        .find(|p| p.kind == PlaceKind::Area)
        .unwrap()
        .id;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(user(&store, &format!("cadre{i}"), Role::Cadre, None).await);
    }
    let attempts: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            let user = users[i % users.len()].id;
            tokio::spawn(async move { store.claim_area(area, user).await })
        })
        .collect();
    let mut won = Vec::new();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok((claim, _)) => won.push(claim),
            Err(StoreError::AlreadyClaimed { .. }) => {}
            Err(other) => panic!("a losing claim must be a conflict: {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    assert_eq!(store.current_claims().await.unwrap(), won);
    assert_eq!(store.area_claims(area).await.unwrap().len(), 1);
    assert_eq!(store.audit("area", Some(area)).await.unwrap().len(), 1);
}

store_contract!(
    users_keep_their_contact_details,
    an_area_has_one_holder_and_a_history,
    my_areas_count_their_households,
    concurrent_claims_have_one_winner,
);

/// Deleting a claimed area, by any writer, ends its claim; its history stays readable.
async fn deleting_an_area_ends_its_claim(
    store: Arc<dyn Store>,
    delete_place: impl AsyncFnOnce(Id),
) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let places = store.places(None).await.unwrap();
    let area = places
        .iter()
        .find(|p| p.kind == PlaceKind::Area)
        .unwrap()
        .id;
    let zhang = store.create_user("zhang", Role::Cadre, "h").await.unwrap();
    let li = store.create_user("li", Role::Cadre, "h").await.unwrap();
    store.claim_area(area, li.id).await.unwrap();
    store.release_area(area, li.id, li.id).await.unwrap();
    let (claim, _) = store.claim_area(area, zhang.id).await.unwrap();
    delete_place(area).await;
    assert_eq!(store.current_claims().await.unwrap(), vec![]);
    assert_eq!(store.held_areas(zhang.id).await.unwrap(), vec![]);
    let history = store.area_claims(area).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].ended_by, Some(ClaimEnd::Release));
    assert_eq!(history[1].ended_by, Some(ClaimEnd::Delete));
    assert_eq!(history[1].ended_by_user, None);
    assert!(history[1].released_at.as_deref().unwrap() >= claim.claimed_at.as_str());
    let err = store.claim_area(area, zhang.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NoSuchArea(_)), "{err:?}");
}

#[tokio::test]
async fn deleting_an_area_ends_its_claim_on_sqlite() {
    let db = common::temp_sqlite();
    let store = common::sqlite_store(&db).await;
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    deleting_an_area_ends_its_claim(store, async |id| {
        sqlx::query("DELETE FROM places WHERE id = ?")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn deleting_an_area_ends_its_claim_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let store = wangge::store::open(&url).await.unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    deleting_an_area_ends_its_claim(store, async |id| {
        sqlx::query("DELETE FROM places WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
}
