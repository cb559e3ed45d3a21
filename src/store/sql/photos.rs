//! Photos of requests: kept whole in the database beside the request, so that every instance
//! over one PostGIS serves the same ones and a backup holds them with the rest.

use super::{Dialect, SqlStore};
use crate::model::Id;
use crate::model::photos::{NewPhoto, Photo, PhotoBytes, PhotoCopy};
use crate::store::rows::PhotoRow;
use crate::store::{Result, StoreError};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

/// How many photos of kind `$2` request `$1` has.
const PHOTOS_OF_KIND: &str =
    "SELECT count(*) FROM request_photos WHERE request_id = $1 AND kind = $2";

/// The statement that reads one copy of photo `$1`: (request_id, media_type, bytes).
fn copy_statement(copy: PhotoCopy) -> &'static str {
    match copy {
        PhotoCopy::Original => {
            "SELECT request_id, media_type, original FROM request_photos WHERE id = $1"
        }
        PhotoCopy::Public => {
            "SELECT request_id, 'image/jpeg', public FROM request_photos WHERE id = $1"
        }
        PhotoCopy::Thumbnail => {
            "SELECT request_id, 'image/jpeg', thumbnail FROM request_photos WHERE id = $1"
        }
    }
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (i64, String, Vec<u8>): for<'r> FromRow<'r, DB::Row>,
    PhotoRow: for<'r> FromRow<'r, DB::Row>,
{
    /// See [`crate::store::Store::add_request_photo`].
    pub(super) async fn insert_photo(&self, photo: &NewPhoto, max: usize) -> Result<Photo> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let locked: Option<(i64,)> = sqlx::query_as(DB::REQUEST_FOR_UPDATE)
            .bind(photo.request_id)
            .fetch_optional(&mut *tx)
            .await?;
        if locked.is_none() {
            return Err(StoreError::NoSuchRequest(photo.request_id));
        }
        let (count,): (i64,) = sqlx::query_as(PHOTOS_OF_KIND)
            .bind(photo.request_id)
            .bind(photo.kind.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Err(StoreError::TooManyPhotos {
                request_id: photo.request_id,
                max,
            });
        }
        let side = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let (id,): (i64,) = sqlx::query_as(DB::INSERT_REQUEST_PHOTO)
            .bind(photo.request_id)
            .bind(photo.kind.as_str())
            .bind(photo.media_type.as_str())
            .bind(side(photo.width))
            .bind(side(photo.height))
            .bind(photo.original.as_slice())
            .bind(photo.public.as_slice())
            .bind(photo.thumbnail.as_slice())
            .bind(photo.uploaded_by)
            .bind(photo.at.as_str())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Photo {
            id,
            request_id: photo.request_id,
            kind: photo.kind,
            media_type: photo.media_type.clone(),
            width: photo.width,
            height: photo.height,
            uploaded_by: photo.uploaded_by,
            at: photo.at.clone(),
        })
    }

    /// See [`crate::store::Store::request_photos`].
    pub(super) async fn photos_of(&self, request_id: Id) -> Result<Vec<Photo>> {
        let rows: Vec<PhotoRow> = sqlx::query_as(DB::REQUEST_PHOTOS)
            .bind(request_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Photo::try_from).collect()
    }

    /// See [`crate::store::Store::request_photo`].
    pub(super) async fn photo_copy(&self, id: Id, copy: PhotoCopy) -> Result<Option<PhotoBytes>> {
        let row: Option<(i64, String, Vec<u8>)> = sqlx::query_as(copy_statement(copy))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(request_id, media_type, bytes)| PhotoBytes {
            request_id,
            media_type,
            bytes,
        }))
    }
}
