-- Party branches (党支部), their members and their activities (三会一课 and themed days), kept as
-- a trace (留痕): an activity counts once its three photos are in; nothing here is deleted.

CREATE TABLE branches (
    id           INTEGER PRIMARY KEY,
    code         TEXT    NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- A branch belongs to one community (its party committee); a community with branches
    -- cannot be deleted from under them.
    community_id INTEGER NOT NULL REFERENCES places (id) ON DELETE RESTRICT,
    CONSTRAINT branches_code_key UNIQUE (code)
);

-- The grids a branch serves: their households are its secretary's to see.
CREATE TABLE branch_grids (
    branch_id INTEGER NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    grid_id   INTEGER NOT NULL REFERENCES places (id) ON DELETE CASCADE,
    PRIMARY KEY (branch_id, grid_id)
);
CREATE INDEX branch_grids_grid ON branch_grids (grid_id);

-- A secretary bound to a branch sees and manages its members and activities.
ALTER TABLE users ADD COLUMN branch_id INTEGER REFERENCES branches (id) ON DELETE SET NULL;

-- Personal data: read only by the branch's secretary, the community's secretaries and admins.
CREATE TABLE members (
    id        INTEGER PRIMARY KEY,
    branch_id INTEGER NOT NULL REFERENCES branches (id) ON DELETE RESTRICT,
    name      TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    -- The phone is how a member is known across imports (and where lessons are pushed): a
    -- member who moves to another branch keeps it.
    phone     TEXT    NOT NULL CHECK (length(phone) BETWEEN 5 AND 32),
    joined_on TEXT    NOT NULL CHECK (joined_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    status    TEXT    NOT NULL CHECK (status IN ('active', 'mobile', 'transferred')),
    -- Where a mobile member (流动党员) lives and works now; only they have one.
    city      TEXT    CHECK (city IS NULL OR length(city) BETWEEN 1 AND 64),
    CONSTRAINT members_phone_key UNIQUE (phone),
    CONSTRAINT members_city_when_mobile CHECK ((status = 'mobile') = (city IS NOT NULL))
);
CREATE INDEX members_branch ON members (branch_id);

CREATE TABLE activities (
    id          INTEGER PRIMARY KEY,
    branch_id   INTEGER NOT NULL REFERENCES branches (id) ON DELETE RESTRICT,
    type        TEXT    NOT NULL CHECK (type IN ('general_meeting', 'committee_meeting',
                    'group_meeting', 'party_lecture', 'theme_day')),
    theme       TEXT    NOT NULL CHECK (length(theme) BETWEEN 1 AND 200),
    held_at     TEXT    NOT NULL,
    lon         REAL    NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat         REAL    NOT NULL CHECK (lat BETWEEN -90 AND 90),
    recorded_by INTEGER NOT NULL REFERENCES users (id),
    recorded_at TEXT    NOT NULL
);
-- A branch's activities and a community's feed, newest first.
CREATE INDEX activities_branch ON activities (branch_id, held_at);

-- The roll of an activity: every member of the branch (not transferred) when it was recorded.
CREATE TABLE activity_attendance (
    activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE RESTRICT,
    member_id   INTEGER NOT NULL REFERENCES members (id) ON DELETE RESTRICT,
    status      TEXT    NOT NULL CHECK (status IN ('present', 'online', 'absent')),
    -- An absence is explained (请假的理由); nobody else has a reason.
    reason      TEXT    CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 200),
    PRIMARY KEY (activity_id, member_id),
    CONSTRAINT attendance_reason_when_absent CHECK ((status = 'absent') = (reason IS NOT NULL))
);
CREATE INDEX activity_attendance_member ON activity_attendance (member_id);

-- The three photos of an activity: the group photo, the signed sheet, the minutes. The original
-- is kept as it came for those who manage the branch; the public copy and the thumbnail carry
-- no metadata. `flags` (a JSON array) says what looked wrong against the activity's time and
-- place, for review. A photo is replaced only while the activity is a draft.
CREATE TABLE activity_photos (
    -- Never reused: a replaced photo's URL must not show its successor from a cache.
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE RESTRICT,
    kind        TEXT    NOT NULL CHECK (kind IN ('group', 'sign_in', 'minutes')),
    media_type  TEXT    NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),
    width       INTEGER NOT NULL CHECK (width > 0),
    height      INTEGER NOT NULL CHECK (height > 0),
    original    BLOB    NOT NULL,
    public      BLOB    NOT NULL,
    thumbnail   BLOB    NOT NULL,
    -- What the camera said (EXIF), when it said it.
    taken_at    TEXT,
    taken_lon   REAL,
    taken_lat   REAL,
    flags       TEXT    NOT NULL CHECK (json_valid(flags)),
    uploaded_by INTEGER NOT NULL REFERENCES users (id),
    at          TEXT    NOT NULL,
    CONSTRAINT activity_photos_one_per_kind UNIQUE (activity_id, kind)
);

-- 微课堂: a short lesson pushed to the members of some branches. Members have no accounts: each
-- recipient gets a link with a token of their own, and opening it counts as reading.
CREATE TABLE lessons (
    id      INTEGER PRIMARY KEY,
    title   TEXT    NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body    TEXT    NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    -- A video or page to watch, http(s) only.
    link    TEXT    CHECK (link IS NULL OR link GLOB 'http*://*'),
    sent_by INTEGER NOT NULL REFERENCES users (id),
    sent_at TEXT    NOT NULL
);

-- Who a lesson went to (every member on the roll of its branches when it was sent, mobile
-- members included) and when each first read it.
CREATE TABLE lesson_recipients (
    lesson_id INTEGER NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE RESTRICT,
    branch_id INTEGER NOT NULL REFERENCES branches (id) ON DELETE RESTRICT,
    -- SHA-256 of the member's link token, hex: the token itself is only in the link.
    token_hash TEXT   NOT NULL,
    read_at   TEXT,
    PRIMARY KEY (lesson_id, member_id),
    CONSTRAINT lesson_recipients_token_key UNIQUE (token_hash)
);
