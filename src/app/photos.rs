//! Photos of requests: checked and re-encoded off the async workers, kept with the request,
//! the original (with its EXIF) read only by those who answer for the request.

use super::App;
use super::access::may_read_request;
use super::requests::RequestError;
use crate::auth::User;
use crate::model::Id;
use crate::model::photos::{NewPhoto, Photo, PhotoBytes, PhotoCopy, PhotoKind};
use crate::store::StoreError;

/// The most photos of one kind a request keeps.
pub const MAX_PHOTOS_PER_KIND: usize = 4;

impl App {
    /// Keeps a photo of request `request_id`. Staff (`user`) add photos of either kind to a
    /// request they may read; without a user it is the resident who has just posted the
    /// request through the public intake, and only a photo of the problem (`report`) is kept.
    pub async fn add_photo(
        &self,
        user: Option<&User>,
        request_id: Id,
        kind: PhotoKind,
        bytes: Vec<u8>,
    ) -> Result<Photo, RequestError> {
        let request = self
            .store
            .request(request_id)
            .await?
            .ok_or(StoreError::NoSuchRequest(request_id))?;
        let allowed = match user {
            Some(user) => may_read_request(user, &request, &self.map_data()),
            None => kind == PhotoKind::Report,
        };
        if !allowed {
            return Err(RequestError::NotYours(request_id));
        }
        let (processed, original) = self
            .compute(move || (crate::photos::process(&bytes), bytes))
            .await?;
        let processed = processed?;
        let photo = NewPhoto {
            request_id,
            kind,
            media_type: processed.media_type.to_string(),
            width: processed.width,
            height: processed.height,
            original,
            public: processed.public,
            thumbnail: processed.thumbnail,
            uploaded_by: user.map(|u| u.id),
            at: crate::timestamp::now(),
        };
        Ok(self
            .store
            .add_request_photo(&photo, MAX_PHOTOS_PER_KIND)
            .await?)
    }

    /// The photos of a request, oldest first, without their bytes (public: they say nothing
    /// but kind, size and time).
    pub async fn photos(&self, request_id: Id) -> Result<Vec<Photo>, StoreError> {
        self.store.request_photos(request_id).await
    }

    /// One copy of a photo: the public copy and the thumbnail for anyone, the original only
    /// for those who may read its request in full.
    pub async fn photo(
        &self,
        user: Option<&User>,
        id: Id,
        copy: PhotoCopy,
    ) -> Result<PhotoBytes, RequestError> {
        let found = self
            .store
            .request_photo(id, copy)
            .await?
            .ok_or(StoreError::NoSuchPhoto(id))?;
        if copy == PhotoCopy::Original {
            let request = self
                .store
                .request(found.request_id)
                .await?
                .ok_or(StoreError::NoSuchRequest(found.request_id))?;
            if !user.is_some_and(|u| may_read_request(u, &request, &self.map_data())) {
                return Err(RequestError::NotYours(found.request_id));
            }
        }
        Ok(found)
    }
}
