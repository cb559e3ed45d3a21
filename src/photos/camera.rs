//! What the camera wrote into a photo (EXIF, read with `kamadak-exif`): when and where it was
//! taken. A branch's photos are compared with the activity they document; a photo that says
//! nothing is not refused, only flagged.

use exif::{Exif, In, Reader, Tag, Value};
use std::io::Cursor;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// When and where a photo says it was taken.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Camera {
    /// The moment the shutter opened (`DateTimeOriginal`, with `OffsetTimeOriginal`).
    pub taken_at: Option<OffsetDateTime>,
    /// WGS84 (lon, lat) from the GPS tags: a phone's GPS writes WGS84, not GCJ-02.
    pub position: Option<(f64, f64)>,
}

/// The clock of a camera that writes no offset: China Standard Time, where our phones are.
const CHINA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+8 is an offset"),
};

/// Reads the time and place from a JPEG's or PNG's EXIF; nothing for a photo without them.
///
/// ```
/// let nothing = wangge::photos::camera::camera(b"not an image");
/// assert_eq!(nothing, wangge::photos::camera::Camera::default());
/// ```
pub fn camera(bytes: &[u8]) -> Camera {
    let Ok(exif) = Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return Camera::default();
    };
    Camera {
        taken_at: taken_at(&exif),
        position: position(&exif),
    }
}

fn ascii(exif: &Exif, tag: Tag) -> Option<&[u8]> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(parts) => parts.first().map(Vec::as_slice),
        _ => None,
    }
}

fn taken_at(exif: &Exif) -> Option<OffsetDateTime> {
    let text = ascii(exif, Tag::DateTimeOriginal).or_else(|| ascii(exif, Tag::DateTime))?;
    let mut stamp = exif::DateTime::from_ascii(text).ok()?;
    if let Some(offset) = ascii(exif, Tag::OffsetTimeOriginal) {
        // An unreadable offset leaves the local clock's guess below.
        let _ = stamp.parse_offset(offset);
    }
    let date = Date::from_calendar_date(
        i32::from(stamp.year),
        Month::try_from(stamp.month).ok()?,
        stamp.day,
    )
    .ok()?;
    let time = Time::from_hms(stamp.hour, stamp.minute, stamp.second).ok()?;
    let offset = match stamp.offset {
        Some(minutes) => UtcOffset::from_whole_seconds(i32::from(minutes) * 60).ok()?,
        None => CHINA,
    };
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Degrees from EXIF's degrees, minutes and seconds, signed by the reference (N/S, E/W).
fn degrees(exif: &Exif, tag: Tag, reference: Tag, negative: u8) -> Option<f64> {
    let Value::Rational(parts) = &exif.get_field(tag, In::PRIMARY)?.value else {
        return None;
    };
    let [d, m, s] = parts.as_slice() else {
        return None;
    };
    let value = d.to_f64() + m.to_f64() / 60.0 + s.to_f64() / 3600.0;
    let sign = match ascii(exif, reference)?.first() {
        Some(&r) if r == negative => -1.0,
        _ => 1.0,
    };
    Some(sign * value).filter(|v| v.is_finite())
}

fn position(exif: &Exif) -> Option<(f64, f64)> {
    let lat = degrees(exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S')?;
    let lon = degrees(exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W')?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lon, lat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use exif::experimental::Writer;
    use exif::{Field, Rational};

    /// A JPEG of a black square carrying `fields` in an EXIF segment (APP1) after the SOI
    /// marker; no segment at all without fields.
    fn jpeg_with(fields: &[Field]) -> Vec<u8> {
        let mut plain = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut plain)
            .encode_image(&image::RgbImage::new(16, 16))
            .unwrap();
        if fields.is_empty() {
            return plain;
        }
        let mut writer = Writer::new();
        for field in fields {
            writer.push_field(field);
        }
        let mut tiff = Cursor::new(Vec::new());
        writer.write(&mut tiff, false).unwrap();
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff.into_inner());
        let mut out = plain[..2].to_vec();
        out.extend([0xFF, 0xE1]);
        out.extend((app1.len() as u16 + 2).to_be_bytes());
        out.extend(app1);
        out.extend(&plain[2..]);
        out
    }

    fn field(tag: Tag, value: Value) -> Field {
        Field {
            tag,
            ifd_num: In::PRIMARY,
            value,
        }
    }

    fn dms(degrees: u32, minutes: u32, centiseconds: u32) -> Value {
        Value::Rational(vec![
            Rational::from((degrees, 1)),
            Rational::from((minutes, 1)),
            Rational::from((centiseconds, 100)),
        ])
    }

    #[test]
    fn the_time_and_place_of_a_phone_photo_are_read_in_utc_and_wgs84() {
        let photo = jpeg_with(&[
            field(
                Tag::DateTimeOriginal,
                Value::Ascii(vec![b"2026:12:01 09:30:00".to_vec()]),
            ),
            field(Tag::GPSLatitudeRef, Value::Ascii(vec![b"N".to_vec()])),
            field(Tag::GPSLatitude, dms(36, 3, 2)),
            field(Tag::GPSLongitudeRef, Value::Ascii(vec![b"E".to_vec()])),
            field(Tag::GPSLongitude, dms(120, 22, 1800)),
        ]);
        let seen = camera(&photo);
        // No offset written: the phone's clock is China's, UTC+8.
        assert_eq!(
            seen.taken_at.map(|t| t.to_offset(UtcOffset::UTC).hour()),
            Some(1)
        );
        let (lon, lat) = seen.position.unwrap();
        assert!(
            (lat - (36.0 + 3.0 / 60.0 + 0.02 / 3600.0)).abs() < 1e-9,
            "{lat}"
        );
        assert!(
            (lon - (120.0 + 22.0 / 60.0 + 18.0 / 3600.0)).abs() < 1e-9,
            "{lon}"
        );
    }

    #[test]
    fn a_written_offset_is_obeyed_and_a_southern_western_position_is_negative() {
        let photo = jpeg_with(&[
            field(
                Tag::DateTimeOriginal,
                Value::Ascii(vec![b"2026:12:01 09:30:00".to_vec()]),
            ),
            field(
                Tag::OffsetTimeOriginal,
                Value::Ascii(vec![b"+00:00".to_vec()]),
            ),
            field(Tag::GPSLatitudeRef, Value::Ascii(vec![b"S".to_vec()])),
            field(Tag::GPSLatitude, dms(33, 52, 0)),
            field(Tag::GPSLongitudeRef, Value::Ascii(vec![b"W".to_vec()])),
            field(Tag::GPSLongitude, dms(70, 40, 0)),
        ]);
        let seen = camera(&photo);
        assert_eq!(seen.taken_at.map(|t| t.hour()), Some(9));
        let (lon, lat) = seen.position.unwrap();
        assert!(lon < -70.0 && lat < -33.0, "{lon} {lat}");
    }

    #[test]
    fn a_photo_without_exif_or_with_nonsense_says_nothing() {
        assert_eq!(camera(&jpeg_with(&[])), Camera::default());
        let nonsense = jpeg_with(&[
            field(
                Tag::DateTimeOriginal,
                Value::Ascii(vec![b"yesterday".to_vec()]),
            ),
            field(Tag::GPSLatitudeRef, Value::Ascii(vec![b"N".to_vec()])),
            field(Tag::GPSLatitude, dms(136, 0, 0)),
            field(Tag::GPSLongitudeRef, Value::Ascii(vec![b"E".to_vec()])),
            field(Tag::GPSLongitude, dms(120, 0, 0)),
        ]);
        assert_eq!(camera(&nonsense), Camera::default());
    }
}
