//! Query parameters shared by several resources.

use super::error::ApiError;
use crate::model::Id;
use crate::spatial::crs::Crs;

/// The id of a `what` (household, request, photo …) in a path or a parameter: an integer, else
/// 400 `invalid_id`.
pub fn id_param(raw: &str, what: &str) -> Result<Id, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_id",
            format!("a {what} id is an integer, got {raw:?}"),
        )
    })
}

/// The `crs` a request names (a query parameter or a body field), WGS84 when it names none.
/// Any spelling [`Crs::parse`] accepts; anything else, the empty string included, is 400
/// `unknown_crs`. (OGC API requests name their CRS by URI only, and are parsed in
/// `ogc::params`.)
pub fn crs_param(raw: Option<&str>) -> Result<Crs, ApiError> {
    Ok(raw.map(Crs::parse).transpose()?.unwrap_or_default())
}

/// The `period` (`month` or `quarter`, default `quarter`) and `year` (default this year, China
/// time) of attendance statistics.
pub fn period_params(
    period: Option<&str>,
    year: Option<&str>,
) -> Result<(crate::app::Period, i32), ApiError> {
    let period = match period.unwrap_or("quarter") {
        "month" => crate::app::Period::Month,
        "quarter" => crate::app::Period::Quarter,
        other => {
            return Err(ApiError::bad_request(
                "invalid_period",
                format!("period is month or quarter, got {other:?}"),
            ));
        }
    };
    let this_year = time::OffsetDateTime::now_utc()
        .to_offset(crate::timestamp::LOCAL_OFFSET)
        .year();
    let year = match year {
        None => this_year,
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|y| (2000..=9998).contains(y))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_year",
                    format!("year is a year from 2000 to 9998, got {raw:?}"),
                )
            })?,
    };
    Ok((period, year))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    #[test]
    fn crs_param_defaults_to_wgs84_and_refuses_what_it_cannot_read() {
        assert_eq!(crs_param(None).unwrap(), Crs::Wgs84);
        assert_eq!(crs_param(Some("gcj-02")).unwrap(), Crs::Gcj02);
        assert_eq!(
            crs_param(Some("urn:ogc:def:crs:EPSG::4549")).unwrap(),
            Crs::Epsg(4549)
        );
        for bad in ["", "mars"] {
            let status = crs_param(Some(bad)).unwrap_err().into_response().status();
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }
}
