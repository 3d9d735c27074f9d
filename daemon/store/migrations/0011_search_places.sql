-- Place names from GPS (city, region, country, country code) join the search index: `search_source` reads them,
-- triggers follow `places`, and the rows of photos that already have a place are rebuilt.
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
    (SELECT trim(coalesce(places.city, '') || ' ' || coalesce(places.region, '') || ' ' || coalesce(places.country, '')
            || ' ' || coalesce(places.country_code, ''))
       FROM places WHERE places.file_id = files.id) AS place
FROM files WHERE files.present = 1;

CREATE TRIGGER search_places_insert AFTER INSERT ON places BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_places_update AFTER UPDATE ON places BEGIN
    DELETE FROM search_fts WHERE rowid = NEW.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = NEW.file_id;
END;

CREATE TRIGGER search_places_delete AFTER DELETE ON places BEGIN
    DELETE FROM search_fts WHERE rowid = OLD.file_id;
    INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
    SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source WHERE file_id = OLD.file_id;
END;

DELETE FROM search_fts WHERE rowid IN (SELECT file_id FROM places);
INSERT INTO search_fts (rowid, keywords, caption, ocr, folder, name, camera, place)
SELECT file_id, keywords, caption, ocr, folder, name, camera, place FROM search_source
WHERE file_id IN (SELECT file_id FROM places);
