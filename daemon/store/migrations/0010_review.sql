-- The review app's library grid: photos newest first by taken date, paged by (taken, id) without OFFSET.
CREATE INDEX media_taken ON media (ifnull(taken, ''), file_id);
