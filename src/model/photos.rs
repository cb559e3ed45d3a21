//! Photos kept as evidence of a request (and, later, of a branch's activity): what was shot,
//! in which copy it is read.

use super::Id;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a request's photo was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoKind {
    /// The problem as reported.
    Report,
    /// The work done (处置后).
    After,
}

impl PhotoKind {
    /// Every kind.
    pub const ALL: [PhotoKind; 2] = [PhotoKind::Report, PhotoKind::After];

    /// The name the API and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoKind::Report => "report",
            PhotoKind::After => "after",
        }
    }
}

impl fmt::Display for PhotoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PhotoKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PhotoKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("a photo's kind is report or after, not {s:?}"))
    }
}

/// Which copy of a photo to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoCopy {
    /// As uploaded, metadata and all: for those who answer for the request.
    Original,
    /// Upright, re-encoded without metadata: public.
    Public,
    /// Small, without metadata: public.
    Thumbnail,
}

/// A photo to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPhoto {
    /// The request it shows.
    pub request_id: Id,
    /// Why it was taken.
    pub kind: PhotoKind,
    /// `image/jpeg` or `image/png`, of the original.
    pub media_type: String,
    /// Width of the upright image.
    pub width: u32,
    /// Height of the upright image.
    pub height: u32,
    /// The bytes as uploaded.
    pub original: Vec<u8>,
    /// The public copy (JPEG).
    pub public: Vec<u8>,
    /// The thumbnail (JPEG).
    pub thumbnail: Vec<u8>,
    /// Who uploaded it; `None` for a resident.
    pub uploaded_by: Option<Id>,
    /// When (stored form).
    pub at: String,
}

/// A kept photo, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Photo {
    /// Its id.
    pub id: Id,
    /// The request it shows.
    pub request_id: Id,
    /// Why it was taken.
    pub kind: PhotoKind,
    /// What the original is.
    pub media_type: String,
    /// Width of the upright image.
    pub width: u32,
    /// Height of the upright image.
    pub height: u32,
    /// Who uploaded it; `None` for a resident.
    pub uploaded_by: Option<Id>,
    /// When.
    pub at: String,
}

/// One copy of a photo, to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoBytes {
    /// The request it shows: who may read the original is decided by it.
    pub request_id: Id,
    /// The copy's media type.
    pub media_type: String,
    /// The copy.
    pub bytes: Vec<u8>,
}
