-- A link between a crop (or a screenshot) and the photo it shows: the inner view's share of the outer's width,
-- positive when file a is the inner one, negative when b is (dedup/regions.py). NULL for every other link.
ALTER TABLE dedup_links ADD COLUMN contained REAL;
