-- Issue 13: why a taken time was chosen over the dates passed by (media.taken_note), and the place a photo's GPS
-- position names (offline gazetteer), one row per file with GPS; searchable by country, region and city.
ALTER TABLE media ADD COLUMN taken_note TEXT;

CREATE TABLE places (
    file_id       INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    country       TEXT,
    country_code  TEXT,
    region        TEXT,
    city          TEXT,
    distance_km   REAL,
    gazetteer     TEXT NOT NULL
);
CREATE INDEX places_country ON places (country COLLATE NOCASE);
CREATE INDEX places_city ON places (city COLLATE NOCASE);
