//! One contract, two backends: every test here runs against SQLite and against PostGIS.

use crate::common;

use common::fixtures::{building, hierarchy, household, place, square};

use geo::{MultiPolygon, polygon};
use serde_json::json;
use std::sync::Arc;
use wangge::auth::{NewAudit, Role};
use wangge::model::edit::{EditAction, PlaceChange, PlaceEdit, PlaceFields};
use wangge::model::requests::{NewRequest, Reporter, Spot};
use wangge::model::visits::{NeedKind, NewNeed, NewVisit};
use wangge::model::{BuildingAssignment, HouseholdAssignment, PlaceKind};
use wangge::store::{ChangeFeed, Changed};
use wangge::store::{Counts, ItemProblem, Store, StoreError, WriteSummary};

async fn an_empty_store_counts_nothing(store: Arc<dyn Store>) {
    assert_eq!(store.counts().await.unwrap(), Counts::default());
    assert!(store.places(None).await.unwrap().is_empty());
}

async fn places_round_trip_with_parents_resolved(store: Arc<dyn Store>) {
    let written = hierarchy();
    let summary = store.upsert_places(&written).await.unwrap();
    assert_eq!(
        summary,
        WriteSummary {
            inserted: 6,
            updated: 0
        }
    );
    let stored = store.places(None).await.unwrap();
    assert_eq!(stored.len(), 6);
    for (new, old) in written.iter().zip(&stored) {
        assert_eq!(old.code, new.code);
        assert_eq!(old.kind, new.kind);
        assert_eq!(old.name, new.name);
        assert_eq!(
            old.geometry, new.geometry,
            "geometry must round-trip exactly"
        );
        assert_eq!(old.version, 1);
        let parent_code = old
            .parent_id
            .map(|id| stored.iter().find(|p| p.id == id).unwrap().code.clone());
        assert_eq!(parent_code, new.parent_code);
    }
    let grids = store.places(Some(PlaceKind::Grid)).await.unwrap();
    assert_eq!(grids.len(), 2);
    assert_eq!(store.place(grids[0].id).await.unwrap().unwrap(), grids[0]);
    assert!(store.place(9_999_999).await.unwrap().is_none());
}

async fn upserting_an_existing_code_updates_it_and_bumps_the_version(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let mut moved = hierarchy()[3].clone();
    moved.name = "第一网格（调整）".into();
    moved.geometry = square(120.37, 36.05, 0.004);
    let summary = store.upsert_places(&[moved.clone()]).await.unwrap();
    assert_eq!(
        summary,
        WriteSummary {
            inserted: 0,
            updated: 1
        }
    );
    let grid = store
        .places(Some(PlaceKind::Grid))
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.code == moved.code)
        .unwrap();
    assert_eq!((grid.name.as_str(), grid.version), (moved.name.as_str(), 2));
    assert_eq!(grid.geometry, moved.geometry);
    assert_eq!(store.counts().await.unwrap().places, 6);
}

async fn a_bad_item_stores_nothing_of_its_batch(store: Arc<dyn Store>) {
    let mut batch = hierarchy();
    batch[4].parent_code = Some("999999999999".into());
    let err = store.upsert_places(&batch).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Item {
                position: 4,
                problem: ItemProblem::UnknownParent(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("item 4"), "{err}");
    assert!(err.to_string().contains("999999999999"), "{err}");
    assert_eq!(
        store.counts().await.unwrap().places,
        0,
        "nothing half-imported"
    );
}

async fn parents_must_be_of_the_right_kind(store: Arc<dyn Store>) {
    let mut batch = hierarchy();
    batch[3].parent_code = Some("370202010".into()); // a grid under a street
    let err = store.upsert_places(&batch).await.unwrap_err();
    assert!(err.to_string().contains("must be a community"), "{err}");
    let mut orphan = hierarchy();
    orphan[1].parent_code = None;
    let err = store.upsert_places(&orphan).await.unwrap_err();
    assert!(err.to_string().contains("needs a parent_code"), "{err}");
    assert_eq!(store.counts().await.unwrap().places, 0);
}

async fn a_code_cannot_change_kind(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let clash = place(
        PlaceKind::Area,
        "370202010001001",
        Some("370202010"),
        square(120.37, 36.05, 0.001),
    );
    let err = store.upsert_places(&[clash]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Item {
                problem: ItemProblem::CodeOfAnotherKind(PlaceKind::Grid),
                ..
            }
        ),
        "{err:?}"
    );
    let grid = store.places(Some(PlaceKind::Grid)).await.unwrap();
    assert_eq!(grid[0].version, 1, "unchanged");
}

async fn buildings_and_households_round_trip(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let s = store.upsert_buildings(&[building("B1")]).await.unwrap();
    assert_eq!(
        s,
        WriteSummary {
            inserted: 1,
            updated: 0
        }
    );
    let s = store
        .upsert_households(&[household("H1", Some("B1")), household("H2", None)])
        .await
        .unwrap();
    assert_eq!(
        s,
        WriteSummary {
            inserted: 2,
            updated: 0
        }
    );
    let buildings = store.buildings().await.unwrap();
    assert_eq!(buildings[0].footprint, building("B1").footprint);
    assert_eq!(
        (
            buildings[0].floors,
            buildings[0].units,
            buildings[0].grid_id
        ),
        (7, 2, None)
    );
    let households = store.households().await.unwrap();
    assert_eq!(households.len(), 2);
    assert_eq!(households[0].details, household("H1", Some("B1")).details);
    assert_eq!(households[0].location, household("H1", None).location);
    assert_eq!(households[1].details.building_code, None);
    // Update by code.
    let mut again = household("H1", Some("B1"));
    again.details.people = 4;
    let s = store.upsert_households(&[again]).await.unwrap();
    assert_eq!(
        s,
        WriteSummary {
            inserted: 0,
            updated: 1
        }
    );
    assert_eq!(store.households().await.unwrap()[0].details.people, 4);
    assert_eq!(
        store.counts().await.unwrap(),
        Counts {
            places: 6,
            buildings: 1,
            households: 2
        }
    );
}

async fn a_household_in_an_unknown_building_is_refused(store: Arc<dyn Store>) {
    let err = store
        .upsert_households(&[household("H1", None), household("H2", Some("NOPE"))])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Item {
                problem: ItemProblem::UnknownBuilding(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("item 1") && err.to_string().contains("NOPE"),
        "{err}"
    );
    assert_eq!(store.counts().await.unwrap().households, 0);
}

async fn constraint_violations_are_invalid_not_internal(store: Arc<dyn Store>) {
    let mut tall = building("B1");
    tall.floors = 0;
    let err = store.upsert_buildings(&[tall]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Item {
                problem: ItemProblem::Refused { clash: false, .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("item 0 (B1)"), "{err}");
}

async fn assignments_are_recorded(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    store.upsert_buildings(&[building("B1")]).await.unwrap();
    store
        .upsert_households(&[household("H1", Some("B1")), household("H2", None)])
        .await
        .unwrap();
    let places = store.places(None).await.unwrap();
    let id = |code: &str| places.iter().find(|p| p.code == code).unwrap().id;
    let households = store.households().await.unwrap();
    let building = store.buildings().await.unwrap()[0].id;
    store
        .apply_assignments(
            &[
                HouseholdAssignment {
                    household_id: households[0].id,
                    grid_id: Some(id("370202010001001")),
                    area_ids: vec![id("370202010-Q01")],
                },
                HouseholdAssignment {
                    household_id: households[1].id,
                    grid_id: None,
                    area_ids: vec![],
                },
            ],
            &[BuildingAssignment {
                building_id: building,
                grid_id: Some(id("370202010001001")),
            }],
        )
        .await
        .unwrap();
    let households = store.households().await.unwrap();
    assert_eq!(households[0].grid_id, Some(id("370202010001001")));
    assert_eq!(households[0].area_ids, vec![id("370202010-Q01")]);
    assert_eq!(
        (households[1].grid_id, households[1].area_ids.len()),
        (None, 0)
    );
    assert_eq!(
        store.buildings().await.unwrap()[0].grid_id,
        Some(id("370202010001001"))
    );
    // Reassigning replaces, not adds.
    store
        .apply_assignments(
            &[HouseholdAssignment {
                household_id: households[0].id,
                grid_id: Some(id("370202010001002")),
                area_ids: vec![],
            }],
            &[],
        )
        .await
        .unwrap();
    let households = store.households().await.unwrap();
    assert_eq!(households[0].grid_id, Some(id("370202010001002")));
    assert!(households[0].area_ids.is_empty());
}

async fn users_are_created_and_found_by_name(store: Arc<dyn Store>) {
    let user = store
        .create_user("张伟", Role::Cadre, "$argon2id$fake")
        .await
        .unwrap();
    assert_eq!(user.name, "张伟");
    assert_eq!(user.role, Role::Cadre);
    let found = store.user_by_name("张伟").await.unwrap().unwrap();
    assert_eq!(found.user, user);
    assert_eq!(found.password_hash, "$argon2id$fake");
    assert!(store.user_by_name("nobody").await.unwrap().is_none());
}

async fn a_duplicate_user_name_is_a_conflict(store: Arc<dyn Store>) {
    store.create_user("li", Role::Admin, "h").await.unwrap();
    let err = store
        .create_user("li", Role::Planner, "h2")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NameTaken(ref m) if m == "li"),
        "{err:?}"
    );
    let err = store.create_user("", Role::Planner, "h").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Refused { clash: false, .. }),
        "{err:?}"
    );
}

async fn tokens_expire_and_can_be_revoked(store: Arc<dyn Store>) {
    let user = store.create_user("wang", Role::Planner, "h").await.unwrap();
    let now = 1_800_000_000;
    store.create_token("live", user.id, now + 60).await.unwrap();
    store.create_token("old", user.id, now - 1).await.unwrap();
    assert_eq!(
        store.token_user("live", now).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        store.token_user("live", now + 60).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.token_user("old", now).await.unwrap(), None);
    assert_eq!(store.token_user("unknown", now).await.unwrap(), None);
    assert!(!store.revoke_token("old", now).await.unwrap());
    assert!(store.revoke_token("live", now).await.unwrap());
    assert!(
        !store.revoke_token("live", now).await.unwrap(),
        "already revoked"
    );
    assert_eq!(store.token_user("live", now).await.unwrap(), None);
    let err = store
        .create_token("live", user.id, now + 60)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Refused { clash: true, .. }),
        "{err:?}"
    );
    let err = store
        .create_token("t", user.id + 100, now + 60)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Refused { clash: true, .. }),
        "{err:?}"
    );

    // "live" is revoked and "old" expired: both go; a token still valid stays valid.
    store
        .create_token("fresh", user.id, now + 60)
        .await
        .unwrap();
    assert_eq!(store.forget_dead_tokens(now).await.unwrap(), 2);
    assert_eq!(store.forget_dead_tokens(now).await.unwrap(), 0);
    assert_eq!(store.token_user("fresh", now).await.unwrap(), Some(user));
    assert_eq!(
        store.forget_dead_tokens(now + 60).await.unwrap(),
        1,
        "expired"
    );
}

async fn audit_records_are_appended_and_listed(store: Arc<dyn Store>) {
    let user = store.create_user("zhao", Role::Admin, "h").await.unwrap();
    let record = |user_id, action: &str, entity: &str, entity_id, after| NewAudit {
        user_id,
        action: action.into(),
        entity: entity.into(),
        entity_id,
        before: None,
        after,
    };
    let first = store
        .append_audit(&record(
            None,
            "create",
            "user",
            Some(user.id),
            Some(json!({"name": "zhao", "role": "admin", "标签": [1, 2.5]})),
        ))
        .await
        .unwrap();
    let second = store
        .append_audit(&NewAudit {
            before: Some(json!({"name": "old"})),
            ..record(Some(user.id), "login", "user", Some(user.id), None)
        })
        .await
        .unwrap();
    store
        .append_audit(&record(
            Some(user.id),
            "update",
            "place",
            Some(user.id),
            None,
        ))
        .await
        .unwrap();
    assert!(second > first);
    let records = store.audit("user", Some(user.id)).await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].id, first);
    assert_eq!(records[0].user_id, None);
    assert_eq!(records[0].action, "create");
    assert_eq!(
        records[0].after,
        Some(json!({"name": "zhao", "role": "admin", "标签": [1, 2.5]}))
    );
    assert_eq!(records[0].before, None);
    assert!(
        records[0].at.ends_with('Z') && records[0].at.len() >= 20,
        "{}",
        records[0].at
    );
    assert_eq!(records[1].action, "login");
    assert_eq!(records[1].user_id, Some(user.id));
    assert_eq!(records[1].before, Some(json!({"name": "old"})));
    assert!(records[1].at >= records[0].at);
    assert_eq!(store.audit("user", None).await.unwrap().len(), 2);
    assert_eq!(
        store.audit("user", Some(user.id + 1)).await.unwrap(),
        vec![]
    );
    assert_eq!(store.audit("place", None).await.unwrap().len(), 1);
}

/// The edit that moves a grid's geometry, expecting `version`.
fn move_grid(grid: &wangge::model::Place, version: i64, geometry: MultiPolygon<f64>) -> PlaceEdit {
    PlaceEdit {
        action: EditAction::Update,
        user_id: None,
        changes: vec![PlaceChange::Update {
            id: grid.id,
            expected_version: version,
            place: PlaceFields {
                geometry,
                ..PlaceFields::of(grid)
            },
        }],
        households: vec![],
        buildings: vec![],
    }
}

async fn imports_start_a_history(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    store.upsert_places(&hierarchy()[..1]).await.unwrap();
    let district = &store.places(Some(PlaceKind::District)).await.unwrap()[0];
    let history = store.place_history(district.id).await.unwrap();
    let versions: Vec<(i64, EditAction, bool)> = history
        .iter()
        .map(|v| (v.place.version, v.action, v.valid_to.is_none()))
        .collect();
    assert_eq!(
        versions,
        [
            (1, EditAction::Import, false),
            (2, EditAction::Import, true)
        ]
    );
    assert_eq!(
        history[0].valid_to.as_deref(),
        Some(history[1].valid_from.as_str())
    );
    assert!(history[0].user.is_none());
    assert!(store.place_history(9_999_999).await.unwrap().is_empty());
}

async fn an_edit_with_a_stale_version_changes_nothing(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let grid = store.places(Some(PlaceKind::Grid)).await.unwrap()[0].clone();
    let moved = square(120.37, 36.05, 0.004);
    let done = store
        .commit_edit(&move_grid(&grid, 1, moved.clone()))
        .await
        .unwrap();
    assert_eq!(done.places[0].version, 2);
    let stored = store.place(grid.id).await.unwrap().unwrap();
    assert_eq!((stored.version, &stored.geometry), (2, &moved));

    // A second edit that still expects version 1 fails and stores nothing.
    let audit_before = store.audit("grid", Some(grid.id)).await.unwrap().len();
    let err = store
        .commit_edit(&move_grid(&grid, 1, square(120.37, 36.05, 0.003)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch { .. }), "{err:?}");
    assert_eq!(store.place(grid.id).await.unwrap().unwrap(), stored);
    assert_eq!(store.place_history(grid.id).await.unwrap().len(), 2);
    assert_eq!(
        store.audit("grid", Some(grid.id)).await.unwrap().len(),
        audit_before
    );

    // Deleting with a stale version fails too; an unknown id is not found.
    let stale_delete = PlaceEdit {
        action: EditAction::Delete,
        changes: vec![PlaceChange::Delete {
            id: grid.id,
            expected_version: 1,
        }],
        ..move_grid(&grid, 1, moved.clone())
    };
    assert!(matches!(
        store.commit_edit(&stale_delete).await.unwrap_err(),
        StoreError::VersionMismatch { .. }
    ));
    let unknown = PlaceEdit {
        changes: vec![PlaceChange::Delete {
            id: 9_999_999,
            expected_version: 1,
        }],
        ..stale_delete.clone()
    };
    assert!(matches!(
        store.commit_edit(&unknown).await.unwrap_err(),
        StoreError::NoSuchPlace(_)
    ));
}

async fn history_grows_and_answers_as_of_an_instant(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let grid = store.places(Some(PlaceKind::Grid)).await.unwrap()[0].clone();
    let before_edit = wangge::timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let done = store
        .commit_edit(&PlaceEdit {
            user_id: None,
            ..move_grid(&grid, 1, square(120.37, 36.05, 0.004))
        })
        .await
        .unwrap();
    let history = store.place_history(grid.id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].action, EditAction::Update);
    assert_eq!(history[1].valid_from, done.at);
    assert_eq!(history[0].valid_to.as_deref(), Some(done.at.as_str()));
    assert_eq!(history[0].place.geometry, grid.geometry);

    let then = store.places_at(&before_edit).await.unwrap();
    let old = then.iter().find(|p| p.id == grid.id).unwrap();
    assert_eq!((old.version, &old.geometry), (1, &grid.geometry));
    let now = store.places_at(&done.at).await.unwrap();
    assert_eq!(now.iter().find(|p| p.id == grid.id).unwrap().version, 2);
    assert_eq!(then.len(), 6);
    assert!(
        store
            .places_at("2000-01-01T00:00:00.000Z")
            .await
            .unwrap()
            .is_empty()
    );

    // A deleted place keeps its history and is gone from then on.
    let area = store.places(Some(PlaceKind::Area)).await.unwrap()[0].clone();
    let deleted = store
        .commit_edit(&PlaceEdit {
            action: EditAction::Delete,
            user_id: None,
            changes: vec![PlaceChange::Delete {
                id: area.id,
                expected_version: 1,
            }],
            households: vec![],
            buildings: vec![],
        })
        .await
        .unwrap();
    assert_eq!(deleted.deleted, [area.id]);
    assert!(store.place(area.id).await.unwrap().is_none());
    let history = store.place_history(area.id).await.unwrap();
    assert_eq!(history.last().unwrap().action, EditAction::Delete);
    assert!(
        !store
            .places_at(&deleted.at)
            .await
            .unwrap()
            .iter()
            .any(|p| p.id == area.id)
    );
    // Its id is never given to a new place (the area was the last one inserted).
    let fresh = store
        .commit_edit(&PlaceEdit {
            action: EditAction::Create,
            user_id: None,
            changes: vec![PlaceChange::Insert {
                temp_id: -1,
                place: PlaceFields {
                    code: "370202010-Q02".into(),
                    ..PlaceFields::of(&area)
                },
            }],
            households: vec![],
            buildings: vec![],
        })
        .await
        .unwrap();
    assert!(fresh.real_id(-1) > area.id);
    assert_eq!(store.place_history(area.id).await.unwrap().len(), 2);
    let records = store.audit("area", Some(area.id)).await.unwrap();
    let last = records.last().unwrap();
    assert_eq!(last.action, "delete");
    assert_eq!(
        last.before.as_ref().unwrap()["properties"]["code"],
        json!(area.code)
    );
    assert!(last.after.is_none());
}

async fn an_edit_stores_places_versions_reassignments_and_audit_at_once(store: Arc<dyn Store>) {
    store.upsert_places(&hierarchy()).await.unwrap();
    store.upsert_buildings(&[building("B1")]).await.unwrap();
    store
        .upsert_households(&[household("H1", Some("B1"))])
        .await
        .unwrap();
    let user = store
        .create_user("planner", Role::Planner, "x")
        .await
        .unwrap();
    let community = store.places(Some(PlaceKind::Community)).await.unwrap()[0].clone();
    let grid = store.places(Some(PlaceKind::Grid)).await.unwrap()[0].clone();
    let household_id = store.households().await.unwrap()[0].id;
    let building_id = store.buildings().await.unwrap()[0].id;
    // A new grid, split off the first, takes the household and the building (named by the
    // insert's temporary id).
    let edit = PlaceEdit {
        action: EditAction::Split,
        user_id: Some(user.id),
        changes: vec![
            PlaceChange::Update {
                id: grid.id,
                expected_version: 1,
                place: PlaceFields {
                    geometry: square(120.3725, 36.05, 0.0025),
                    ..PlaceFields::of(&grid)
                },
            },
            PlaceChange::Insert {
                temp_id: -1,
                place: PlaceFields {
                    kind: PlaceKind::Grid,
                    code: "370202010001009".into(),
                    name: "新网格".into(),
                    parent_id: Some(community.id),
                    geometry: square(120.37, 36.05, 0.0025),
                },
            },
        ],
        households: vec![HouseholdAssignment {
            household_id,
            grid_id: Some(-1),
            area_ids: vec![],
        }],
        buildings: vec![BuildingAssignment {
            building_id,
            grid_id: Some(-1),
        }],
    };
    let done = store.commit_edit(&edit).await.unwrap();
    let new_id = done.real_id(-1);
    assert!(new_id > 0);
    assert_eq!(done.places.len(), 2);
    let household = &store.households().await.unwrap()[0];
    assert_eq!(
        (household.grid_id, household.area_ids.clone()),
        (Some(new_id), vec![])
    );
    assert_eq!(store.buildings().await.unwrap()[0].grid_id, Some(new_id));
    let history = store.place_history(new_id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, EditAction::Split);
    assert_eq!(
        history[0].user.as_ref().map(|u| u.name.as_str()),
        Some("planner")
    );
    let records = store.audit("grid", Some(grid.id)).await.unwrap();
    let last = records.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.user_id),
        ("split", Some(user.id))
    );
    assert_eq!(
        last.before.as_ref().unwrap()["properties"]["version"],
        json!(1)
    );
    assert_eq!(
        last.after.as_ref().unwrap()["properties"]["version"],
        json!(2)
    );
    assert_eq!(
        last.after.as_ref().unwrap()["geometry"]["type"],
        json!("MultiPolygon")
    );

    // The same edit again: the update is stale, so the insert (and its code) is rolled back too.
    let again = PlaceEdit {
        changes: vec![
            PlaceChange::Insert {
                temp_id: -1,
                place: PlaceFields {
                    code: "370202010001010".into(),
                    ..PlaceFields::of(&done.places[1])
                },
            },
            edit.changes[0].clone(),
        ],
        ..edit.clone()
    };
    assert!(matches!(
        store.commit_edit(&again).await.unwrap_err(),
        StoreError::VersionMismatch { .. }
    ));
    assert!(
        !store
            .places(None)
            .await
            .unwrap()
            .iter()
            .any(|p| p.code == "370202010001010")
    );
    assert_eq!(store.households().await.unwrap()[0].grid_id, Some(new_id));

    // A place with children cannot be deleted.
    let err = store
        .commit_edit(&PlaceEdit {
            action: EditAction::Delete,
            user_id: Some(user.id),
            changes: vec![PlaceChange::Delete {
                id: community.id,
                expected_version: 1,
            }],
            households: vec![],
            buildings: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::HasChildren { .. }), "{err:?}");
    assert!(store.place(community.id).await.unwrap().is_some());
}

store_contract!(
    imports_start_a_history,
    an_edit_with_a_stale_version_changes_nothing,
    history_grows_and_answers_as_of_an_instant,
    an_edit_stores_places_versions_reassignments_and_audit_at_once,
    an_empty_store_counts_nothing,
    places_round_trip_with_parents_resolved,
    upserting_an_existing_code_updates_it_and_bumps_the_version,
    a_bad_item_stores_nothing_of_its_batch,
    parents_must_be_of_the_right_kind,
    a_code_cannot_change_kind,
    buildings_and_households_round_trip,
    a_household_in_an_unknown_building_is_refused,
    constraint_violations_are_invalid_not_internal,
    assignments_are_recorded,
    users_are_created_and_found_by_name,
    a_duplicate_user_name_is_a_conflict,
    tokens_expire_and_can_be_revoked,
    audit_records_are_appended_and_listed,
);

/// PostGIS refuses an invalid polygon by itself, even from a writer that skipped our checks.
#[tokio::test]
async fn postgis_check_refuses_a_bowtie_written_past_validation() {
    let Some(store) = common::postgres_store().await else {
        return;
    };
    let bowtie = MultiPolygon(vec![polygon![
        (x: 120.0, y: 36.0), (x: 120.01, y: 36.01), (x: 120.01, y: 36.0), (x: 120.0, y: 36.01)
    ]]);
    let err = store
        .upsert_places(&[place(PlaceKind::District, "370202", None, bowtie)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Item { .. }), "{err:?}");
    assert_eq!(store.counts().await.unwrap().places, 0);
}

/// A PostGIS store hears the writes other stores commit to its schema, and not its own, not
/// those to another schema of the same database, and not those rolled back.
#[tokio::test]
async fn postgis_tells_of_writes_by_other_writers() {
    use std::time::Duration;
    let (Some(url), Some(elsewhere)) = (
        common::fresh_postgres_url().await,
        common::postgres_store().await,
    ) else {
        return;
    };
    let watcher = wangge::store::open(&url).await.unwrap();
    let other = wangge::store::open(&url).await.unwrap();
    let mut changes = watcher
        .watch_changes()
        .await
        .unwrap()
        .expect("PostGIS can tell");
    let quiet = async |changes: &mut ChangeFeed| {
        tokio::time::timeout(Duration::from_millis(500), changes.next())
            .await
            .is_err()
    };
    let heard = async |changes: &mut ChangeFeed| {
        tokio::time::timeout(Duration::from_secs(10), changes.next())
            .await
            .ok()
            .flatten()
            .expect("a message")
    };
    let everything = Changed {
        everything: true,
        ..Changed::default()
    };

    watcher.upsert_places(&hierarchy()).await.unwrap();
    assert!(quiet(&mut changes).await, "its own write");
    elsewhere.upsert_places(&hierarchy()).await.unwrap();
    assert!(quiet(&mut changes).await, "a write to another schema");
    let err = other
        .upsert_places(&[place(
            PlaceKind::Grid,
            "x",
            Some("nowhere"),
            square(120.0, 36.0, 0.001),
        )])
        .await;
    assert!(err.is_err());
    assert!(quiet(&mut changes).await, "a write rolled back");

    let area = watcher
        .places(Some(PlaceKind::Area))
        .await
        .unwrap()
        .remove(0)
        .id;
    let cadre = other.create_user("zhang", Role::Cadre, "h").await.unwrap();
    other.claim_area(area, cadre.id).await.unwrap();
    assert_eq!(
        heard(&mut changes).await,
        everything,
        "another writer's claim"
    );
    other
        .upsert_households(&[household("H1", None)])
        .await
        .unwrap();
    assert_eq!(
        heard(&mut changes).await,
        everything,
        "another writer's household"
    );
    assert!(quiet(&mut changes).await, "one write, one message");

    // A visit with a need, and the need met: only that household's diary is read again.
    let h1 = watcher.households().await.unwrap()[0].id;
    let (visit, _) = other
        .record_visit(&NewVisit {
            household_id: h1,
            user_id: cadre.id,
            key: "phone-record-1".into(),
            digest: "d1".into(),
            visited_at: "2026-11-30T02:30:00.000Z".into(),
            lon: 120.3712,
            lat: 36.0512,
            accuracy_m: Some(8.0),
            distance_m: 3.5,
            on_site: true,
            notes: "独居老人".into(),
            needs: vec![NewNeed {
                kind: NeedKind::Wristband,
                note: "需要智能手环".into(),
            }],
            corrects: None,
        })
        .await
        .unwrap();
    let only_h1 = Changed {
        visited: [h1].into(),
        ..Changed::default()
    };
    assert_eq!(heard(&mut changes).await, only_h1, "another writer's visit");
    assert!(quiet(&mut changes).await, "one visit, one message");
    other.meet_need(visit.needs[0].id, cadre.id).await.unwrap();
    assert_eq!(heard(&mut changes).await, only_h1, "a need met elsewhere");

    // A report, and a step of it: only that request is news, for the phones.
    let places = watcher.places(None).await.unwrap();
    let of = |kind: PlaceKind| places.iter().find(|p| p.kind == kind).unwrap().id;
    let report = NewRequest {
        category: "repair".into(),
        lon: 120.3712,
        lat: 36.0512,
        address: String::new(),
        description: "热水器坏了".into(),
        media_url: None,
        attributes: "{}".into(),
        reporter: Reporter::default(),
        household_id: Some(h1),
        posted_by: None,
        spot: Spot {
            grid_id: of(PlaceKind::Grid),
            area_id: Some(area),
            community_id: of(PlaceKind::Community),
            street_id: Some(of(PlaceKind::Street)),
        },
        requested_at: "2026-11-30T02:40:00.000Z".into(),
    };
    let request = other.submit_request(&report).await.unwrap();
    let only_it = Changed {
        requests: [request.id].into(),
        ..Changed::default()
    };
    assert_eq!(
        heard(&mut changes).await,
        only_it,
        "another writer's report"
    );
    assert!(quiet(&mut changes).await, "one report, one message");
}

#[tokio::test]
async fn sqlite_has_no_other_writers_to_tell_of() {
    let db = common::temp_sqlite();
    let store = common::sqlite_store(&db).await;
    assert!(store.watch_changes().await.unwrap().is_none());
}
