-- Text found in photos by the OCR analyzer: the lines as one text, and each line with its box and confidence.
-- The search index (0009) gains it: `search_source` is redefined to read it, and triggers follow its changes.
CREATE TABLE ocr_text (
    file_id      INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    model        TEXT NOT NULL,
    text         TEXT NOT NULL,
    lines        TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    analyzed_at  REAL NOT NULL
);

DROP VIEW search_source;

CREATE VIEW search_source AS
SELECT
    files.id AS file_id,
    coalesce((SELECT group_concat(keywords.keyword || coalesce(' ' || replace(keywords.hierarchy, '|', ' '), ''), ' ; ')
       FROM keywords WHERE keywords.file_id = files.id), '')
      || coalesce(' ; ' || (SELECT tagging.category FROM tagging WHERE tagging.file_id = files.id), '') AS keywords,
    (SELECT tagging.caption FROM tagging WHERE tagging.file_id = files.id) AS caption,
    (SELECT ocr_text.text FROM ocr_text WHERE ocr_text.file_id = files.id) AS ocr,
    rtrim(files.path, replace(replace(files.path, '/', ''), '\', '')) AS folder,
    substr(files.path, length(rtrim(files.path, replace(replace(files.path, '/', ''), '\', ''))) + 1) AS name,
    (SELECT trim(coalesce(media.make, '') || ' ' || coalesce(media.model, ''))
       FROM media WHERE media.file_id = files.id) AS camera,
    NULL AS place
FROM files WHERE files.present = 1;

CREATE TRIGGER search_ocr_insert AFTER INSERT ON ocr_text BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_ocr_update AFTER UPDATE ON ocr_text BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_ocr_delete AFTER DELETE ON ocr_text BEGIN
    DELETE FROM search_fts WHERE rowid = OLD.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = OLD.file_id;
END;
