//! Streaming reader of the first worksheet of an Excel roster (.xlsx = zip + XML), for the
//! roster import (`people::import`).
//!
//! This module owns reading an untrusted .xlsx safely, so a hostile upload cannot exhaust
//! memory or disk and a broken one gives a clear Chinese message instead of a panic:
//!
//! - **Zip-bomb safety.** Before the zip crate parses anything, the end-of-central-directory
//!   record is read and the number of entries and the directory's size are bounded
//!   ([`Limits::max_entries`], [`Limits::max_directory`]). Every entry's declared sizes are
//!   checked (an entry expanding more than [`Limits::max_ratio`] times is refused), and every
//!   part actually read goes through a capped reader that counts decompressed bytes: shared
//!   strings at most [`Limits::max_shared_strings`], the sheet at most [`Limits::max_sheet`],
//!   and again the ratio against the declared compressed size, so a directory that lies is
//!   caught while reading. A refusal is a [`FileError`] with kind `TooLarge` (`file_too_large`)
//!   or `Unsafe` (`xlsx_unsafe`); the import then writes nothing.
//! - **Bounded memory.** Only the shared-string table is held (one string buffer plus an
//!   offset per string); the sheet is parsed event by event and one row is held at a time.
//!   A single XML event (a cell, a tag) larger than 4 MiB, a cell longer than 64 KiB or a row
//!   longer than 1 MiB stops the import; at most 1,024 columns are kept.
//! - **Cells** are placed by their reference (`r="C5"`), so rows that skip cells keep their
//!   columns; the row number (`r="5"`) is the line number users see. Shared strings, inline
//!   strings (rich text runs joined, phonetic runs skipped), formula string results, numbers
//!   (kept as Excel wrote them, marked as numbers so the importer can refuse an ID number that
//!   Excel stored as a number and turn a date serial into a date), booleans and error values.
//! - The first worksheet is found through `xl/workbook.xml` and its relationships (falling back
//!   to `xl/worksheets/sheet1.xml`); the 1904 date system is honoured.

use std::borrow::Cow;
use std::io::{self, BufReader, Read, Seek};

use quick_xml::events::Event;
use zip::ZipArchive;

mod container;
mod sheet;

pub use sheet::{Sheet, column_of, excel_date};

use super::import::{FileError, FileErrorKind, refused_in};
use container::{Capped, check_directory};

/// Caps on what an .xlsx may make us read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries in the zip directory.
    pub max_entries: u64,
    /// Bytes of the zip's central directory.
    pub max_directory: u64,
    /// Decompressed bytes of `xl/sharedStrings.xml`.
    pub max_shared_strings: u64,
    /// Decompressed bytes of the worksheet.
    pub max_sheet: u64,
    /// Decompressed bytes of the small parts (workbook, relationships).
    pub max_part: u64,
    /// Largest decompressed/compressed ratio of an entry (past its first MiB).
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 2_000,
            max_directory: 4 * 1024 * 1024,
            max_shared_strings: 64 * 1024 * 1024,
            max_sheet: 1024 * 1024 * 1024,
            max_part: 16 * 1024 * 1024,
            max_ratio: 250,
        }
    }
}

/// At most this many columns are kept per row.
pub const MAX_COLUMNS: usize = 1024;
/// Longest cell text kept (bytes).
pub(super) const MAX_CELL: usize = 64 * 1024;
/// Longest row (bytes of cell text).
pub(super) const MAX_ROW: usize = 1024 * 1024;
/// Largest single XML event (bytes read from the part between two events).
pub(super) const MAX_EVENT: u64 = 4 * 1024 * 1024;
/// Ratio checks start after this many decompressed bytes.
pub(super) const RATIO_GRACE: u64 = 1024 * 1024;

/// Does the file start like a zip (`PK\x03\x04`)?
pub fn is_zip(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
}

pub(super) fn unreadable(m: impl Into<String>) -> FileError {
    FileError::new(FileErrorKind::Unreadable, m)
}

pub(super) fn unsafe_file(m: impl Into<String>) -> FileError {
    FileError::new(FileErrorKind::Unsafe, m)
}

pub(super) const BOMB: &str =
    "文件解压后的大小或压缩比异常（可能是恶意构造的压缩包），已拒绝，未导入任何数据";

pub(super) fn io_error(e: &io::Error, what: &str) -> FileError {
    refused_in(e).unwrap_or_else(|| unreadable(format!("无法读取 xlsx 文件的{what}：{e}")))
}

pub(super) fn xml_error(e: &quick_xml::Error, what: &str) -> FileError {
    if let quick_xml::Error::Io(io) = e
        && let Some(f) = refused_in(io)
    {
        return f;
    }
    unreadable(format!("xlsx 文件的{what}格式错误，文件可能已损坏"))
}

/// Shared strings: one buffer and the end offset of each string.
#[derive(Debug, Default)]
pub(super) struct Strings {
    text: String,
    ends: Vec<u32>,
}

impl Strings {
    pub(super) fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 {
            0
        } else {
            *self.ends.get(i - 1)? as usize
        };
        self.text.get(start..end)
    }
}

/// An opened workbook: where its first sheet is, its shared strings and date system.
pub struct Book<R> {
    archive: ZipArchive<R>,
    strings: Strings,
    date1904: bool,
    sheet: usize,
    sheet_size: u64,
    sheet_compressed: u64,
    file_len: u64,
    limits: Limits,
}

/// Resolve a relationship target against `xl/`.
fn part_path(target: &str) -> String {
    let t = target.trim();
    if let Some(abs) = t.strip_prefix('/') {
        return abs.to_string();
    }
    let mut parts: Vec<&str> = vec!["xl"];
    for seg in t.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

pub(super) fn attr<'a>(
    e: &'a quick_xml::events::BytesStart<'_>,
    name: &str,
) -> Option<Cow<'a, str>> {
    e.attributes()
        .flatten()
        .find(|a| {
            let k = a.key.0;
            k == name || k.rsplit_once(':').is_some_and(|(_, l)| l == name)
        })
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| Cow::Owned(v.into_owned()))
        })
}

/// Append the text of a general reference (`&amp;`, `&#x41;`).
pub(super) fn push_ref(out: &mut String, r: &quick_xml::events::BytesRef<'_>) {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        out.push(c);
    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(r) {
        out.push_str(s);
    }
}

impl<R: Read + Seek> Book<R> {
    /// Open a workbook: check the zip directory, every entry's declared sizes, then read the
    /// workbook, its relationships and the shared strings (bounded).
    pub fn open(mut input: R, limits: Limits) -> Result<Self, FileError> {
        let file_len = check_directory(&mut input, &limits)?;
        let archive = ZipArchive::new(input)
            .map_err(|e| unreadable(format!("无法读取 xlsx 文件（压缩包损坏：{e}）")))?;
        if archive.len() as u64 > limits.max_entries {
            return Err(unsafe_file("压缩包中的文件过多，已拒绝"));
        }
        for i in 0..archive.len() {
            let e = archive
                .by_index_data(i)
                .map_err(|e| unreadable(format!("无法读取 xlsx 文件（{e}）")))?;
            let (size, packed) = (e.size(), e.compressed_size());
            if size > RATIO_GRACE && size / packed.max(1) > limits.max_ratio {
                return Err(unsafe_file(BOMB));
            }
            if e.encrypted() {
                return Err(unreadable("xlsx 文件已加密，请取消密码保护后再导入"));
            }
        }
        let mut book = Book {
            archive,
            strings: Strings::default(),
            date1904: false,
            sheet: 0,
            sheet_size: 0,
            sheet_compressed: 0,
            file_len,
            limits,
        };
        let (rid, date1904) = book.read_workbook()?;
        book.date1904 = date1904;
        let (sheet_path, strings_path) = book.read_rels(rid.as_deref())?;
        book.sheet = book
            .archive
            .index_for_name(&sheet_path)
            .or_else(|| book.archive.index_for_name("xl/worksheets/sheet1.xml"))
            .ok_or_else(|| unreadable("xlsx 文件中没有工作表"))?;
        {
            let e = book
                .archive
                .by_index_data(book.sheet)
                .map_err(|e| unreadable(format!("无法读取工作表（{e}）")))?;
            book.sheet_size = e.size();
            book.sheet_compressed = e.compressed_size();
        }
        if book.sheet_size > limits.max_sheet {
            return Err(FileError::new(
                FileErrorKind::TooLarge,
                format!(
                    "工作表解压后有 {} MB，超过上限 {} MB，请拆分后分批导入",
                    book.sheet_size / (1024 * 1024),
                    limits.max_sheet / (1024 * 1024)
                ),
            ));
        }
        if let Some(i) = book.archive.index_for_name(&strings_path) {
            book.strings = book.read_strings(i)?;
        }
        Ok(book)
    }

    /// An entry through the capped reader, or `None` when absent.
    fn part(
        &mut self,
        index: usize,
        cap: u64,
        what: &'static str,
    ) -> Result<Capped<zip::read::ZipFile<'_, R>>, FileError> {
        let max_ratio = self.limits.max_ratio;
        let f = self
            .archive
            .by_index(index)
            .map_err(|e| unreadable(format!("无法读取 xlsx 文件的{what}（{e}）")))?;
        if f.size() > cap {
            return Err(FileError::new(
                FileErrorKind::TooLarge,
                format!(
                    "xlsx 文件的{what}解压后超过 {} MB 上限",
                    cap / (1024 * 1024)
                ),
            ));
        }
        let compressed = f.compressed_size();
        Ok(Capped::new(f, cap, compressed, max_ratio, what))
    }

    /// Part `index` (at most `cap` bytes unpacked) event by event up to its end, each event
    /// but the end given to `on`; a malformed part is an error naming `what`.
    fn each_event(
        &mut self,
        index: usize,
        cap: u64,
        what: &'static str,
        mut on: impl FnMut(Event<'_>),
    ) -> Result<(), FileError> {
        let part = self.part(index, cap, what)?;
        let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
        let mut buf = Vec::new();
        loop {
            xml.get_mut().get_mut().mark();
            match xml.read_event_into(&mut buf) {
                Ok(Event::Eof) => break,
                Ok(ev) => on(ev),
                Err(e) => return Err(xml_error(&e, what)),
            }
            buf.clear();
        }
        Ok(())
    }

    /// The first sheet's relationship id and the date system.
    fn read_workbook(&mut self) -> Result<(Option<String>, bool), FileError> {
        let Some(i) = self.archive.index_for_name("xl/workbook.xml") else {
            return Ok((None, false));
        };
        let (mut rid, mut date1904) = (None, false);
        self.each_event(i, self.limits.max_part, "工作簿", |ev| {
            if let Event::Start(e) | Event::Empty(e) = ev {
                match e.local_name().as_ref() {
                    "workbookPr" => {
                        date1904 = attr(&e, "date1904")
                            .is_some_and(|v| v.as_ref() == "1" || v.as_ref() == "true");
                    }
                    "sheet" if rid.is_none() => rid = attr(&e, "id").map(Cow::into_owned),
                    _ => {}
                }
            }
        })?;
        Ok((rid, date1904))
    }

    /// Paths of the sheet with relationship `rid` and of the shared strings.
    fn read_rels(&mut self, rid: Option<&str>) -> Result<(String, String), FileError> {
        let mut sheet = "xl/worksheets/sheet1.xml".to_string();
        let mut strings = "xl/sharedStrings.xml".to_string();
        let Some(i) = self.archive.index_for_name("xl/_rels/workbook.xml.rels") else {
            return Ok((sheet, strings));
        };
        self.each_event(i, self.limits.max_part, "关系表", |ev| match ev {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                let id = attr(&e, "Id");
                let target = attr(&e, "Target").unwrap_or_default();
                let kind = attr(&e, "Type").unwrap_or_default();
                if kind.ends_with("/sharedStrings") {
                    strings = part_path(&target);
                } else if rid.is_some() && id.as_deref() == rid {
                    sheet = part_path(&target);
                }
            }
            _ => {}
        })?;
        Ok((sheet, strings))
    }

    fn read_strings(&mut self, index: usize) -> Result<Strings, FileError> {
        let mut strings = Strings::default();
        let (mut in_si, mut in_t, mut in_rph) = (false, false, false);
        let cap = self.limits.max_shared_strings;
        self.each_event(index, cap, "共享字符串表", |ev| match ev {
            Event::Start(e) => match e.local_name().as_ref() {
                "si" => in_si = true,
                "t" => in_t = in_si,
                "rPh" => in_rph = true,
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "si" => {
                strings.ends.push(strings.text.len() as u32);
            }
            Event::End(e) => match e.local_name().as_ref() {
                "si" => {
                    in_si = false;
                    strings.ends.push(strings.text.len() as u32);
                }
                "t" => in_t = false,
                "rPh" => in_rph = false,
                _ => {}
            },
            Event::Text(t) if in_t && !in_rph => strings.text.push_str(&t.xml10_content()),
            Event::CData(t) if in_t && !in_rph => strings.text.push_str(&t),
            Event::GeneralRef(r) if in_t && !in_rph => push_ref(&mut strings.text, &r),
            _ => {}
        })?;
        if strings.text.len() > u32::MAX as usize {
            return Err(unsafe_file(BOMB));
        }
        Ok(strings)
    }

    /// The rows of the first sheet.
    pub fn rows(&mut self) -> Result<Sheet<'_, R>, FileError> {
        let cap = self.limits.max_sheet;
        let (sheet, size, compressed, file_len, date1904) = (
            self.sheet,
            self.sheet_size,
            self.sheet_compressed,
            self.file_len,
            self.date1904,
        );
        let max_ratio = self.limits.max_ratio;
        let f = self
            .archive
            .by_index(sheet)
            .map_err(|e| unreadable(format!("无法读取工作表（{e}）")))?;
        let part = Capped::new(f, cap, compressed, max_ratio, "工作表");
        Ok(Sheet {
            xml: quick_xml::Reader::from_reader(BufReader::with_capacity(64 * 1024, part)),
            strings: &self.strings,
            date1904,
            size,
            file_len,
            buf: Vec::new(),
            last_row: 0,
            done: false,
            text: String::new(),
        })
    }

    /// Whether the workbook uses the 1904 date system.
    pub fn date1904(&self) -> bool {
        self.date1904
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::import::{Kind, Record, RowSource};
    use proptest::prelude::*;
    use std::io::{Cursor, Write};

    /// All rows of a workbook: (row number, [(kind, text)]).
    type Grid = Vec<(u64, Vec<(Kind, String)>)>;

    fn read_all(bytes: &[u8], limits: Limits) -> Result<Grid, FileError> {
        let mut book = Book::open(Cursor::new(bytes.to_vec()), limits)?;
        let mut sheet = book.rows()?;
        let mut out = Vec::new();
        let mut rec = Record::default();
        while sheet.next_record(&mut rec)? {
            if out.len() > 100_000 {
                break;
            }
            let cells = (0..rec.len())
                .map(|i| {
                    let (k, t) = rec.get(i);
                    (k, t.to_string())
                })
                .collect();
            out.push((rec.line, cells));
        }
        Ok(out)
    }

    fn workbook() -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        let _ = ws.write_string(0, 0, "姓名");
        let _ = ws.write_string(0, 2, "身份证号");
        let _ = ws.write_string(1, 0, "张三 & <李>");
        let _ = ws.write_string(1, 2, "13011019800101001X");
        let _ = ws.write_number(3, 1, 13812345678.0);
        let _ = ws.write_boolean(3, 3, true);
        let _ = ws.write_number(3, 4, 29221.0);
        wb.save_to_buffer().unwrap_or_default()
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            let _ = z.start_file(*name, opts);
            let _ = z.write_all(data);
        }
        z.finish().map(Cursor::into_inner).unwrap_or_default()
    }

    #[test]
    fn reads_cells_by_reference_with_all_kinds() {
        {
            let rows = read_all(&workbook(), Limits::default()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(rows.len(), 3, "{rows:?}");
            assert_eq!(rows[0].0, 1);
            assert_eq!(rows[0].1[0].1, "姓名");
            assert_eq!(rows[0].1[1].1, "", "skipped cell B1 padded");
            assert_eq!(rows[0].1[2].1, "身份证号");
            assert_eq!(rows[1].1[0].1, "张三 & <李>");
            assert_eq!(rows[1].1[2], (Kind::Text, "13011019800101001X".to_string()));
            assert_eq!(rows[2].0, 4, "row numbers kept");
            assert_eq!(rows[2].1[1], (Kind::Number, "13812345678".to_string()));
            assert_eq!(rows[2].1[3], (Kind::Text, "TRUE".to_string()));
            assert_eq!(rows[2].1[4], (Kind::Number, "29221".to_string()));
        }
    }

    #[test]
    fn hand_written_parts_rich_text_and_sparse_rows() {
        let sheet = br#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="3"><c r="C3" t="s"><v>1</v></c><c r="A3" t="inlineStr"><is><r><t>A</t></r><r><t xml:space="preserve"> &amp; B</t></r><rPh><t>x</t></rPh></is></c></row>
<row><c t="str"><f>1+1</f><v>two</v></c><c t="e"><v>#N/A</v></c></row>
<row r="9"/>
</sheetData></worksheet>"#;
        let strings = br#"<sst><si><t>zero</t></si><si><r><t>o</t></r><r><t>ne&#x4E00;</t></r></si><si/></sst>"#;
        let bytes = zip_of(&[
            ("xl/worksheets/sheet1.xml", sheet),
            ("xl/sharedStrings.xml", strings),
        ]);
        let rows = read_all(&bytes, Limits::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].0, 3);
        assert_eq!(rows[0].1[0].1, "A & B");
        assert_eq!(rows[0].1[2].1, "one一");
        assert_eq!(rows[1].0, 4);
        assert_eq!(rows[1].1[0].1, "two");
        assert_eq!(rows[1].1[1].1, "#N/A");
    }

    #[test]
    fn bombs_and_lies_are_refused() {
        // Declared ratio far beyond the limit.
        let zeros = vec![b'<'; 4 * 1024 * 1024];
        let bytes = zip_of(&[("xl/worksheets/sheet1.xml", &zeros)]);
        let e = read_all(&bytes, Limits::default()).map(|_| ()).unwrap_err();
        assert_eq!(e.kind, FileErrorKind::Unsafe, "{e}");
        // A sheet over the configured cap.
        let body: String = (1..20_000)
            .map(|i| format!("<row r=\"{i}\"><c t=\"inlineStr\"><is><t>{i}</t></is></c></row>"))
            .collect();
        let sheet = format!("<worksheet><sheetData>{body}</sheetData></worksheet>");
        let bytes = zip_of(&[("xl/worksheets/sheet1.xml", sheet.as_bytes())]);
        let small = Limits {
            max_sheet: 100_000,
            ..Limits::default()
        };
        let e = read_all(&bytes, small).map(|_| ()).unwrap_err();
        assert_eq!(e.kind, FileErrorKind::TooLarge, "{e}");
        // A directory that lies about the size is caught while reading.
        let mut lying = bytes.clone();
        let cd = lying
            .windows(4)
            .rposition(|w| w == b"PK\x01\x02")
            .unwrap_or_default();
        lying[cd + 24..cd + 28].copy_from_slice(&1000u32.to_le_bytes());
        let e = read_all(&lying, small).map(|_| ()).unwrap_err();
        assert!(
            matches!(e.kind, FileErrorKind::Unsafe | FileErrorKind::Unreadable),
            "{e:?}"
        );
        // Too many entries.
        let names: Vec<String> = (0..30).map(|i| format!("f{i}")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let bytes = zip_of(&entries);
        let few = Limits {
            max_entries: 10,
            ..Limits::default()
        };
        let e = read_all(&bytes, few).map(|_| ()).unwrap_err();
        assert_eq!(e.kind, FileErrorKind::Unsafe, "{e}");
        // Not a zip at all.
        let e = read_all(b"PK\x03\x04garbage", Limits::default())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.kind, FileErrorKind::Unreadable);
    }

    #[test]
    fn columns_and_relationships() {
        assert_eq!(column_of("A1"), Some(0));
        assert_eq!(column_of("c5"), Some(2));
        assert_eq!(column_of("AB12"), Some(27));
        assert_eq!(column_of("XFD1"), Some(16_383));
        assert_eq!(column_of("ZZZZ1"), None);
        assert_eq!(column_of("12"), None);
        assert_eq!(
            part_path("worksheets/sheet2.xml"),
            "xl/worksheets/sheet2.xml"
        );
        assert_eq!(part_path("/xl/worksheets/s.xml"), "xl/worksheets/s.xml");
        assert_eq!(part_path("../x/y.xml"), "x/y.xml");
    }

    fn small_limits() -> Limits {
        Limits {
            max_entries: 50,
            max_directory: 64 * 1024,
            max_shared_strings: 256 * 1024,
            max_sheet: 1024 * 1024,
            max_part: 64 * 1024,
            max_ratio: 250,
        }
    }

    /// Reading never yields more rows than bytes of sheet XML allow.
    fn bounded(bytes: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(rows) = read_all(bytes, small_limits()) {
            prop_assert!(rows.len() <= 1024 * 1024 / 5);
            for (_, cells) in rows {
                prop_assert!(cells.len() <= MAX_COLUMNS);
                prop_assert!(cells.iter().map(|c| c.1.len()).sum::<usize>() <= MAX_ROW + MAX_CELL);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Fuzz: arbitrary bytes, with and without a zip signature.
        #[test]
        fn never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
            bounded(&bytes)?;
            let mut z = b"PK\x03\x04".to_vec();
            z.extend_from_slice(&bytes);
            bounded(&z)?;
        }

        /// Fuzz: small zips whose parts are arbitrary XML-ish text.
        #[test]
        fn never_panics_on_small_zips(
            sheet in "(<row( r=\"[0-9]{1,3}\")?>|<c( r=\"[A-Z]{1,3}[0-9]{1,3}\")?( t=\"(s|inlineStr|b|str|n|e)\")?>|<v>|</v>|<is>|<t>|</t>|</is>|</c>|</row>|[0-9a-z&;#<>/\"= ]){0,200}",
            strings in "(<si>|</si>|<t>|</t>|<r>|</r>|<rPh>|</rPh>|[a-z0-9&;#]){0,80}",
            rels in "(<Relationship Id=\"rId1\" Target=\"[a-z/\\.]{0,20}\" Type=\"[a-z/]{0,20}\"/>|[a-z<> ]){0,5}",
        ) {
            let wb = br#"<workbook><workbookPr date1904="1"/><sheets><sheet name="a" r:id="rId1"/></sheets></workbook>"#;
            let sheet = format!("<worksheet><sheetData>{sheet}</sheetData></worksheet>");
            let bytes = zip_of(&[
                ("xl/workbook.xml", wb),
                ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
                ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
                ("xl/sharedStrings.xml", format!("<sst>{strings}</sst>").as_bytes()),
            ]);
            bounded(&bytes)?;
        }

        /// Fuzz: a valid workbook with bytes flipped, cut or inserted.
        #[test]
        fn never_panics_on_mutated_workbooks(
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let valid = workbook();
            let mut m = valid.clone();
            for (i, b) in &flips {
                let at = i.index(m.len());
                m[at] ^= b | 1;
            }
            bounded(&m)?;
            let mut c = valid.clone();
            c.truncate(cut.index(valid.len()));
            bounded(&c)?;
        }
    }
}
