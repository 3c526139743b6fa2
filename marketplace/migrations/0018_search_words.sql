-- The words of product titles, as search's typo fallback compares them: a word no match has ("headphnes")
-- is looked up here by trigram similarity, and the products are then found by full text with the close
-- words. Comparing trigrams with a few thousand short words costs a fraction of comparing them with every
-- title that shares a trigram with the typo ("lighst" shares some with every "Lightweight ..." title).
-- Words are only ever added: a word no title has any longer finds no product, which is all it costs.
CREATE TABLE search_words (word text PRIMARY KEY);
CREATE INDEX search_words_trgm ON search_words USING gin (word gin_trgm_ops);

-- A title's words as pg_trgm splits them (runs of letters and digits), from its search key; not numbers
-- (model numbers are a word each and no buyer misspells them into a different product).
CREATE FUNCTION title_words(title_key text) RETURNS SETOF text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT DISTINCT w FROM regexp_split_to_table(title_key, '[^[:alnum:]]+') AS w WHERE w !~ '^[0-9]*$'
$$;

INSERT INTO search_words SELECT DISTINCT title_words(title_key) FROM products ON CONFLICT DO NOTHING;
ANALYZE search_words;

-- Per statement on insert, so that a bulk load (the seed's COPY) adds its words in one statement.
CREATE FUNCTION learn_inserted_title_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_words SELECT DISTINCT title_words(title_key) FROM inserted ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION learn_title_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_words SELECT title_words(NEW.title_key) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER products_title_words_inserted AFTER INSERT ON products
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION learn_inserted_title_words();

CREATE TRIGGER products_title_words_updated AFTER UPDATE OF title ON products
FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title) EXECUTE FUNCTION learn_title_words();

-- Listed products whose title has a script that full-text parsing does not split into words (Chinese,
-- Japanese, Korean): a word of one or two such characters is looked for as a substring among these, since a
-- pattern shorter than a trigram cannot use the trigram index and would read every title.
CREATE INDEX products_listed_unspaced ON products (id)
WHERE status = 'listed' AND title_key ~ '[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]';
