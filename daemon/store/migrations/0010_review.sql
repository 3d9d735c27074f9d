-- The review app's library grid: photos newest first by taken date, paged by (taken, id) without OFFSET.
CREATE INDEX media_taken ON media (ifnull(taken, ''), file_id);
-- The camera filter's list: distinct models by index seeks.
CREATE INDEX media_model ON media (model);
