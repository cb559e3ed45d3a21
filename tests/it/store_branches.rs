//! Party branches in the store, on SQLite and on PostGIS: branches serve grids of their own
//! community, rolls are matched by phone and written all or nothing, an activity's attendance is
//! its branch's whole roll, it counts once its three photos are in and is not changed after,
//! and a lesson reaches every member on the chosen rolls and counts each first read.

use crate::common;

use common::fixtures::{hierarchy, household, user};
use std::sync::Arc;
use wangge::auth::Role;
use wangge::model::branches::{
    ActivityFilter, ActivityPhotoKind, ActivityType, Attendance, AttendanceStatus, MemberStatus,
    NewActivity, NewActivityPhoto, NewBranch, NewMember, PhotoFlag,
};
use wangge::model::lessons::{LessonRecipient, NewLesson};
use wangge::model::photos::PhotoCopy;
use wangge::model::requests::{NewRequest, Reporter, Spot};
use wangge::model::summary::{SummaryCounts, SummaryScope};
use wangge::model::visits::NewVisit;
use wangge::model::{HouseholdAssignment, Id, PlaceKind};
use wangge::store::{ItemProblem, Store, StoreError};

/// The fixture's community and its two grids, and a place that is no community (the street).
async fn places(store: &Arc<dyn Store>) -> (Id, Vec<Id>, Id) {
    store.upsert_places(&hierarchy()).await.unwrap();
    let ids = |kind| async move {
        let places = store.places(Some(kind)).await.unwrap();
        places.iter().map(|p| p.id).collect::<Vec<Id>>()
    };
    let community = ids(PlaceKind::Community).await[0];
    (
        community,
        ids(PlaceKind::Grid).await,
        ids(PlaceKind::Street).await[0],
    )
}

fn branch(code: &str, community_id: Id, grid_ids: Vec<Id>) -> NewBranch {
    NewBranch {
        code: code.into(),
        name: format!("{code}党支部"),
        community_id,
        grid_ids,
    }
}

fn member(name: &str, phone: &str, status: MemberStatus) -> NewMember {
    NewMember {
        name: name.into(),
        phone: phone.into(),
        joined_on: "2001-07-01".into(),
        status,
        city: (status == MemberStatus::Mobile).then(|| "深圳".to_string()),
    }
}

/// Two branches of the community, one grid each; returns their ids by code order.
async fn two_branches(store: &Arc<dyn Store>) -> (Id, Id) {
    let (community, grids, _) = places(store).await;
    store
        .upsert_branches(
            &[
                branch("B01", community, vec![grids[0]]),
                branch("B02", community, vec![grids[1]]),
            ],
            None,
        )
        .await
        .unwrap();
    let branches = store.branches().await.unwrap();
    (branches[0].id, branches[1].id)
}

async fn branches_serve_grids_of_their_own_community_and_every_change_is_audited(
    store: Arc<dyn Store>,
) {
    let (community, grids, street) = places(&store).await;
    let planner = user(&store, "planner", Role::Admin, None).await;
    let written = store
        .upsert_branches(
            &[branch("B01", community, vec![grids[1], grids[0]])],
            Some(planner.id),
        )
        .await;
    assert_eq!(written.unwrap().inserted, 1);
    let stored = store.branches().await.unwrap();
    assert_eq!(stored.len(), 1);
    let mut both = grids.clone();
    both.sort_unstable();
    assert_eq!(stored[0].grid_ids, both, "grids kept once each, ascending");
    assert_eq!(stored[0].community_id, community);

    // A write with one bad item writes none of its items.
    let bad = [
        branch("B02", community, vec![grids[0]]),
        branch("B03", street, vec![]),
    ];
    match store.upsert_branches(&bad, None).await {
        Err(StoreError::Item {
            position: 1,
            problem: ItemProblem::NotACommunity(id),
            ..
        }) => assert_eq!(id, street),
        other => panic!("a street as a community: {other:?}"),
    }
    let elsewhere = [branch("B02", community, vec![street])];
    assert!(matches!(
        store.upsert_branches(&elsewhere, None).await,
        Err(StoreError::Item {
            problem: ItemProblem::GridElsewhere { .. },
            ..
        })
    ));
    let twice = [
        branch("B02", community, vec![]),
        branch("B02", community, vec![]),
    ];
    assert!(matches!(
        store.upsert_branches(&twice, None).await,
        Err(StoreError::Item {
            position: 1,
            problem: ItemProblem::Repeated(0),
            ..
        })
    ));
    assert_eq!(store.branches().await.unwrap().len(), 1, "nothing of them");

    // The same code updates, replacing the grids.
    let mut renamed = branch("B01", community, vec![grids[1]]);
    renamed.name = "第一网格党支部".into();
    let summary = store.upsert_branches(&[renamed], None).await.unwrap();
    assert_eq!((summary.inserted, summary.updated), (0, 1));
    let stored = store.branches().await.unwrap();
    assert_eq!(stored[0].name, "第一网格党支部");
    assert_eq!(stored[0].grid_ids, vec![grids[1]]);
    let trace = store.audit("branch", Some(stored[0].id)).await.unwrap();
    let actions: Vec<&str> = trace.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["create", "update"]);
    assert_eq!(
        trace[1].before.as_ref().unwrap()["grid_ids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(trace[1].after.as_ref().unwrap()["name"], "第一网格党支部");
}

async fn members_are_matched_by_phone_and_an_import_is_all_or_nothing(store: Arc<dyn Store>) {
    let (first, second) = two_branches(&store).await;
    let roll = [
        member("张伟", "13800000001", MemberStatus::Active),
        member("李娜", "13800000002", MemberStatus::Mobile),
        member("王强", "13800000003", MemberStatus::Active),
    ];
    let summary = store.import_members(first, &roll, None).await.unwrap();
    assert_eq!((summary.inserted, summary.updated), (3, 0));
    let stored = store.members(first).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[1].city.as_deref(), Some("深圳"));
    assert_eq!(stored[0].joined_on, "2001-07-01");

    // A phone twice, or a mobile member without a city: nothing of the import is written.
    let twice = [
        member("张伟", "13800000001", MemberStatus::Transferred),
        member("张伟", "13800000001", MemberStatus::Active),
    ];
    assert!(matches!(
        store.import_members(first, &twice, None).await,
        Err(StoreError::Item {
            position: 1,
            problem: ItemProblem::Repeated(0),
            ..
        })
    ));
    let mut cityless = member("赵敏", "13800000004", MemberStatus::Mobile);
    cityless.city = None;
    let bad = [
        member("张伟", "13800000001", MemberStatus::Transferred),
        cityless,
    ];
    match store.import_members(first, &bad, None).await {
        Err(StoreError::Item {
            position: 1,
            code,
            problem: ItemProblem::Refused { clash: false, .. },
        }) => assert_eq!(code, "13800000004"),
        other => panic!("a mobile member without a city: {other:?}"),
    }
    assert_eq!(store.members(first).await.unwrap(), stored, "unchanged");

    // A known phone moves its member to the importing branch.
    let moved = [member("王强", "13800000003", MemberStatus::Active)];
    let summary = store.import_members(second, &moved, None).await.unwrap();
    assert_eq!((summary.inserted, summary.updated), (0, 1));
    assert_eq!(store.members(first).await.unwrap().len(), 2);
    let there = store.members(second).await.unwrap();
    assert_eq!(there[0].id, stored[2].id, "the same member, not a copy");
    assert!(matches!(
        store.import_members(9_999, &moved, None).await,
        Err(StoreError::NoSuchBranch(9_999))
    ));
    let trace = store.audit("branch", Some(second)).await.unwrap();
    assert_eq!(trace.last().unwrap().action, "import_members");
}

fn present(member_id: Id, status: AttendanceStatus) -> Attendance {
    Attendance {
        member_id,
        status,
        reason: (status == AttendanceStatus::Absent).then(|| "出差".to_string()),
    }
}

fn photo(activity_id: Id, kind: ActivityPhotoKind, by: Id, tag: u8) -> NewActivityPhoto {
    NewActivityPhoto {
        activity_id,
        kind,
        media_type: "image/jpeg".into(),
        width: 640,
        height: 480,
        original: vec![tag; 10],
        public: vec![tag, 1],
        thumbnail: vec![tag, 2],
        taken_at: Some("2026-11-30T01:30:00.000Z".into()),
        taken_position: Some((120.371, 36.051)),
        flags: if tag == 9 {
            vec![PhotoFlag::PlaceFar]
        } else {
            vec![]
        },
        uploaded_by: by,
        at: "2026-11-30T03:00:00.000Z".into(),
    }
}

async fn an_activity_takes_the_whole_roll_and_counts_once_its_three_photos_are_in(
    store: Arc<dyn Store>,
) {
    let (first, second) = two_branches(&store).await;
    let roll = [
        member("张伟", "13800000001", MemberStatus::Active),
        member("李娜", "13800000002", MemberStatus::Mobile),
        member("王强", "13800000003", MemberStatus::Active),
        member("刘洋", "13800000004", MemberStatus::Transferred),
    ];
    store.import_members(first, &roll, None).await.unwrap();
    let ids: Vec<Id> = store
        .members(first)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    let secretary = user(&store, "shuji", Role::Secretary, None).await;
    let mut new = NewActivity {
        branch_id: first,
        kind: ActivityType::ThemeDay,
        theme: "学习二十届四中全会精神".into(),
        held_at: "2026-11-30T01:00:00.000Z".into(),
        lon: 120.37,
        lat: 36.05,
        recorded_by: secretary.id,
        recorded_at: "2026-11-30T02:00:00.000Z".into(),
        // The transferred member is off the roll; one on it is left out.
        attendance: vec![
            present(ids[0], AttendanceStatus::Present),
            present(ids[3], AttendanceStatus::Present),
        ],
    };
    match store.record_activity(&new).await {
        Err(StoreError::RollMismatch {
            missing, strangers, ..
        }) => {
            assert_eq!(missing, vec![ids[1], ids[2]]);
            assert_eq!(strangers, vec![ids[3]]);
        }
        other => panic!("an attendance that is not the roll: {other:?}"),
    }
    new.attendance = vec![
        present(ids[0], AttendanceStatus::Present),
        present(ids[1], AttendanceStatus::Online),
        present(ids[2], AttendanceStatus::Absent),
    ];
    let activity = store.record_activity(&new).await.unwrap();
    assert_eq!(activity.attendance.len(), 3);
    assert_eq!(activity.held_at, new.held_at);
    assert!(!activity.complete(), "a draft until its photos are in");
    assert!((activity.attendance_rate().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    let line = &activity.attendance[2];
    assert_eq!(line.reason.as_deref(), Some("出差"));

    // A draft's photo can be replaced; only complete activities count.
    let put = |kind, tag| {
        let store = store.clone();
        let new = photo(activity.id, kind, secretary.id, tag);
        async move { store.put_activity_photo(&new).await }
    };
    let (group, replaced) = put(ActivityPhotoKind::Group, 1).await.unwrap();
    assert!(!replaced);
    let (again, replaced) = put(ActivityPhotoKind::Group, 9).await.unwrap();
    assert!(replaced && again.id != group.id);
    assert_eq!(again.flags, vec![PhotoFlag::PlaceFar]);
    assert!(
        store
            .activity_photo(group.id, PhotoCopy::Public)
            .await
            .unwrap()
            .is_none()
    );
    put(ActivityPhotoKind::SignIn, 2).await.unwrap();
    let window = ("2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z");
    assert!(
        store
            .attendance_lines(window.0, window.1)
            .await
            .unwrap()
            .is_empty()
    );
    put(ActivityPhotoKind::Minutes, 3).await.unwrap();
    let complete = store.activity(activity.id).await.unwrap().unwrap();
    assert!(complete.complete());
    assert_eq!(complete.photos.len(), 3);
    assert!(matches!(
        put(ActivityPhotoKind::Minutes, 4).await,
        Err(StoreError::ActivityComplete(id)) if id == activity.id
    ));
    let lines = store.attendance_lines(window.0, window.1).await.unwrap();
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .all(|l| l.branch_id == first && l.held_at == new.held_at)
    );
    let copy = store
        .activity_photo(again.id, PhotoCopy::Original)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((copy.activity_id, copy.branch_id), (activity.id, first));
    assert_eq!(copy.bytes, vec![9; 10]);
    assert_eq!(
        store
            .activity_photo(again.id, PhotoCopy::Thumbnail)
            .await
            .unwrap()
            .unwrap()
            .bytes,
        vec![9, 2]
    );
    assert!(matches!(
        store
            .put_activity_photo(&photo(9_999, ActivityPhotoKind::Group, secretary.id, 1))
            .await,
        Err(StoreError::NoSuchActivity(9_999))
    ));

    // The feed: newest first, by branch, a page at a time.
    let mut later = new.clone();
    later.held_at = "2026-12-01T06:00:00.000Z".into();
    later.kind = ActivityType::PartyLecture;
    let later = store.record_activity(&later).await.unwrap();
    let empty_roll = NewActivity {
        branch_id: second,
        attendance: vec![],
        ..new.clone()
    };
    let other = store.record_activity(&empty_roll).await.unwrap();
    assert_eq!(other.attendance_rate(), None);
    let page = |branch_ids: Option<Vec<Id>>, after: Option<(&str, Id)>, limit| ActivityFilter {
        ids: None,
        branch_ids,
        after: after.map(|(at, id)| (at.to_string(), id)),
        limit,
    };
    let ids_of =
        |a: Vec<wangge::model::branches::Activity>| a.iter().map(|a| a.id).collect::<Vec<_>>();
    let all = store.activities(&page(None, None, 10)).await.unwrap();
    assert_eq!(ids_of(all), vec![later.id, other.id, activity.id]);
    let mine = store
        .activities(&page(Some(vec![first]), None, 1))
        .await
        .unwrap();
    assert_eq!(ids_of(mine), vec![later.id]);
    let before = store
        .activities(&page(
            Some(vec![first]),
            Some((&later.held_at, later.id)),
            10,
        ))
        .await
        .unwrap();
    assert_eq!(ids_of(before), vec![activity.id]);
    // Two activities held at the same instant fall on either side of a page without loss.
    let first_page = store.activities(&page(None, None, 2)).await.unwrap();
    assert_eq!(ids_of(first_page.clone()), vec![later.id, other.id]);
    let last = first_page.last().unwrap();
    let rest = store
        .activities(&page(None, Some((&last.held_at, last.id)), 10))
        .await
        .unwrap();
    assert_eq!(ids_of(rest), vec![activity.id]);
}

async fn a_lesson_reaches_every_member_on_the_rolls_and_counts_each_first_read(
    store: Arc<dyn Store>,
) {
    let (first, second) = two_branches(&store).await;
    store
        .import_members(
            first,
            &[
                member("张伟", "13800000001", MemberStatus::Active),
                member("刘洋", "13800000004", MemberStatus::Transferred),
            ],
            None,
        )
        .await
        .unwrap();
    store
        .import_members(
            second,
            &[member("李娜", "13800000002", MemberStatus::Mobile)],
            None,
        )
        .await
        .unwrap();
    let roll = store.rolls(&[first, second]).await.unwrap();
    let names: Vec<&str> = roll.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["张伟", "李娜"],
        "transferred members get no lessons; mobile ones do"
    );
    let sender = user(&store, "shuji", Role::Secretary, None).await;
    let recipients: Vec<LessonRecipient> = roll
        .iter()
        .map(|m| LessonRecipient {
            member_id: m.id,
            branch_id: m.branch_id,
            token_hash: format!("hash-{}", m.id),
        })
        .collect();
    let lesson = NewLesson {
        title: "微课堂：基层治理".into(),
        body: "网格化管理的三个要点……".into(),
        link: Some("https://example.org/v/1".into()),
        branch_ids: vec![first, second],
        sent_by: sender.id,
        sent_at: "2026-12-01T00:00:00.000Z".into(),
    };
    let sent = store.send_lesson(&lesson, &recipients).await.unwrap();
    assert_eq!((sent.recipients, sent.reads), (2, 0));
    assert_eq!(sent.branch_ids, vec![first.min(second), first.max(second)]);
    let token = &recipients[1].token_hash;
    let read = store
        .open_lesson(token, "2026-12-01T08:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(read.unwrap().reads, 1);
    // Reading again counts once.
    let again = store
        .open_lesson(token, "2026-12-02T08:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(again.unwrap().reads, 1);
    assert!(
        store
            .open_lesson("no-such", "2026-12-02T08:00:00.000Z")
            .await
            .unwrap()
            .is_none()
    );
    let listed = store.lessons().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].title, lesson.title);
}

async fn the_summary_counts_the_rows_of_its_unit_only(store: Arc<dyn Store>) {
    let (first, second) = two_branches(&store).await;
    let grids: Vec<Id> = store
        .branches()
        .await
        .unwrap()
        .iter()
        .map(|b| b.grid_ids[0])
        .collect();
    let community = store.branches().await.unwrap()[0].community_id;
    // Households: two in the first grid, one in the second.
    let codes = ["H1", "H2", "H3"];
    let new: Vec<_> = codes.iter().map(|c| household(c, None)).collect();
    store.upsert_households(&new).await.unwrap();
    let ids: Vec<Id> = store
        .households()
        .await
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect();
    let assigned: Vec<HouseholdAssignment> = ids
        .iter()
        .zip([grids[0], grids[0], grids[1]])
        .map(|(&household_id, grid)| HouseholdAssignment {
            household_id,
            grid_id: Some(grid),
            area_ids: vec![],
        })
        .collect();
    store.apply_assignments(&assigned, &[]).await.unwrap();
    // Visits: H1 at the door in the window, H2 at the door before it, H3 by phone in it.
    let cadre = user(&store, "cadre", Role::Cadre, None).await;
    for (household, at, on_site) in [
        (ids[0], "2026-11-20T02:00:00.000Z", true),
        (ids[1], "2026-10-01T02:00:00.000Z", true),
        (ids[2], "2026-11-25T02:00:00.000Z", false),
    ] {
        store
            .record_visit(&visit(household, cadre.id, at, on_site))
            .await
            .unwrap();
    }
    // An open request in each grid.
    for (grid, lon) in [(grids[0], 120.37), (grids[1], 120.375)] {
        store
            .submit_request(&request(grid, community, lon))
            .await
            .unwrap();
    }
    // Rolls: the first branch 张伟, 李娜 (mobile), 刘洋 (transferred); the second 王强.
    store
        .import_members(
            first,
            &[
                member("张伟", "13800000001", MemberStatus::Active),
                member("李娜", "13800000002", MemberStatus::Mobile),
                member("刘洋", "13800000004", MemberStatus::Transferred),
            ],
            None,
        )
        .await
        .unwrap();
    store
        .import_members(
            second,
            &[member("王强", "13800000003", MemberStatus::Active)],
            None,
        )
        .await
        .unwrap();
    // Activities: the first branch's complete one in the quarter (one present, one absent) and a
    // draft; the second branch's complete one before the quarter.
    let secretary = user(&store, "shuji", Role::Secretary, None).await;
    let ids_on = |members: Vec<wangge::model::branches::Member>| {
        members.iter().map(|m| m.id).collect::<Vec<Id>>()
    };
    let mine = ids_on(store.rolls(&[first]).await.unwrap());
    let theirs = ids_on(store.rolls(&[second]).await.unwrap());
    let activity = |branch_id, held_at: &str, attendance| NewActivity {
        branch_id,
        kind: ActivityType::GeneralMeeting,
        theme: "支部党员大会".into(),
        held_at: held_at.into(),
        lon: 120.37,
        lat: 36.05,
        recorded_by: secretary.id,
        recorded_at: held_at.into(),
        attendance,
    };
    let lines = vec![
        present(mine[0], AttendanceStatus::Present),
        present(mine[1], AttendanceStatus::Absent),
    ];
    let counted = activity(first, "2026-11-30T01:00:00.000Z", lines.clone());
    let draft = activity(first, "2026-12-01T01:00:00.000Z", lines);
    let before = activity(
        second,
        "2026-09-15T01:00:00.000Z",
        vec![present(theirs[0], AttendanceStatus::Present)],
    );
    for (new, photos) in [(counted, true), (draft, false), (before, true)] {
        let stored = store.record_activity(&new).await.unwrap();
        let kinds: &[ActivityPhotoKind] = if photos {
            ActivityPhotoKind::ALL
        } else {
            &[ActivityPhotoKind::Group]
        };
        for &kind in kinds {
            store
                .put_activity_photo(&photo(stored.id, kind, secretary.id, 1))
                .await
                .unwrap();
        }
    }

    let scope = |grid_ids: Vec<Id>, branch_ids: Vec<Id>| SummaryScope {
        grid_ids,
        branch_ids,
        visited_since: "2026-11-01T00:00:00.000Z".into(),
        activities_since: "2026-10-01T00:00:00.000Z".into(),
    };
    let grid = store
        .summary_counts(&scope(vec![grids[0]], vec![first]))
        .await
        .unwrap();
    let expected = SummaryCounts {
        households: 2,
        visited: 1,
        members: 2,
        mobile_members: 1,
        open_requests: 1,
        activities: 1,
        took_part: 1,
        roll_lines: 2,
    };
    assert_eq!(grid, expected);
    let whole = store
        .summary_counts(&scope(grids.clone(), vec![first, second]))
        .await
        .unwrap();
    assert_eq!(
        whole,
        SummaryCounts {
            households: 3,
            members: 3,
            open_requests: 2,
            ..expected
        }
    );
    let nothing = store.summary_counts(&scope(vec![], vec![])).await.unwrap();
    assert_eq!(nothing, SummaryCounts::default());
    // A household moved to the other grid (an edit of the boundary) takes its visits along.
    let moved = HouseholdAssignment {
        household_id: ids[0],
        grid_id: Some(grids[1]),
        area_ids: vec![],
    };
    store.apply_assignments(&[moved], &[]).await.unwrap();
    let there = store
        .summary_counts(&scope(vec![grids[1]], vec![]))
        .await
        .unwrap();
    assert_eq!((there.households, there.visited), (2, 1));
    let here = store
        .summary_counts(&scope(vec![grids[0]], vec![]))
        .await
        .unwrap();
    assert_eq!((here.households, here.visited), (1, 0));
}

fn visit(household_id: Id, user_id: Id, at: &str, on_site: bool) -> NewVisit {
    NewVisit {
        household_id,
        user_id,
        key: format!("{household_id}-{at}"),
        digest: format!("visit of {household_id} at {at}"),
        visited_at: at.into(),
        lon: 120.3712,
        lat: 36.0512,
        accuracy_m: Some(8.0),
        distance_m: if on_site { 3.5 } else { 420.0 },
        on_site,
        notes: "走访".into(),
        needs: vec![],
        corrects: None,
    }
}

fn request(grid_id: Id, community_id: Id, lon: f64) -> NewRequest {
    NewRequest {
        category: "repair".into(),
        lon,
        lat: 36.05,
        address: "香港中路18号".into(),
        description: "楼道灯坏了".into(),
        media_url: None,
        attributes: "{}".into(),
        reporter: Reporter::default(),
        household_id: None,
        posted_by: None,
        spot: Spot {
            grid_id,
            area_id: None,
            community_id,
            street_id: None,
        },
        requested_at: "2026-11-28T02:00:00.000Z".into(),
    }
}

store_contract!(
    branches_serve_grids_of_their_own_community_and_every_change_is_audited,
    members_are_matched_by_phone_and_an_import_is_all_or_nothing,
    an_activity_takes_the_whole_roll_and_counts_once_its_three_photos_are_in,
    a_lesson_reaches_every_member_on_the_rolls_and_counts_each_first_read,
    the_summary_counts_the_rows_of_its_unit_only,
);
