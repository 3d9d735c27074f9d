-- One search: a full-text index (FTS5) with one row per present file (rowid = files.id), kept in step with the
-- tables it reads by triggers, so every writer (stage recorders, moves, renames, deletions) updates it in the
-- same transaction. `search_source` says what a file's row holds; later migrations redefine it (OCR, places).
-- A file enters the index when probe records it (media), not when it is queued: queuing stays as cheap as before.
CREATE VIRTUAL TABLE search_fts USING fts5(
    keywords, caption, ocr, folder, name, camera, place,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE VIEW search_source AS
SELECT
    files.id AS file_id,
    coalesce((SELECT group_concat(keywords.keyword || coalesce(' ' || replace(keywords.hierarchy, '|', ' '), ''), ' ; ')
       FROM keywords WHERE keywords.file_id = files.id), '')
      || coalesce(' ; ' || (SELECT tagging.category FROM tagging WHERE tagging.file_id = files.id), '') AS keywords,
    (SELECT tagging.caption FROM tagging WHERE tagging.file_id = files.id) AS caption,
    NULL AS ocr,
    rtrim(files.path, replace(replace(files.path, '/', ''), '\', '')) AS folder,
    substr(files.path, length(rtrim(files.path, replace(replace(files.path, '/', ''), '\', ''))) + 1) AS name,
    (SELECT trim(coalesce(media.make, '') || ' ' || coalesce(media.model, ''))
       FROM media WHERE media.file_id = files.id) AS camera,
    NULL AS place
FROM files WHERE files.present = 1;

INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source;

CREATE TRIGGER search_files_update AFTER UPDATE OF path, present ON files
WHEN OLD.path IS NOT NEW.path OR OLD.present IS NOT NEW.present BEGIN
    DELETE FROM search_fts WHERE rowid = OLD.id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.id;
END;

CREATE TRIGGER search_files_delete AFTER DELETE ON files BEGIN
    DELETE FROM search_fts WHERE rowid = OLD.id;
END;

CREATE TRIGGER search_media_insert AFTER INSERT ON media BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_media_update AFTER UPDATE OF make, model ON media BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_keywords_insert AFTER INSERT ON keywords BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_keywords_delete AFTER DELETE ON keywords BEGIN
    DELETE FROM search_fts WHERE rowid = OLD.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = OLD.file_id;
END;

CREATE TRIGGER search_tagging_insert AFTER INSERT ON tagging BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_tagging_update AFTER UPDATE OF category, caption ON tagging BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_keywords_update AFTER UPDATE ON keywords BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_tagging_delete AFTER DELETE ON tagging BEGIN
    DELETE FROM search_fts WHERE rowid = OLD.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = OLD.file_id;
END;
