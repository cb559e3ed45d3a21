-- Photos of requests (留痕): the resident's or the reporter's (`report`) and the one taken when
-- the work was done (`after`). The original is kept as it came, EXIF and all, for those who
-- answer for the request; the public copy and the thumbnail were encoded afresh and carry no
-- metadata. Never deleted.
CREATE TABLE request_photos (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES requests (id),
    kind        TEXT    NOT NULL CHECK (kind IN ('report', 'after')),
    media_type  TEXT    NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),
    width       INTEGER NOT NULL CHECK (width > 0),
    height      INTEGER NOT NULL CHECK (height > 0),
    original    BLOB    NOT NULL,
    public      BLOB    NOT NULL,
    thumbnail   BLOB    NOT NULL,
    -- Null for a resident's own upload.
    uploaded_by INTEGER REFERENCES users (id),
    at          TEXT    NOT NULL
);
CREATE INDEX request_photos_request ON request_photos (request_id, id);
