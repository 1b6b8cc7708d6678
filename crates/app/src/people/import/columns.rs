//! Which column holds which field: header recognition (Chinese or English names, found among
//! the first rows), an explicit mapping overriding it, and the check that a roster has the
//! columns it needs; and the saved mappings (templates, `person_import_templates`): a named
//! mapping per organisation (or, for users without one, per scope), audited when saved.

use super::queries;
use super::*;
use crate::kernel::access::{Change, Tx};

/// The fields a roster column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    Name,
    Sex,
    Birth,
    Phone,
    Region,
    Address,
    Hukou,
    /// The village (community) by name (村、社区…), resolved to its code inside the import's
    /// region when the row has no region code.
    Village,
    /// 困难群众类别 (低保, 特困…; several separated by 、 , ;), imported into care groups.
    Category,
    /// The household number (户号): rows with the same number in a village are one household.
    Household,
    /// Relationship to the head of the household (与户主关系).
    Relationship,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::Id,
        Field::Name,
        Field::Sex,
        Field::Birth,
        Field::Phone,
        Field::Region,
        Field::Address,
        Field::Hukou,
        Field::Village,
        Field::Category,
        Field::Household,
        Field::Relationship,
    ];

    fn idx(self) -> usize {
        self as usize
    }

    /// Stable key, as in a [`Mapping`] and the English header.
    pub fn key(self) -> &'static str {
        match self {
            Field::Id => "id_number",
            Field::Name => "name",
            Field::Sex => "sex",
            Field::Birth => "birth_date",
            Field::Phone => "phone",
            Field::Region => "region_code",
            Field::Address => "address",
            Field::Hukou => "hukou_address",
            Field::Village => "village",
            Field::Category => "category",
            Field::Household => "household",
            Field::Relationship => "relationship",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Field::Id => "身份证号",
            Field::Name => "姓名",
            Field::Sex => "性别",
            Field::Birth => "出生日期",
            Field::Phone => "联系电话",
            Field::Region => "区划代码",
            Field::Address => "现住址",
            Field::Hukou => "户籍地址",
            Field::Village => "村（社区）",
            Field::Category => "困难群众类别",
            Field::Household => "户号",
            Field::Relationship => "与户主关系",
        }
    }

    /// A field from its key or Chinese label.
    pub fn from_key(s: &str) -> Option<Field> {
        let s = s.trim();
        Field::ALL
            .into_iter()
            .find(|f| f.key() == s || f.label() == s)
    }

    /// Recognise a header cell.
    pub fn recognise(header: &str) -> Option<Field> {
        let h = normalise_header(header)
            .to_lowercase()
            .replace('(', "（")
            .replace(')', "）");
        Some(match h.as_str() {
            "身份证号" | "身份证号码" | "公民身份号码" | "证件号码" | "身份证" | "id_number"
            | "idnumber" | "id_no" => Field::Id,
            "姓名" | "name" => Field::Name,
            "性别" | "sex" | "gender" => Field::Sex,
            "出生日期" | "出生年月日" | "birth_date" | "birthdate" | "date_of_birth" => {
                Field::Birth
            }
            "联系电话" | "电话" | "手机" | "手机号" | "手机号码" | "phone" | "mobile" => {
                Field::Phone
            }
            "区划代码" | "行政区划代码" | "region_code" | "region" => Field::Region,
            "现住址" | "住址" | "居住地址" | "现居住地址" | "address" => {
                Field::Address
            }
            "户籍地址" | "户籍地" | "hukou_address" => Field::Hukou,
            "村"
            | "社区"
            | "村（社区）"
            | "社区（村）"
            | "村（居）"
            | "村居"
            | "村社区"
            | "村/社区"
            | "村、社区"
            | "所属社区"
            | "所属村"
            | "所属村（社区）"
            | "行政村"
            | "村委会"
            | "居委会"
            | "村（居）委会"
            | "村名"
            | "社区名称"
            | "村（社区）名称"
            | "所在村"
            | "所在社区"
            | "所在村（社区）"
            | "village"
            | "community" => Field::Village,
            "类别" | "人员类别" | "困难群众类别" | "救助类别" | "保障类别" | "救助对象类别"
            | "对象类别" | "category" => Field::Category,
            "户号" | "家庭户编号" | "户编号" | "家庭户号" | "家庭编号" | "户籍户号"
            | "household" | "household_no" => Field::Household,
            "与户主关系" | "与户主的关系" | "家庭关系" | "户内关系" | "relationship" => {
                Field::Relationship
            }
            _ => return None,
        })
    }
}

/// A header cell as compared: whitespace, BOM and required-field stars removed.
pub fn normalise_header(header: &str) -> String {
    header
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\u{feff}' | '*' | '＊'))
        .collect()
}

/// Identifies a header row (for offering a saved template again): SHA-256 of the normalised
/// cells, trailing empty cells ignored.
pub fn header_key(headers: &[String]) -> String {
    let mut cells: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
    while cells.last().is_some_and(String::is_empty) {
        cells.pop();
    }
    crate::kernel::crypto::sha256_hex(cells.join("\u{1f}").as_bytes())
}

/// Which column holds which field.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub(super) idx: [Option<usize>; 12],
    /// Header cells that were not recognised nor mapped (first 40 characters).
    pub ignored: Vec<String>,
}

impl Columns {
    /// The column of a field.
    pub fn of(&self, f: Field) -> Option<usize> {
        self.idx[f.idx()]
    }

    /// The field of column `i`.
    pub fn field_at(&self, i: usize) -> Option<Field> {
        Field::ALL.into_iter().find(|f| self.of(*f) == Some(i))
    }
}

pub(super) fn mapped(mapping: Option<&Mapping>, header: &str) -> Option<Option<Field>> {
    let m = mapping?;
    let norm = normalise_header(header);
    let v = m.get(header.trim()).or_else(|| {
        m.iter()
            .find(|(k, _)| normalise_header(k) == norm)
            .map(|(_, v)| v)
    })?;
    Some(Field::from_key(v))
}

/// Assign fields to header cells (mapping first, then recognition). `Err` names a field
/// claimed by two columns.
pub(super) fn assign(headers: &[&str], mapping: Option<&Mapping>) -> Result<Columns, FileError> {
    let mut cols = Columns::default();
    for (i, cell) in headers.iter().enumerate() {
        let field = match mapped(mapping, cell) {
            Some(f) => f,
            None => Field::recognise(cell),
        };
        match field {
            Some(f) => {
                if cols.idx[f.idx()].is_some() {
                    return Err(FileError::new(
                        FileErrorKind::Columns,
                        format!("表头中“{}”列重复", f.label()),
                    ));
                }
                cols.idx[f.idx()] = Some(i);
            }
            None if cell.trim().is_empty() => {}
            None => cols.ignored.push(cell.trim().chars().take(40).collect()),
        }
    }
    Ok(cols)
}

/// Assign and require the ID number and name columns; the error lists what was found.
pub fn resolve_columns(headers: &[&str], mapping: Option<&Mapping>) -> Result<Columns, FileError> {
    let cols = assign(headers, mapping)?;
    let missing: Vec<&str> = [Field::Id, Field::Name]
        .into_iter()
        .filter(|f| cols.of(*f).is_none())
        .map(Field::label)
        .collect();
    if !missing.is_empty() {
        let found: Vec<String> = headers
            .iter()
            .map(|h| h.trim().chars().take(40).collect::<String>())
            .filter(|h| !h.is_empty())
            .collect();
        return Err(FileError::new(
            FileErrorKind::Columns,
            format!(
                "缺少必需的列：{}。文件中的列：{}。需要：身份证号、姓名（可选：性别、出生日期、联系电话、区划代码、村（社区）、现住址、户籍地址、困难群众类别、户号、与户主关系；英文表头 id_number, name, sex, birth_date, phone, region_code, village, address, hukou_address, category, household, relationship 也可识别）。请修改表头，或在导入页面为各列选择对应的字段",
                missing.join("、"),
                if found.is_empty() {
                    "（无）".to_string()
                } else {
                    found.join("、")
                }
            ),
        ));
    }
    Ok(cols)
}

pub(super) fn owner_key(actor: &Actor) -> String {
    match actor.org_id {
        Some(o) => format!("org:{o}"),
        None => format!("region:{}", actor.scope.as_str()),
    }
}

/// A saved mapping.
#[derive(Debug, Clone)]
pub struct SavedTemplate {
    pub id: i64,
    pub name: String,
    pub header_key: String,
    pub mapping: Mapping,
}

/// The templates of the actor's organisation (or scope), newest first.
pub async fn templates(state: &AppState, actor: &Actor) -> AppResult<Vec<SavedTemplate>> {
    actor.require(Permission::PersonsWrite)?;
    queries::templates(state, &owner_key(actor)).await
}

/// Save (or replace) a named mapping for the actor's organisation; audited.
pub async fn save_template(
    state: &AppState,
    actor: &Actor,
    name: &str,
    header_key: &str,
    mapping: &Mapping,
) -> AppResult<i64> {
    actor.require(Permission::PersonsWrite)?;
    let name = crate::kernel::error::text_field("name", name, 50, true)?;
    let owner = owner_key(actor);
    let text = serde_json::to_string(mapping).unwrap_or_else(|_| "{}".to_string());
    let mut tx = Tx::begin(state, actor).await?;
    let id =
        queries::save_template(&mut tx, &owner, &name, header_key, &text, &actor.username).await?;
    tx.commit(
        Change::new(
            "person_import_template.save",
            "person_import_template",
            id,
            actor.scope.as_str(),
        )
        .detail(json!({"name": name, "mapping": mapping})),
    )
    .await?;
    Ok(id)
}

pub(super) fn parse_mapping(s: Option<&String>) -> AppResult<Option<Mapping>> {
    let Some(s) = s.map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let m: Mapping = serde_json::from_str(s).map_err(|_| {
        AppError::field(
            ErrorCode::Validation,
            "mapping",
            "应为 JSON 对象：{\"文件中的列名\": \"id_number\" 等字段名或 \"ignore\"}",
        )
    })?;
    for v in m.values() {
        let v = v.trim();
        if !(v.is_empty() || v == "ignore" || Field::from_key(v).is_some()) {
            return Err(AppError::field(
                ErrorCode::Validation,
                "mapping",
                format!(
                    "未知的字段“{}”（可用：id_number, name, sex, birth_date, phone, region_code, village, address, hukou_address, category, household, relationship, ignore）",
                    v.chars().take(30).collect::<String>()
                ),
            ));
        }
    }
    Ok(Some(m))
}
