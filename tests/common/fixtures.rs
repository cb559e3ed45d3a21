//! What the store tests build on: a small street with grids and an area, a building, a
//! household, users.

use geo::{MultiPolygon, Point, polygon};
use std::sync::Arc;
use wangge::auth::{NewUser, Role, User};
use wangge::model::{HouseholdDetails, NewBuilding, NewHousehold, NewPlace, PlaceKind};
use wangge::store::Store;

pub fn square(x0: f64, y0: f64, size: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![polygon![
        (x: x0, y: y0),
        (x: x0 + size, y: y0),
        (x: x0 + size, y: y0 + size),
        (x: x0, y: y0 + size),
    ]])
}

pub fn place(
    kind: PlaceKind,
    code: &str,
    parent: Option<&str>,
    geometry: MultiPolygon<f64>,
) -> NewPlace {
    NewPlace {
        kind,
        code: code.into(),
        name: format!("{kind} {code}"),
        parent_code: parent.map(str::to_string),
        geometry,
    }
}

/// District 370202 ⊃ street ⊃ community ⊃ two grids, and one area.
pub fn hierarchy() -> Vec<NewPlace> {
    use PlaceKind::*;
    vec![
        place(District, "370202", None, square(120.30, 36.00, 0.2)),
        place(
            Street,
            "370202010",
            Some("370202"),
            square(120.37, 36.05, 0.03),
        ),
        place(
            Community,
            "370202010001",
            Some("370202010"),
            square(120.37, 36.05, 0.01),
        ),
        place(
            Grid,
            "370202010001001",
            Some("370202010001"),
            square(120.37, 36.05, 0.005),
        ),
        place(
            Grid,
            "370202010001002",
            Some("370202010001"),
            square(120.375, 36.05, 0.005),
        ),
        place(
            Area,
            "370202010-Q01",
            Some("370202010"),
            square(120.372, 36.05, 0.006),
        ),
    ]
}

pub fn building(code: &str) -> NewBuilding {
    NewBuilding {
        code: code.into(),
        name: "香港花园3号楼".into(),
        address: "山东省青岛市市南区香港中路18号".into(),
        floors: 7,
        units: 2,
        footprint: square(120.371, 36.051, 0.0003),
    }
}

pub fn household(code: &str, building_code: Option<&str>) -> NewHousehold {
    NewHousehold {
        code: code.into(),
        details: HouseholdDetails {
            building_code: building_code.map(str::to_string),
            unit: Some(2),
            floor: Some(5),
            room: Some("0501".into()),
            address: "香港中路18号3号楼2单元501户".into(),
            head_name: "王芳".into(),
            phone: Some("13800001234".into()),
            people: 3,
            tags: vec!["party_member".into(), "elderly_alone".into()],
        },
        location: Point::new(120.37115, 36.05115),
    }
}

pub async fn user(store: &Arc<dyn Store>, name: &str, role: Role, shown: Option<&str>) -> User {
    store
        .insert_user(&NewUser {
            name: name.into(),
            role,
            password_hash: "h".into(),
            display_name: shown.map(str::to_string),
            phone: shown.map(|_| "13900001111".to_string()),
            community_id: None,
            branch_id: None,
        })
        .await
        .unwrap()
}
