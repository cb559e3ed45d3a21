//! Arbitrary input through the real router (in process, over a temporary SQLite store with the
//! demo places): lookup query strings, batch lookup bodies, place create/PATCH bodies (as a
//! planner), validate bodies, login bodies and tile paths. Whatever comes in, the answer is never
//! a 5xx (a panic would be one: the catch-panic layer turns it into a 500), and every refusal is
//! a 4xx in the JSON error envelope.

use crate::common;

use axum::http::{Method, header};
use common::in_process::{Answer, InProcess, PLANNER, call, demo_places, request};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::OnceLock;

/// Cases per property: enough to reach the odd corners, few enough for a debug build.
const CASES: u32 = 96;

struct Shared {
    runtime: tokio::runtime::Runtime,
    env: InProcess,
    /// (layer, id, version) of a few stored places, for PATCH.
    places: Vec<(&'static str, i64, i64)>,
}

/// One App for every property (building it per case would dominate the run).
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let env = runtime.block_on(demo_places());
        let places = env
            .app
            .map_data()
            .places
            .iter()
            .filter_map(|p| {
                let layer = match p.kind {
                    wangge::model::PlaceKind::Grid => "grids",
                    wangge::model::PlaceKind::Community => "communities",
                    wangge::model::PlaceKind::Area => "areas",
                    _ => return None,
                };
                Some((layer, p.id, p.version))
            })
            .take(6)
            .collect();
        Shared {
            runtime,
            env,
            places,
        }
    });
    SHARED.get().expect("initialised")
}

fn send(req: axum::http::Request<axum::body::Body>) -> Answer {
    let shared = shared();
    shared.runtime.block_on(call(&shared.env.router, req))
}

/// Never a 5xx; a refusal is a 4xx with `{"error":{"code","message"}}`.
fn check(what: &str, answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(
        answer.status.as_u16() < 500,
        "{what}: {} {:?}",
        answer.status,
        answer.body
    );
    if answer.status.is_client_error() {
        prop_assert!(
            !answer.code().is_empty() && answer.body["error"]["message"].is_string(),
            "{what}: {} without the error envelope: {:?}",
            answer.status,
            answer.body
        );
    }
    Ok(())
}

/// Percent-encodes every byte but the unreserved ones, so that any bytes make a valid URI (and
/// decode to exactly those bytes, invalid UTF-8 included).
fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (120.30..120.45f64).prop_map(|f| f.to_string()),
        3 => (36.0..36.1f64).prop_map(|f| f.to_string()),
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => prop::sample::select(vec!["NaN", "inf", "-inf", "1e309", "-0", "", " 1", "0x10"])
            .prop_map(String::from),
        1 => "[-+0-9.eE]{0,14}",
    ]
}

fn crs_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["wgs84", "gcj02", "bd09", "cgcs2000", "EPSG:4549", "EPSG:3857"])
            .prop_map(String::from),
        1 => (0u32..100_000).prop_map(|n| format!("EPSG:{n}")),
        1 => "\\PC{0,16}",
    ]
}

fn time_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{4}-[01][0-9]-[0-3][0-9]",
        "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,9})?(Z|[+-][0-2][0-9]:[0-5][0-9])",
        prop::sample::select(vec![
            "9999-12-31T23:59:59-23:59",
            "0000-01-01T00:00:00+23:59",
            "9999-12-31",
            "0000-01-01",
            "-0001-01-01",
        ])
        .prop_map(String::from),
        "\\PC{0,24}",
    ]
}

/// A query string of known and unknown parameters with plausible and implausible values.
fn lookup_query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(vec!["lon", "lat", "x", "y", "crs", "at"]).prop_map(String::from),
        "\\PC{0,6}",
    ];
    let value = prop_oneof![number_text(), crs_text(), time_text()];
    let mostly = |s| prop::option::weighted(0.8, s);
    prop_oneof![
        // The parameters a lookup takes, mostly present, with plausible and implausible values.
        5 => (
            mostly((120.30..120.45f64).prop_map(|f| f.to_string()).boxed().prop_union(number_text().boxed())),
            mostly((36.0..36.1f64).prop_map(|f| f.to_string()).boxed().prop_union(number_text().boxed())),
            prop::option::weighted(0.3, crs_text()),
            prop::option::weighted(0.4, time_text()),
        )
            .prop_map(|(lon, lat, crs, at)| {
                [("lon", lon), ("lat", lat), ("crs", crs), ("at", at)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v.as_bytes()))))
                    .collect::<Vec<_>>()
                    .join("&")
            }),
        1 => prop::collection::vec((key, value), 0..6).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k.as_bytes()), encode(v.as_bytes())))
                .collect::<Vec<_>>()
                .join("&")
        }),
        // Raw bytes, `=` and `&` kept so that some of it parses as pairs.
        1 => prop::collection::vec(any::<u8>(), 0..48).prop_map(|bytes| {
            bytes
                .iter()
                .map(|&b| match b {
                    b'=' | b'&' => (b as char).to_string(),
                    _ => encode(&[b]),
                })
                .collect()
        }),
    ]
}

/// Any JSON, with keys this API knows among the random ones.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    let key = prop_oneof![
        prop::sample::select(vec![
            "type",
            "coordinates",
            "geometry",
            "properties",
            "points",
            "crs",
            "at",
            "name",
            "password",
            "code",
            "parent_code",
            "id",
            "line",
            "ids",
            "versions",
            "user",
        ])
        .prop_map(String::from),
        "[a-z_]{0,8}",
    ];
    leaf.prop_recursive(4, 32, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A body: JSON shaped like `shaped`, any JSON, or bytes that are not JSON at all.
fn body(shaped: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => shaped.prop_map(|v| v.to_string().into_bytes()),
        1 => any_json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn coordinate() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (120.36..120.40f64).prop_map(|f| json!(f)),
        4 => (36.05..36.08f64).prop_map(|f| json!(f)),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        1 => prop::sample::select(vec![json!(1e308), json!(-1e308), json!(0), json!(null), json!("120")]),
    ]
}

fn position() -> impl Strategy<Value = Value> {
    prop::collection::vec(coordinate(), 0..4).prop_map(Value::Array)
}

fn ring() -> impl Strategy<Value = Value> {
    (prop::collection::vec(position(), 0..10), any::<bool>()).prop_map(|(mut ring, close)| {
        if close && let Some(first) = ring.first().cloned() {
            ring.push(first);
        }
        Value::Array(ring)
    })
}

fn geometry() -> impl Strategy<Value = Value> {
    let polygon = prop::collection::vec(ring(), 0..3)
        .prop_map(Value::Array)
        .boxed();
    // Squares of a few metres to a few hundred inside the demo street: valid polygons, so that
    // the overlap and parent checks run too.
    let square = ((120.365..120.395f64), (36.055..36.075f64), (0.00002..0.004f64)).prop_map(
        |(x, y, d)| {
            json!({"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]})
        },
    );
    prop_oneof![
        3 => square,
        4 => polygon.clone().prop_map(|c| json!({"type": "Polygon", "coordinates": c})),
        2 => prop::collection::vec(polygon, 0..3)
            .prop_map(|c| json!({"type": "MultiPolygon", "coordinates": c})),
        1 => position().prop_map(|c| json!({"type": "Point", "coordinates": c})),
        1 => ring().prop_map(|c| json!({"type": "LineString", "coordinates": c})),
        1 => Just(Value::Null),
        1 => any_json(),
    ]
}

fn text_or_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => "[0-9A-Za-z\\-]{0,20}".prop_map(Value::String),
        1 => "\\PC{0,20}".prop_map(Value::String),
        1 => any_json(),
    ]
}

fn feature() -> impl Strategy<Value = Value> {
    (
        geometry(),
        text_or_json(),
        text_or_json(),
        prop_oneof![
            Just(Value::Null),
            prop::sample::select(vec!["370202010001", "370202010", "370202"])
                .prop_map(|s| json!(s)),
            text_or_json(),
        ],
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(|i| json!(i)),
            (1i64..60).prop_map(|i| json!(i))
        ],
    )
        .prop_map(|(geometry, code, name, parent_code, id)| {
            json!({"type": "Feature", "geometry": geometry,
                "properties": {"code": code, "name": name, "parent_code": parent_code, "id": id}})
        })
}

fn batch() -> impl Strategy<Value = Value> {
    (
        prop_oneof![3 => Just(Value::Null), 1 => crs_text().prop_map(Value::String)],
        prop::collection::vec(
            prop_oneof![
                4 => ((120.36..120.40f64), (36.05..36.08f64)).prop_map(|(x, y)| json!([x, y])),
                1 => prop::collection::vec(coordinate(), 0..4).prop_map(Value::Array),
            ],
            0..12,
        ),
        prop_oneof![3 => Just(Value::Null), 1 => time_text().prop_map(Value::String)],
    )
        .prop_map(|(crs, points, at)| {
            let mut body = json!({"points": points});
            if !crs.is_null() {
                body["crs"] = crs;
            }
            if !at.is_null() {
                body["at"] = at;
            }
            body
        })
}

fn login() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        Just(json!(PLANNER.0)),
        "\\PC{0,16}".prop_map(Value::String),
        any_json()
    ];
    let password = prop_oneof!["\\PC{0,16}".prop_map(Value::String), any_json()];
    (name, password).prop_map(|(name, password)| json!({"name": name, "password": password}))
}

fn layer() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["grids", "communities", "areas"])
}

fn tile_path() -> impl Strategy<Value = String> {
    let layer = prop_oneof![
        4 => prop::sample::select(vec!["grids", "areas", "buildings", "households", "communities"])
            .prop_map(String::from),
        1 => "\\PC{0,10}",
    ];
    let number = prop_oneof![
        4 => (0u64..24).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => "[0-9]{0,26}",
        1 => "\\PC{0,6}",
    ];
    let suffix = prop_oneof![
        6 => Just(".mvt"),
        1 => prop::sample::select(vec!["", ".pbf", ".mvt.gz", ".MVT"]),
    ];
    // Tiles over the demo street (drawn, with data), or any three numbers and words.
    let demo_tile =
        ((6u32..19), (120.36..120.40f64), (36.05..36.08f64)).prop_map(|(z, lon, lat)| {
            let n = f64::from(1u32 << z);
            let x = ((lon + 180.0) / 360.0 * n) as u64;
            let y =
                ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u64;
            (z.to_string(), x.to_string(), y.to_string())
        });
    let zxy = prop_oneof![
        2 => demo_tile,
        3 => (number.clone(), number.clone(), number),
    ];
    let query = prop_oneof![
        4 => Just(String::new()),
        1 => crs_text().prop_map(|c| format!("?crs={}", encode(c.as_bytes()))),
    ];
    (layer, zxy, suffix, query).prop_map(|(l, (z, x, y), s, q)| {
        format!(
            "/tiles/{}/{}/{}/{}{s}{q}",
            encode(l.as_bytes()),
            encode(z.as_bytes()),
            encode(x.as_bytes()),
            encode(y.as_bytes())
        )
    })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shrinking reports the smallest failing input; no regression files in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn lookup_query_strings(query in lookup_query()) {
        let uri = format!("/api/v1/lookup?{query}");
        let answer = send(request(Method::GET, &uri, None, None, ""));
        check(&uri, &answer)?;
    }

    #[test]
    fn batch_lookup_bodies(body in body(batch())) {
        let answer = send(request(Method::POST, "/api/v1/lookup", Some("application/json"), None, body.clone()));
        check(&String::from_utf8_lossy(&body), &answer)?;
    }

    #[test]
    fn place_create_bodies(layer in layer(), body in body(feature())) {
        let token = shared().env.planner_token.clone();
        let uri = format!("/api/v1/{layer}");
        let answer = send(request(Method::POST, &uri, Some("application/geo+json"), Some(&token), body.clone()));
        check(&format!("{uri} {}", String::from_utf8_lossy(&body)), &answer)?;
    }

    #[test]
    fn place_patch_bodies(
        pick in any::<prop::sample::Index>(),
        if_match in prop_oneof![
            6 => Just(None),
            1 => Just(Some("*".to_string())),
            1 => "\\PC{0,8}".prop_map(Some),
        ],
        body in body(feature()),
    ) {
        let shared = shared();
        let (layer, id, version) = shared.places[pick.index(shared.places.len())];
        let uri = format!("/api/v1/{layer}/{id}");
        let mut req = request(Method::PATCH, &uri, Some("application/json"), Some(&shared.env.planner_token), body.clone());
        // Mostly the stored version, so that the body is read and checked.
        let tag = if_match.unwrap_or_else(|| format!("\"{version}\""));
        if let Ok(value) = tag.parse() {
            req.headers_mut().insert(header::IF_MATCH, value);
        }
        let answer = send(req);
        check(&format!("{uri} {}", String::from_utf8_lossy(&body)), &answer)?;
    }

    #[test]
    fn validate_bodies(layer in layer(), body in body(feature())) {
        let uri = format!("/api/v1/{layer}/validate");
        let answer = send(request(Method::POST, &uri, Some("application/json"), None, body.clone()));
        check(&format!("{uri} {}", String::from_utf8_lossy(&body)), &answer)?;
    }

    #[test]
    fn tile_paths(path in tile_path()) {
        let answer = send(request(Method::GET, &path, None, None, ""));
        check(&path, &answer)?;
    }
}

proptest! {
    // Each login hashes a password (argon2, on purpose slow): fewer cases.
    #![proptest_config(config(48))]

    #[test]
    fn login_bodies(body in body(login())) {
        let answer = send(request(Method::POST, "/api/v1/auth/login", Some("application/json"), None, body.clone()));
        check(&String::from_utf8_lossy(&body), &answer)?;
    }
}
