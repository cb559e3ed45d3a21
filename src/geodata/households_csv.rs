//! Households from a spreadsheet: the register a community keeps (一标三实) saved as CSV, one row
//! per household, placed by its building or its standard address when it has no coordinates.
//!
//! Columns, by header name, in any order (others are ignored): `code`, `address`, `head_name`
//! (required); `building_code`, `unit`, `floor`, `room`, `phone`, `people`, `tags` (separated by
//! `;`), `lon` and `lat` (in the import's CRS). A row is placed:
//! 1. by `lon`/`lat` when it has both;
//! 2. else inside its building: the one `building_code` names, or the building whose standard
//!    address is the longest beginning of the row's `address` ("珠海路12号" places
//!    "珠海路12号2单元301"), which also becomes the row's `building_code`.
//!
//! A row whose `building_code` names no building, or which has no coordinates and whose address
//! matched no building, is *unmatched*: it is left out and reported with its line, so the
//! register can be put right and imported again. A row with a malformed field (a floor that is
//! no number, a missing name) fails the whole import, as a bad feature of a GeoJSON file does.

use super::{FeatureError, ImportError, parse_household};
use crate::model::{Building, NewHousehold};
use crate::spatial::crs::Crs;
use geo::{Centroid, Contains, InteriorPoint, Point};
use geojson::{Feature, JsonObject, JsonValue};
use std::collections::HashMap;
use std::fmt;

/// The columns read as whole numbers.
const NUMBER_COLUMNS: [&str; 3] = ["unit", "floor", "people"];
/// The columns read as text, besides `tags`.
const TEXT_COLUMNS: [&str; 6] = [
    "code",
    "building_code",
    "room",
    "address",
    "head_name",
    "phone",
];
/// The columns a file must have.
const REQUIRED_COLUMNS: [&str; 3] = ["code", "address", "head_name"];

/// The households of a CSV file that could be placed, and the rows that could not.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvHouseholds {
    /// Checked and placed, in WGS84, ready to import.
    pub households: Vec<NewHousehold>,
    /// Rows left out because their building or address matched nothing.
    pub unmatched: Vec<UnmatchedRow>,
}

/// A row left out of an import: its line in the file, its code and what matched nothing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnmatchedRow {
    /// The line in the file, from 1 (the header is line 1).
    pub line: u64,
    /// The row's `code`.
    pub code: String,
    /// What matched nothing.
    pub reason: String,
}

impl fmt::Display for UnmatchedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} ({}): {}", self.line, self.code, self.reason)
    }
}

/// The buildings rows are placed in, by code and by standard address.
struct Buildings<'a> {
    by_code: HashMap<&'a str, &'a Building>,
    /// Longest address first, so that the first that begins a row's address is the longest.
    by_address: Vec<(&'a str, &'a Building)>,
}

impl<'a> Buildings<'a> {
    fn new(buildings: &'a [Building]) -> Self {
        let mut by_address: Vec<(&str, &Building)> = buildings
            .iter()
            .map(|b| (b.address.trim(), b))
            .filter(|(address, _)| !address.is_empty())
            .collect();
        by_address.sort_by_key(|(address, _)| std::cmp::Reverse(address.len()));
        Buildings {
            by_code: buildings.iter().map(|b| (b.code.as_str(), b)).collect(),
            by_address,
        }
    }

    fn at_address(&self, address: &str) -> Option<&'a Building> {
        let address = address.trim();
        self.by_address
            .iter()
            .find(|(prefix, _)| address.starts_with(prefix))
            .map(|(_, b)| *b)
    }
}

/// A point inside the building: where a household placed by it is drawn and counted.
fn inside(building: &Building) -> Option<Point<f64>> {
    let centroid = building.footprint.centroid()?;
    if building.footprint.contains(&centroid) {
        Some(centroid)
    } else {
        building.footprint.interior_point()
    }
}

/// Reads a CSV register of households (see the module documentation); lon/lat in `crs`.
///
/// ```
/// use wangge::geodata::households_from_csv;
/// use wangge::spatial::crs::Crs;
/// let csv = "code,address,head_name,lon,lat\nH1,珠海路1号101,王芳,120.38,36.06\nH2,无名路9号,李雷,,\n";
/// let read = households_from_csv(csv, Crs::Wgs84, &[]).unwrap();
/// assert_eq!(read.households.len(), 1);
/// assert_eq!(read.unmatched[0].line, 3);
/// ```
pub fn households_from_csv(
    text: &str,
    crs: Crs,
    buildings: &[Building],
) -> Result<CsvHouseholds, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ImportError::Syntax(e.to_string()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    if let Some(missing) = REQUIRED_COLUMNS.iter().find(|c| column(c).is_none()) {
        return Err(ImportError::Syntax(format!(
            "the header has no column {missing:?}; it needs {}",
            REQUIRED_COLUMNS.join(", ")
        )));
    }
    let buildings = Buildings::new(buildings);
    let mut read = CsvHouseholds {
        households: Vec::new(),
        unmatched: Vec::new(),
    };
    let mut errors = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ImportError::Syntax(e.to_string()))?;
        let line = record.position().map_or(index as u64 + 2, |p| p.line());
        let cell = |name: &str| {
            column(name)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
        };
        let code = cell("code").unwrap_or_default().to_string();
        let mut properties = JsonObject::new();
        for name in TEXT_COLUMNS {
            if let Some(value) = cell(name) {
                properties.insert(name.into(), value.into());
            }
        }
        for name in NUMBER_COLUMNS {
            if let Some(value) = cell(name) {
                // A number stays text if it is none, for the import to say so.
                let number = value.parse::<i64>().map_or(value.into(), JsonValue::from);
                properties.insert(name.into(), number);
            }
        }
        if let Some(tags) = cell("tags") {
            let tags: Vec<&str> = tags
                .split(';')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            properties.insert("tags".into(), tags.into());
        }
        let building = match cell("building_code") {
            Some(named) => match buildings.by_code.get(named) {
                Some(b) => Some(*b),
                None => {
                    read.unmatched.push(UnmatchedRow {
                        line,
                        code,
                        reason: format!("no building has the code {named:?}"),
                    });
                    continue;
                }
            },
            None => cell("address").and_then(|a| buildings.at_address(a)),
        };
        if let Some(b) = building {
            properties.insert("building_code".into(), b.code.as_str().into());
        }
        let coordinates = match (cell("lon"), cell("lat")) {
            (Some(lon), Some(lat)) => match (lon.parse::<f64>(), lat.parse::<f64>()) {
                (Ok(lon), Ok(lat)) => Some((Point::new(lon, lat), crs)),
                _ => {
                    errors.push(FeatureError {
                        index,
                        code: Some(code),
                        reason: format!("line {line}: lon {lon:?} and lat {lat:?} must be numbers"),
                    });
                    continue;
                }
            },
            _ => building.and_then(inside).map(|p| (p, Crs::Wgs84)),
        };
        let Some((point, point_crs)) = coordinates else {
            read.unmatched.push(UnmatchedRow {
                line,
                code,
                reason: format!(
                    "the address {:?} matched no building's and the row has no lon/lat",
                    cell("address").unwrap_or_default()
                ),
            });
            continue;
        };
        let feature = Feature {
            geometry: Some(geojson::Geometry::new(geojson::GeometryValue::from(&point))),
            properties: Some(properties),
            ..Feature::default()
        };
        match parse_household(&feature, point_crs) {
            Ok(household) => read.households.push(household),
            Err(reason) => errors.push(FeatureError {
                index,
                code: Some(code).filter(|c| !c.is_empty()),
                reason: format!("line {line}: {reason}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(read)
    } else {
        Err(ImportError::Features(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, polygon};

    fn building(code: &str, address: &str, west: f64) -> Building {
        Building {
            id: 1,
            code: code.into(),
            name: code.into(),
            address: address.into(),
            floors: 6,
            units: 2,
            footprint: MultiPolygon(vec![polygon![
                (x: west, y: 36.060),
                (x: west + 0.0004, y: 36.060),
                (x: west + 0.0004, y: 36.0603),
                (x: west, y: 36.0603),
                (x: west, y: 36.060),
            ]]),
            grid_id: None,
        }
    }

    #[test]
    fn rows_are_placed_by_coordinates_building_code_or_the_longest_matching_address() {
        let buildings = [
            building("B1", "珠海路1号", 120.380),
            building("B12", "珠海路12号", 120.390),
            building("B12-2", "珠海路12号2号楼", 120.395),
        ];
        let csv = "\
code,building_code,unit,floor,room,address,head_name,phone,people,tags,lon,lat
H1,,1,3,301,珠海路12号2号楼1单元301,王芳,13800000000,2,elderly_alone; party_member,,
H2,B1,2,5,502,随便写的地址,李雷,,1,,,
H3,,,,,东海路8号,韩梅梅,,3,,120.4,36.07
H4,B99,,,,珠海路1号,张三,,1,,,
H5,,,,,香港中路9号,赵四,,1,,,
H6,,,,,珠海路12号平房,钱五,,1,,,
";
        let read = households_from_csv(csv, Crs::Wgs84, &buildings).unwrap();
        let codes: Vec<&str> = read.households.iter().map(|h| h.code.as_str()).collect();
        assert_eq!(codes, ["H1", "H2", "H3", "H6"]);
        let h1 = &read.households[0];
        // "珠海路12号2号楼…" begins with two addresses; the longer one is its building.
        assert_eq!(h1.details.building_code.as_deref(), Some("B12-2"));
        assert!(buildings[2].footprint.contains(&h1.location));
        assert_eq!(h1.details.floor, Some(3));
        assert_eq!(h1.details.tags, ["elderly_alone", "party_member"]);
        assert_eq!(h1.details.phone.as_deref(), Some("13800000000"));
        assert!(
            buildings[0]
                .footprint
                .contains(&read.households[1].location)
        );
        assert_eq!(read.households[2].location, Point::new(120.4, 36.07));
        assert_eq!(read.households[2].details.building_code, None);
        assert_eq!(
            read.households[3].details.building_code.as_deref(),
            Some("B12")
        );
        let unmatched: Vec<(u64, &str)> = read
            .unmatched
            .iter()
            .map(|r| (r.line, r.code.as_str()))
            .collect();
        assert_eq!(unmatched, [(5, "H4"), (6, "H5")]);
        assert!(read.unmatched[0].reason.contains("B99"));
        assert!(read.unmatched[1].reason.contains("香港中路9号"));
    }

    #[test]
    fn coordinates_are_read_in_the_crs_of_the_import() {
        let csv = "code,address,head_name,lon,lat\nH1,珠海路1号,王芳,120.385,36.062\n";
        let wgs84 = households_from_csv(csv, Crs::Wgs84, &[]).unwrap();
        let gcj02 = households_from_csv(csv, Crs::Gcj02, &[]).unwrap();
        let shift = wgs84.households[0].location - gcj02.households[0].location;
        // GCJ-02 lies a few hundred metres off WGS84 in Qingdao.
        assert!(
            shift.x().abs() > 0.001 && shift.y().abs() > 0.0001,
            "{shift:?}"
        );
    }

    #[test]
    fn a_malformed_row_fails_the_whole_import_with_every_error() {
        let csv = "\
code,address,head_name,floor,lon,lat
H1,珠海路1号,王芳,三楼,120.38,36.06
H2,珠海路1号,,1,120.38,36.06
H3,珠海路1号,李雷,2,east,36.06
";
        let Err(ImportError::Features(errors)) = households_from_csv(csv, Crs::Wgs84, &[]) else {
            panic!("a malformed row must fail the import")
        };
        let reasons: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("floor"), "{}", reasons[0]);
        assert!(reasons[1].contains("head_name"), "{}", reasons[1]);
        assert!(reasons[2].contains("east"), "{}", reasons[2]);
        let Err(ImportError::Syntax(missing)) =
            households_from_csv("code,address\nH1,x\n", Crs::Wgs84, &[])
        else {
            panic!("a file without head_name is refused")
        };
        assert!(missing.contains("head_name"), "{missing}");
    }
}
