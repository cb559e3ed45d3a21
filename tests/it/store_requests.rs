//! Residents' requests in the store, on SQLite and on PostGIS: a report finds who answers for
//! its spot in its own transaction, steps are written only on the version they were decided
//! on, every step is kept, and the filters Open311 and the work lists use.

use crate::common;

use common::fixtures::{hierarchy, user};
use std::sync::Arc;
use wangge::auth::{NewUser, Role};
use wangge::model::requests::{
    Link, NewRequest, Reporter, Request, RequestFilter, RequestState, RequestUpdate, Spot,
};
use wangge::model::units::UnitContact;
use wangge::model::{Id, PlaceKind};
use wangge::store::{Store, StoreError};

/// The fixture's places: (grid, area, community, street).
async fn spot(store: &Arc<dyn Store>) -> Spot {
    store.upsert_places(&hierarchy()).await.unwrap();
    let id = |kind| async move { store.places(Some(kind)).await.unwrap()[0].id };
    Spot {
        grid_id: id(PlaceKind::Grid).await,
        area_id: Some(id(PlaceKind::Area).await),
        community_id: id(PlaceKind::Community).await,
        street_id: Some(id(PlaceKind::Street).await),
    }
}

fn report(spot: Spot, category: &str, at: &str, lon: f64) -> NewRequest {
    NewRequest {
        category: category.into(),
        lon,
        lat: 36.0512,
        address: "香港中路18号".into(),
        description: "热水器坏了，没有热水".into(),
        media_url: None,
        attributes: r#"{"appliance":"water_heater"}"#.into(),
        reporter: Reporter {
            name: Some("王芳".into()),
            phone: Some("13800001234".into()),
            email: None,
        },
        household_id: None,
        posted_by: None,
        spot,
        requested_at: at.into(),
    }
}

async fn secretary_of(store: &Arc<dyn Store>, community: Id) -> Id {
    store
        .insert_user(&NewUser {
            name: "shuji".into(),
            role: Role::Secretary,
            password_hash: "h".into(),
            display_name: None,
            phone: None,
            community_id: Some(community),
            branch_id: None,
        })
        .await
        .unwrap()
        .id
}

fn step(r: &Request, to: RequestState, actor: Id, at: &str) -> RequestUpdate {
    RequestUpdate {
        request_id: r.id,
        expected_version: r.version,
        state: to,
        fixed: None,
        link: r.link,
        responsible_id: r.responsible_id,
        assignee_id: r.assignee_id,
        assignee_unit: r.assignee_unit.clone(),
        handled_by: r.handled_by,
        duplicate_of: None,
        escalations: r.escalations,
        category: r.category.clone(),
        opened_at: r.opened_at.clone(),
        from: r.state,
        actor_id: Some(actor),
        note: "已受理".into(),
        at: at.into(),
    }
}

async fn a_report_goes_to_the_holder_then_the_secretary_then_the_community(store: Arc<dyn Store>) {
    let spot = spot(&store).await;
    let at = "2026-12-02T01:00:00.000Z";
    // Nobody to answer but the community itself.
    let first = store
        .submit_request(&report(spot, "repair", at, 120.3712))
        .await
        .unwrap();
    assert_eq!((first.link, first.responsible_id), (Link::Community, None));
    // A secretary bound to the community answers for its grids.
    let secretary = secretary_of(&store, spot.community_id).await;
    let second = store
        .submit_request(&report(spot, "repair", at, 120.3712))
        .await
        .unwrap();
    assert_eq!(
        (second.link, second.responsible_id),
        (Link::Grid, Some(secretary))
    );
    // The area's holder comes first.
    let cadre = user(&store, "cadre", Role::Cadre, None).await;
    store
        .claim_area(spot.area_id.unwrap(), cadre.id)
        .await
        .unwrap();
    let third = store
        .submit_request(&report(spot, "repair", at, 120.3712))
        .await
        .unwrap();
    assert_eq!(
        (third.link, third.responsible_id),
        (Link::Area, Some(cadre.id))
    );
    // A spot without an area starts at the grid.
    let outside = Spot {
        area_id: None,
        ..spot
    };
    let fourth = store
        .submit_request(&report(outside, "repair", at, 120.3712))
        .await
        .unwrap();
    assert_eq!(fourth.link, Link::Grid);
    // Escalations ask for the chain from a later link.
    assert_eq!(
        store.answerer(&spot, Link::Community).await.unwrap(),
        (Link::Community, None)
    );
    assert_eq!(
        store.answerer(&spot, Link::Street).await.unwrap(),
        (Link::Street, None)
    );
    // What was posted reads back, with its first event.
    assert_eq!(third.state, RequestState::Reported);
    assert_eq!(third.reporter.name.as_deref(), Some("王芳"));
    assert_eq!(third.attributes["appliance"], "water_heater");
    assert_eq!(
        (third.requested_at.as_str(), third.opened_at.as_str()),
        (at, at)
    );
    assert_eq!(third.version, 1);
    assert_eq!(store.request(third.id).await.unwrap(), Some(third.clone()));
    let events = store.request_events(third.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].from, events[0].to),
        (None, RequestState::Reported)
    );
    assert_eq!((events[0].link, events[0].at.as_str()), (Link::Area, at));
}

async fn a_step_is_written_only_on_the_version_it_was_decided_on(store: Arc<dyn Store>) {
    let spot = spot(&store).await;
    let secretary = secretary_of(&store, spot.community_id).await;
    let r = store
        .submit_request(&report(
            spot,
            "repair",
            "2026-12-02T01:00:00.000Z",
            120.3712,
        ))
        .await
        .unwrap();
    let at = "2026-12-02T01:05:00.000Z";
    let (accepted, event) = store
        .update_request(&step(&r, RequestState::Accepted, secretary, at))
        .await
        .unwrap();
    assert_eq!(
        (accepted.state, accepted.version),
        (RequestState::Accepted, 2)
    );
    assert_eq!(accepted.updated_at, at);
    assert_eq!(event.from, Some(RequestState::Reported));
    assert_eq!(event.actor_id, Some(secretary));
    // A second step decided on version 1 lost the race: nothing is written.
    let stale = store
        .update_request(&step(&r, RequestState::Rejected, secretary, at))
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::RequestChanged {
                stored: 2,
                state: RequestState::Accepted,
                ..
            }
        ),
        "{stale:?}"
    );
    assert_eq!(store.request(r.id).await.unwrap().unwrap(), accepted);
    assert_eq!(store.request_events(r.id).await.unwrap().len(), 2);
    let mut missing = step(&r, RequestState::Accepted, secretary, at);
    missing.request_id = 987_654;
    assert!(matches!(
        store.update_request(&missing).await.unwrap_err(),
        StoreError::NoSuchRequest(987_654)
    ));
    // Dispatch to a unit, close as not fixed: the columns follow.
    let mut dispatch = step(&accepted, RequestState::Dispatched, secretary, at);
    dispatch.assignee_unit = Some("市南区水务公司".into());
    let (dispatched, event) = store.update_request(&dispatch).await.unwrap();
    assert_eq!(dispatched.assignee_unit.as_deref(), Some("市南区水务公司"));
    assert_eq!(event.assignee_unit.as_deref(), Some("市南区水务公司"));
    let mut close = step(&dispatched, RequestState::Closed, secretary, at);
    close.fixed = Some(false);
    let (closed, _) = store.update_request(&close).await.unwrap();
    assert_eq!(
        (closed.state, closed.fixed),
        (RequestState::Closed, Some(false))
    );
    // The database itself refuses a closed request that does not say whether it was fixed.
    let mut unsaid = step(&closed, RequestState::Closed, secretary, at);
    unsaid.fixed = None;
    assert!(store.update_request(&unsaid).await.is_err());
    assert_eq!(store.request(r.id).await.unwrap().unwrap(), closed);
}

async fn requests_are_filtered_as_the_lists_ask(store: Arc<dyn Store>) {
    let spot = spot(&store).await;
    let cadre = user(&store, "cadre", Role::Cadre, None).await;
    store
        .claim_area(spot.area_id.unwrap(), cadre.id)
        .await
        .unwrap();
    let a = store
        .submit_request(&report(
            spot,
            "repair",
            "2026-11-20T01:00:00.000Z",
            120.3712,
        ))
        .await
        .unwrap();
    let b = store
        .submit_request(&report(
            spot,
            "sanitation",
            "2026-11-25T01:00:00.000Z",
            120.3750,
        ))
        .await
        .unwrap();
    let c = store
        .submit_request(&report(
            spot,
            "repair",
            "2026-12-01T01:00:00.000Z",
            120.3790,
        ))
        .await
        .unwrap();
    let mut close = step(
        &b,
        RequestState::Rejected,
        cadre.id,
        "2026-11-26T01:00:00.000Z",
    );
    close.note = "不属于社区职责".into();
    store.update_request(&close).await.unwrap();
    let ids = |found: Vec<Request>| found.iter().map(|r| r.id).collect::<Vec<_>>();
    let all = RequestFilter {
        limit: 100,
        ..RequestFilter::default()
    };
    let read = |filter: RequestFilter| {
        let store = store.clone();
        async move { ids(store.requests(&filter).await.unwrap()) }
    };
    assert_eq!(read(all.clone()).await, [c.id, b.id, a.id], "newest first");
    assert_eq!(
        read(RequestFilter {
            limit: 2,
            ..all.clone()
        })
        .await,
        [c.id, b.id]
    );
    assert_eq!(
        read(RequestFilter {
            ids: Some(vec![a.id, c.id, 999]),
            ..all.clone()
        })
        .await,
        [c.id, a.id]
    );
    assert_eq!(
        read(RequestFilter {
            category: Some("repair".into()),
            ..all.clone()
        })
        .await,
        [c.id, a.id]
    );
    assert_eq!(
        read(RequestFilter {
            open: Some(false),
            ..all.clone()
        })
        .await,
        [b.id]
    );
    assert_eq!(
        read(RequestFilter {
            open: Some(true),
            ..all.clone()
        })
        .await,
        [c.id, a.id]
    );
    let window = RequestFilter {
        since: Some("2026-11-25T01:00:00.000Z".into()),
        until: Some("2026-12-01T01:00:00.000Z".into()),
        ..all.clone()
    };
    assert_eq!(
        read(window).await,
        [b.id],
        "since inclusive, until exclusive"
    );
    assert_eq!(
        read(RequestFilter {
            community_id: Some(spot.community_id),
            ..all.clone()
        })
        .await,
        [c.id, b.id, a.id]
    );
    assert!(
        read(RequestFilter {
            community_id: Some(-1),
            ..all.clone()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        read(RequestFilter {
            involving: Some(cadre.id),
            ..all.clone()
        })
        .await,
        [c.id, b.id, a.id]
    );
    let boxed = RequestFilter {
        bbox: Some([120.370, 36.05, 120.376, 36.06]),
        ..all.clone()
    };
    assert_eq!(read(boxed).await, [b.id, a.id]);
}

/// Takes the steps `(to, at)` in order, each on the version the previous one left.
async fn walk(
    store: &Arc<dyn Store>,
    mut r: Request,
    actor: Id,
    steps: &[(RequestState, &str)],
) -> Request {
    for &(to, at) in steps {
        let mut update = step(&r, to, actor, at);
        if to == RequestState::Closed {
            update.fixed = Some(true);
        }
        r = store.update_request(&update).await.unwrap().0;
    }
    r
}

async fn the_milestones_of_each_request_are_reduced_from_its_steps(store: Arc<dyn Store>) {
    use RequestState::*;
    let spot = spot(&store).await;
    let actor = secretary_of(&store, spot.community_id).await;
    let submit = |at: &'static str| {
        let store = store.clone();
        async move {
            store
                .submit_request(&report(spot, "repair", at, 120.3712))
                .await
                .unwrap()
        }
    };
    let worked = submit("2026-12-01T01:00:00.000Z").await;
    walk(
        &store,
        worked.clone(),
        actor,
        &[
            (Accepted, "2026-12-01T01:30:00.000Z"),
            (Dispatched, "2026-12-01T01:40:00.000Z"),
            (Handled, "2026-12-01T02:00:00.000Z"),
            // The check fails: back to the door.
            (Dispatched, "2026-12-01T02:10:00.000Z"),
            (Handled, "2026-12-01T03:00:00.000Z"),
            (Verified, "2026-12-01T03:10:00.000Z"),
            (Closed, "2026-12-01T03:30:00.000Z"),
        ],
    )
    .await;
    let rejected = submit("2026-12-01T05:00:00.000Z").await;
    walk(
        &store,
        rejected.clone(),
        actor,
        &[(Rejected, "2026-12-01T05:05:00.000Z")],
    )
    .await;
    let waiting = submit("2026-12-01T06:00:00.000Z").await;
    let earlier = submit("2026-11-01T06:00:00.000Z").await;

    let timings = store
        .request_timings("2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z", None)
        .await
        .unwrap();
    let ids: Vec<Id> = timings.iter().map(|t| t.id).collect();
    assert_eq!(
        ids,
        [worked.id, rejected.id, waiting.id],
        "the window, oldest first"
    );
    assert!(!ids.contains(&earlier.id));
    // Narrowed to grids: those of the spot, or another.
    let window = ("2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z");
    let here = [worked.spot.grid_id];
    let narrowed = store
        .request_timings(window.0, window.1, Some(&here))
        .await
        .unwrap();
    assert_eq!(narrowed.len(), timings.len());
    let elsewhere = store
        .request_timings(window.0, window.1, Some(&[-1]))
        .await
        .unwrap();
    assert!(elsewhere.is_empty());
    let w = &timings[0];
    assert_eq!((w.state, w.fixed), (Closed, Some(true)));
    assert_eq!(w.spot, spot);
    assert_eq!(
        wangge::timestamp::format(w.requested_at),
        "2026-12-01T01:00:00.000Z"
    );
    assert_eq!(
        stored(w.accepted_at).as_deref(),
        Some("2026-12-01T01:30:00.000Z")
    );
    assert_eq!(
        stored(w.handled_at).as_deref(),
        Some("2026-12-01T02:00:00.000Z"),
        "the first time at the door"
    );
    assert_eq!(
        stored(w.closed_at).as_deref(),
        Some("2026-12-01T03:30:00.000Z")
    );
    assert_eq!(w.reworks, 1);
    let r = &timings[1];
    assert_eq!(
        (r.state, stored(r.accepted_at).as_deref(), r.reworks),
        (Rejected, None, 0)
    );
    let o = &timings[2];
    assert_eq!(
        (
            o.state,
            stored(o.handled_at).as_deref(),
            stored(o.closed_at).as_deref()
        ),
        (Reported, None, None)
    );
}

async fn photos_are_kept_whole_and_counted_per_kind(store: Arc<dyn Store>) {
    use wangge::model::photos::{NewPhoto, PhotoCopy, PhotoKind};
    let spot = spot(&store).await;
    let request = store
        .submit_request(&report(
            spot,
            "repair",
            "2026-12-01T01:00:00.000Z",
            120.3712,
        ))
        .await
        .unwrap();
    let photo = |kind, n: u8| NewPhoto {
        request_id: request.id,
        kind,
        media_type: "image/png".into(),
        width: 4,
        height: 3,
        original: vec![0x89, b'P', b'N', b'G', n, 0, 255],
        public: vec![0xFF, 0xD8, n],
        thumbnail: vec![0xFF, 0xD8, n, n],
        uploaded_by: None,
        at: "2026-12-01T01:00:01.000Z".into(),
    };
    let first = store
        .add_request_photo(&photo(PhotoKind::Report, 1), 2)
        .await
        .unwrap();
    store
        .add_request_photo(&photo(PhotoKind::Report, 2), 2)
        .await
        .unwrap();
    let refused = store
        .add_request_photo(&photo(PhotoKind::Report, 3), 2)
        .await;
    assert!(
        matches!(refused, Err(StoreError::TooManyPhotos { max: 2, .. })),
        "{refused:?}"
    );
    store
        .add_request_photo(&photo(PhotoKind::After, 4), 2)
        .await
        .unwrap();
    let mut orphan = photo(PhotoKind::Report, 5);
    orphan.request_id = request.id + 1000;
    assert!(matches!(
        store.add_request_photo(&orphan, 2).await,
        Err(StoreError::NoSuchRequest(_))
    ));

    let kept = store.request_photos(request.id).await.unwrap();
    let kinds: Vec<PhotoKind> = kept.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [PhotoKind::Report, PhotoKind::Report, PhotoKind::After]
    );
    assert_eq!(kept[0], first);
    assert_eq!(
        (first.width, first.height, first.at.as_str()),
        (4, 3, "2026-12-01T01:00:01.000Z")
    );
    assert_eq!(store.request(request.id).await.unwrap().unwrap().photos, 3);
    for (copy, bytes, media) in [
        (
            PhotoCopy::Original,
            photo(PhotoKind::Report, 1).original,
            "image/png",
        ),
        (
            PhotoCopy::Public,
            photo(PhotoKind::Report, 1).public,
            "image/jpeg",
        ),
        (
            PhotoCopy::Thumbnail,
            photo(PhotoKind::Report, 1).thumbnail,
            "image/jpeg",
        ),
    ] {
        let read = store.request_photo(first.id, copy).await.unwrap().unwrap();
        assert_eq!(
            (read.request_id, read.media_type.as_str()),
            (request.id, media)
        );
        assert_eq!(read.bytes, bytes, "{copy:?} byte for byte");
    }
    assert_eq!(
        store
            .request_photo(first.id + 1000, PhotoCopy::Public)
            .await
            .unwrap(),
        None
    );
}

async fn a_category_unit_takes_its_requests_and_every_change_is_audited(store: Arc<dyn Store>) {
    let spot = spot(&store).await;
    let admin = user(&store, "admin", Role::Admin, None).await;
    let contact = |community_id, unit: &str| UnitContact {
        category: "repair".into(),
        community_id,
        unit: unit.into(),
        phone: Some("0532-8288 0000".into()),
    };
    // One unit everywhere, renamed in place: the same row, replaced.
    let (everywhere, replaced) = store
        .set_category_unit(&contact(None, "市南区物业维修中心"), Some(admin.id))
        .await
        .unwrap();
    assert!(!replaced);
    let (renamed, replaced) = store
        .set_category_unit(&contact(None, "市南区维修服务中心"), Some(admin.id))
        .await
        .unwrap();
    assert!(replaced);
    assert_eq!(renamed.id, everywhere.id);
    // The community's own unit comes before the one for everywhere.
    let (own, _) = store
        .set_category_unit(
            &contact(Some(spot.community_id), "香港花园物业"),
            Some(admin.id),
        )
        .await
        .unwrap();
    let units = store.category_units().await.unwrap();
    assert_eq!(units, vec![renamed.clone(), own.clone()]);
    let answering = |community| {
        let store = store.clone();
        async move { store.unit_for("repair", community).await.unwrap() }
    };
    assert_eq!(answering(spot.community_id).await, Some(own.clone()));
    assert_eq!(answering(spot.grid_id).await, Some(renamed.clone()));
    assert_eq!(
        store.unit_for("safety", spot.community_id).await.unwrap(),
        None
    );

    // A report of the category starts dispatched to the unit, the chain still above it.
    let at = "2026-12-02T01:00:00.000Z";
    let sent = store
        .submit_request(&report(spot, "repair", at, 120.3712))
        .await
        .unwrap();
    assert_eq!(sent.state, RequestState::Dispatched);
    assert_eq!(sent.assignee_unit.as_deref(), Some("香港花园物业"));
    assert_eq!((sent.link, sent.responsible_id), (Link::Community, None));
    let events = store.request_events(sent.id).await.unwrap();
    let steps: Vec<_> = events
        .iter()
        .map(|e| (e.from, e.to, e.assignee_unit.as_deref(), e.actor_id))
        .collect();
    assert_eq!(
        steps,
        vec![
            (None, RequestState::Reported, None, None),
            (
                Some(RequestState::Reported),
                RequestState::Dispatched,
                Some("香港花园物业"),
                None
            ),
        ]
    );
    // Taken on the moment it was posted.
    let timings = store
        .request_timings("2026-12-01T00:00:00.000Z", "2026-12-03T00:00:00.000Z", None)
        .await
        .unwrap();
    assert_eq!(stored(timings[0].accepted_at).as_deref(), Some(at));

    // Removed, the category goes back to the chain.
    store
        .remove_category_unit(own.id, Some(admin.id))
        .await
        .unwrap();
    assert_eq!(answering(spot.community_id).await, Some(renamed.clone()));
    store
        .remove_category_unit(renamed.id, Some(admin.id))
        .await
        .unwrap();
    let back = store
        .submit_request(&report(spot, "repair", at, 120.3712))
        .await
        .unwrap();
    assert_eq!(
        (back.state, back.assignee_unit),
        (RequestState::Reported, None)
    );
    assert!(matches!(
        store.remove_category_unit(own.id, Some(admin.id)).await,
        Err(StoreError::NoSuchCategoryUnit(id)) if id == own.id
    ));

    // Every change in the trace, with who made it and what was before and after.
    let trace = store.audit("category_unit", None).await.unwrap();
    let actions: Vec<_> = trace
        .iter()
        .map(|r| (r.action.as_str(), r.entity_id, r.user_id))
        .collect();
    let (e, o, a) = (Some(everywhere.id), Some(own.id), Some(admin.id));
    assert_eq!(
        actions,
        vec![
            ("create", e, a),
            ("update", e, a),
            ("create", o, a),
            ("delete", o, a),
            ("delete", e, a),
        ]
    );
    assert_eq!(
        trace[1].before.as_ref().unwrap()["unit"],
        "市南区物业维修中心"
    );
    assert_eq!(
        trace[1].after.as_ref().unwrap()["unit"],
        "市南区维修服务中心"
    );
    assert_eq!(trace[3].after, None);
}

store_contract!(
    a_category_unit_takes_its_requests_and_every_change_is_audited,
    photos_are_kept_whole_and_counted_per_kind,
    the_milestones_of_each_request_are_reduced_from_its_steps,
    a_report_goes_to_the_holder_then_the_secretary_then_the_community,
    a_step_is_written_only_on_the_version_it_was_decided_on,
    requests_are_filtered_as_the_lists_ask,
);

/// An instant as the store writes it, to compare with the instants a test wrote.
fn stored(instant: Option<time::OffsetDateTime>) -> Option<String> {
    instant.map(wangge::timestamp::format)
}
