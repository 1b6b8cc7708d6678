-- Pinyin search keys of a person's name (issue 4): name_pinyin = full pinyin without tones or
-- separators (张三 → zhangsan; a surname in its surname reading, 单 → shan), name_initials =
-- the initials (zs). Computed in Rust (people::pinyin) on insert and on a name change; NULL
-- until then, so rows written before this migration are filled at startup / `backstop
-- migrate` (people::pinyin::backfill, batched).
--
-- Prefix search is `LIKE 'key%'`. SQLite uses an index for a case-insensitive LIKE only when
-- the index is COLLATE NOCASE; PostgreSQL only with the text_pattern_ops operator class
-- (whatever the database collation).

ALTER TABLE persons ADD COLUMN name_pinyin TEXT;
ALTER TABLE persons ADD COLUMN name_initials TEXT;

-- sqlite:begin
CREATE INDEX persons_name_pinyin ON persons(name_pinyin COLLATE NOCASE);
CREATE INDEX persons_name_initials ON persons(name_initials COLLATE NOCASE);
-- sqlite:end
-- postgres:begin
CREATE INDEX persons_name_pinyin ON persons(name_pinyin text_pattern_ops);
CREATE INDEX persons_name_initials ON persons(name_initials text_pattern_ops);
-- postgres:end
