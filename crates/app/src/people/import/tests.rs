//! Unit tests of reading a roster: encodings, line numbers, header recognition and mappings,
//! Excel cells, masking of previews, and that random bytes or cells never panic.

use super::rows::*;
use super::source::*;
use super::*;
use chrono::NaiveDate;
use encoding_rs::GBK;
use proptest::prelude::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default()
}

fn id(region: &str, ymd: &str, seq: &str) -> String {
    let body = format!("{region}{ymd}{seq}");
    let c = backstop_core::citizen_id::check_char(&body).unwrap_or('0');
    format!("{body}{c}")
}

type Rows = Vec<Result<ParsedRow, RowIssue>>;

fn rows_of<S: RowSource>(src: S, mapping: Option<&Mapping>) -> Result<Rows, FileError> {
    let mut r = RowReader::open(src, mapping, today(), false)?;
    let mut out = Vec::new();
    while let Some(row) = r.next_row()? {
        out.push(row);
    }
    Ok(out)
}

fn all_rows(bytes: &[u8]) -> Result<Rows, String> {
    let src = CsvSource::open(bytes, u64::MAX).map_err(|e| e.message)?;
    rows_of(src, None).map_err(|e| e.message)
}

/// A source of typed cells, standing in for a worksheet.
struct Cells(Vec<(u64, Vec<(Kind, &'static str)>)>, usize);

impl RowSource for Cells {
    fn next_record(&mut self, rec: &mut Record) -> Result<bool, FileError> {
        rec.clear();
        let Some((line, cells)) = self.0.get(self.1) else {
            return Ok(false);
        };
        self.1 += 1;
        rec.line = *line;
        for (k, t) in cells {
            rec.push(*k, t);
        }
        Ok(true)
    }
    fn bytes(&self) -> u64 {
        0
    }
    fn format(&self) -> &'static str {
        "xlsx"
    }
}

#[test]
fn reads_utf8_bom_and_gbk_with_line_numbers() {
    let a = id("130110", "19800101", "001");
    let text = format!("姓名,身份证号,性别\n张三,{a},男\n\n李四,123,女\n");
    let crlf = text.replace('\n', "\r\n");
    for bytes in [
        crlf.into_bytes(),
        text.clone().into_bytes(),
        [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
        GBK.encode(&text).0.into_owned(),
    ] {
        let rows = all_rows(&bytes).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        let first = rows[0].as_ref().map(|r| (r.line, r.fields.name.clone()));
        assert_eq!(first, Ok((2, "张三".to_string())));
        let second = rows[1].as_ref().map(|r| r.line).unwrap_err();
        assert_eq!(second.line, 4);
        assert!(second.reason.contains("身份证号"), "{}", second.reason);
        assert_eq!(second.id_masked, "1*3");
    }
    let gbk = GBK.encode(&text).0.into_owned();
    let r = CsvSource::open(&gbk[..], u64::MAX).map(|r| r.format());
    assert_eq!(r.ok(), Some("gbk"));
}

#[test]
fn line_numbers_count_quoted_newlines_and_blank_lines() {
    let a = id("130110", "19800101", "001");
    let text =
        format!("\n姓名,身份证号,现住址\n\"张\"\"三\",{a},\"一号\n\n二楼\"\n\n,,\n李四,1,\n");
    let rows = all_rows(text.as_bytes()).unwrap_or_default();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let first = rows[0]
        .as_ref()
        .map(|r| (r.line, r.fields.name.clone(), r.fields.address.clone()));
    assert_eq!(
        first,
        Ok((3, "张\"三".to_string(), "一号 二楼".to_string()))
    );
    assert_eq!(rows[1].as_ref().map_err(|i| i.line).err(), Some(8));
}

#[test]
fn header_problems_and_limits() {
    assert!(all_rows(b"").is_err());
    let e = all_rows("姓名,电话\n张三,1\n".as_bytes()).unwrap_err();
    assert!(
        e.contains("身份证号") && e.contains("文件中的列：姓名、电话"),
        "{e}"
    );
    assert!(all_rows("姓名,姓名,身份证号\n".as_bytes()).is_err());
    assert!(all_rows(&[0xFF, 0xFE, 0, 0]).is_err());
    let long = format!("name,id_number\n{}\n", "x".repeat(MAX_LINE_BYTES + 10));
    assert!(all_rows(long.as_bytes()).is_err());
    let small = CsvSource::open("name,id_number\na,b\n".as_bytes(), 10)
        .and_then(|s| rows_of(s, None).map(|_| ()));
    // The header alone is beyond 10 bytes: refused while reading, as too large.
    assert_eq!(small.map_err(|e| e.kind), Err(FileErrorKind::TooLarge));
}

#[test]
fn title_rows_above_the_header_are_skipped() {
    let a = id("130110", "19800101", "001");
    let text = format!("低保花名册,,\n填报单位：某村,,\n序号,姓名,身份证号\n1,张三,{a}\n");
    let rows = all_rows(text.as_bytes()).unwrap_or_default();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].as_ref().map(|r| r.line).ok(), Some(4));
}

#[test]
fn explicit_mapping_overrides_recognition() {
    let a = id("130110", "19800101", "002");
    let text = format!("证件,名字,电话\n{a},王五,13800000000\n");
    let e = all_rows(text.as_bytes()).unwrap_err();
    assert!(e.contains("证件、名字、电话"), "{e}");
    let mut m = Mapping::new();
    m.insert("证件".into(), "id_number".into());
    m.insert("名字".into(), "姓名".into());
    m.insert("电话".into(), "ignore".into());
    let src = CsvSource::open(text.as_bytes(), u64::MAX).map_err(|e| e.message);
    let rows = src.and_then(|s| rows_of(s, Some(&m)).map_err(|e| e.message));
    let rows = rows.unwrap_or_default();
    assert_eq!(rows.len(), 1);
    let r = rows[0]
        .as_ref()
        .map(|r| (r.fields.name.clone(), r.fields.phone.clone()));
    assert_eq!(r.ok(), Some(("王五".to_string(), None)));
    // Mapping two columns to one field is refused.
    m.insert("电话".into(), "id_number".into());
    let src = CsvSource::open(text.as_bytes(), u64::MAX);
    let e = src.and_then(|s| rows_of(s, Some(&m)));
    assert_eq!(e.err().map(|e| e.kind), Some(FileErrorKind::Columns));
}

#[test]
fn excel_numbers_ids_dates_and_phones() {
    let a = id("130110", "19800101", "003");
    let a: &'static str = Box::leak(a.into_boxed_str());
    let src = Cells(
        vec![
            (
                1,
                vec![
                    (Kind::Text, "身份证号"),
                    (Kind::Text, "姓名"),
                    (Kind::Text, "出生日期"),
                    (Kind::Text, "联系电话"),
                ],
            ),
            (
                2,
                vec![
                    (Kind::Text, a),
                    (Kind::Text, "甲"),
                    (Kind::Number, "29221"),
                    (Kind::Number, "13812345678"),
                ],
            ),
            (
                5,
                vec![(Kind::Number, "1.30110198001011E+17"), (Kind::Text, "乙")],
            ),
            (
                6,
                vec![(Kind::Number, "130110198001011000"), (Kind::Text, "丙")],
            ),
            (
                7,
                vec![(Kind::Text, a), (Kind::Text, "丁"), (Kind::Number, "29222")],
            ),
        ],
        0,
    );
    let rows = rows_of(src, None).unwrap_or_default();
    assert_eq!(rows.len(), 4, "{rows:?}");
    let first = rows[0]
        .as_ref()
        .map(|r| (r.fields.birth, r.fields.phone.clone()));
    assert_eq!(
        first.ok(),
        Some((
            NaiveDate::from_ymd_opt(1980, 1, 1),
            Some("13812345678".to_string())
        ))
    );
    for (i, line) in [(1, 5), (2, 6)] {
        let e = rows[i].as_ref().map(|_| ()).unwrap_err();
        assert_eq!(e.line, line);
        assert!(e.reason.contains("文本"), "{}", e.reason);
        assert!(!e.id_masked.contains("198001"), "{}", e.id_masked);
    }
    // 29222 is 1980-01-02: not the date in the ID number.
    let e = rows[3].as_ref().map(|_| ()).unwrap_err();
    assert!(e.reason.contains("出生日期"), "{}", e.reason);
}

#[test]
fn excel_dates() {
    let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
    assert_eq!(xlsx::excel_date(1.0, false), d(1900, 1, 1));
    assert_eq!(xlsx::excel_date(59.0, false), d(1900, 2, 28));
    assert_eq!(xlsx::excel_date(60.0, false), None);
    assert_eq!(xlsx::excel_date(61.0, false), d(1900, 3, 1));
    assert_eq!(xlsx::excel_date(29221.5, false), d(1980, 1, 1));
    assert_eq!(xlsx::excel_date(27759.0, true), d(1980, 1, 1));
    assert_eq!(xlsx::excel_date(f64::NAN, false), None);
    assert_eq!(xlsx::excel_date(-3.0, false), None);
}

#[test]
fn masking_of_ids_and_preview_cells() {
    assert_eq!(
        mask_id_text("13011019800101001X", true),
        "130110***********X"
    );
    assert_eq!(
        mask_id_text("13011019800101001X", false),
        "1****************X"
    );
    assert_eq!(mask_id_text("12", false), "**");
    assert!(!mask_cell(None, "卡号 6222020200112233445", false).contains("0200112233"));
    assert_eq!(mask_cell(None, "13812345678", false), "138****5678");
    assert_eq!(mask_cell(None, "3号楼101", false), "3号楼101");
    assert_eq!(
        mask_cell(Some(Field::Region), "130110001001", false),
        "130110001001"
    );
    let a = id("130110", "19800101", "004");
    let text = format!("姓名,身份证号,备注\n张三,{a},13812345678\n");
    let p = preview(
        io::Cursor::new(text.into_bytes()),
        &ImportOptions::default(),
        10,
        false,
    );
    let p = p.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.headers, vec!["姓名", "身份证号", "备注"]);
    assert_eq!(p.fields, vec![Some("name"), Some("id_number"), None]);
    assert_eq!(p.rows.len(), 1);
    assert_eq!(p.rows[0].cells[1], mask_id_text(&a, false));
    assert_eq!(p.rows[0].cells[2], "138****5678");
    assert!(p.column_error.is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Fuzz: arbitrary bytes never panic the CSV reader, and it yields no more rows than
    /// the input has lines, with bounded reasons.
    #[test]
    fn never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
        if let Ok(rows) = all_rows(&bytes) {
            prop_assert!(rows.len() <= lines);
        }
        let mut with_header = "身份证号,姓名,性别,出生日期,联系电话,区划代码,现住址\n".as_bytes().to_vec();
        with_header.extend_from_slice(&bytes);
        if let Ok(rows) = all_rows(&with_header) {
            prop_assert!(rows.len() <= lines);
            for r in rows {
                if let Err(i) = r {
                    prop_assert!(i.reason.len() < 2000);
                    prop_assert!(i.id_masked.chars().count() <= 2000);
                }
            }
        }
        let _ = preview(io::Cursor::new(with_header), &ImportOptions::default(), 10, false);
    }

    #[test]
    fn never_panics_on_random_cells(cells in prop::collection::vec("[0-9Xx,\"\n\r 男女a-z\\-/]{0,20}", 0..30)) {
        let body = format!("id_number,name,sex,birth_date,phone\n{}", cells.join(","));
        let _ = all_rows(body.as_bytes());
    }
}
