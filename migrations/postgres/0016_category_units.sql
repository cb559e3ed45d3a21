-- Fixed units per category (FixMyStreet's contacts): a category of request that a unit answers
-- for (a water company, the street's 城管中队), in one community or, with no community, in every
-- one. A request of such a category starts dispatched to the unit; the responsible chain still
-- supervises it. Changes are kept in the audit trace (entity `category_unit`), not here.
CREATE TABLE category_units (
    id           BIGSERIAL PRIMARY KEY,
    category     TEXT    NOT NULL CHECK (length(category) BETWEEN 1 AND 64),
    -- No community: the unit answers for the category everywhere a community has none of its own.
    -- A deleted community takes its contacts with it: nothing lies there to route any more.
    community_id BIGINT  REFERENCES places (id) ON DELETE CASCADE,
    -- The width of requests.assignee_unit, which a dispatch copies it into.
    unit         TEXT    NOT NULL CHECK (length(unit) BETWEEN 1 AND 200),
    phone        TEXT    CHECK (phone IS NULL OR length(phone) BETWEEN 1 AND 32)
);
-- One unit answers for a category in a community, and one everywhere: routing must not guess.
CREATE UNIQUE INDEX category_units_one ON category_units (category, coalesce(community_id, 0));
