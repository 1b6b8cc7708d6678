//! The generated roster both benchmark programs load: row `i` is a pure function of `i` and a
//! seed — a valid GB 11643 ID number of a real county (unique over the whole space), a name
//! from common surnames and given-name characters, a mobile number and a real village of that
//! county — so the same rows can be regenerated to look people up.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use backstop_core::citizen_id::check_char;

use crate::die;

/// Real villages grouped by their county (`areaCode`), from `villages.csv`.
pub struct Regions {
    pub counties: Vec<(String, Vec<String>)>,
}

/// The villages of `villages.csv` by county; only counties whose code starts with `prefix`
/// (`""`: all, `"42"`: one province).
pub fn load_regions(data: &Path, prefix: &str) -> Regions {
    let path = data.join("villages.csv");
    let f = std::fs::File::open(&path).unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
    let mut by_county: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
        if n == 0 {
            continue;
        }
        // code,"name",streetCode,provinceCode,cityCode,areaCode — names hold no commas.
        let cols: Vec<&str> = line.split(',').collect();
        if let (Some(code), Some(area)) = (cols.first(), cols.last())
            && code.len() == 12
            && area.len() == 6
            && area.trim().starts_with(prefix)
        {
            by_county
                .entry(area.trim().to_string())
                .or_default()
                .push(code.trim().to_string());
        }
    }
    if by_county.is_empty() {
        die(format!("no villages in {}", path.display()));
    }
    Regions {
        counties: by_county.into_iter().collect(),
    }
}

pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
];
pub const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀", "英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "兰", "霞", "平", "刚", "桂", "华", "建", "国", "玉", "红", "文", "辉", "鹏",
    "飞", "波", "宁", "斌", "萍", "琴", "云", "燕", "春", "海", "林", "晨", "阳", "佳", "欣", "宇",
];

/// Generates row `i` of the roster, a pure function of `i` and the seed.
pub struct Roster {
    pub regions: Regions,
    days: u64,
    pub space: u128,
    mult: u128,
    offset: u128,
    seed: u64,
}

pub struct Person {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub village: String,
    pub county: String,
}

impl Roster {
    pub fn new(regions: Regions, seed: u64) -> Roster {
        let days = (days_from_civil(2019, 12, 31) - days_from_civil(1940, 1, 1) + 1) as u64;
        // (county, birth day, 3-digit sequence): every combination is a distinct ID number.
        let space = regions.counties.len() as u128 * u128::from(days) * 1000;
        let mut mult: u128 = 2_654_435_761;
        while gcd(mult, space) != 1 {
            mult += 2;
        }
        Roster {
            regions,
            days,
            space,
            mult,
            offset: u128::from(splitmix(seed)) % space,
            seed,
        }
    }

    pub fn person(&self, i: u64) -> Person {
        // j = (i * mult + offset) mod space is a bijection: distinct rows, distinct numbers.
        let j = (u128::from(i) * self.mult + self.offset) % self.space;
        let per_county = u128::from(self.days) * 1000;
        let (county_idx, rest) = ((j / per_county) as usize, (j % per_county) as u64);
        let (day, seq) = (rest / 1000, rest % 1000);
        let (county, villages) = &self.regions.counties[county_idx];
        let h = splitmix(i ^ self.seed.rotate_left(17));
        let village = &villages[(h % villages.len() as u64) as usize];
        let (y, m, d) = civil_from_days(days_from_civil(1940, 1, 1) + day as i64);
        let body = format!("{county}{y:04}{m:02}{d:02}{seq:03}");
        let id = match check_char(&body) {
            Some(c) => format!("{body}{c}"),
            None => die(format!("bad ID body {body}")),
        };
        let g = h >> 8;
        let mut name = SURNAMES[(g % SURNAMES.len() as u64) as usize].to_string();
        name.push_str(GIVEN[((g >> 8) % GIVEN.len() as u64) as usize]);
        if !(g >> 16).is_multiple_of(3) {
            name.push_str(GIVEN[((g >> 20) % GIVEN.len() as u64) as usize]);
        }
        let prefix = ["13", "15", "17", "18", "19"][((g >> 28) % 5) as usize];
        let phone = format!("{prefix}{:09}", (g >> 32) % 1_000_000_000);
        Person {
            id,
            name,
            phone,
            village: village.clone(),
            county: county.clone(),
        }
    }

    /// Write rows `from..to` as a roster CSV.
    pub fn write(&self, path: &Path, from: u64, to: u64) {
        let f =
            std::fs::File::create(path).unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut ok = writeln!(w, "身份证号,姓名,联系电话,区划代码").is_ok();
        for i in from..to {
            let p = self.person(i);
            ok &= writeln!(w, "{},{},{},{}", p.id, p.name, p.phone, p.village).is_ok();
        }
        if !ok || w.flush().is_err() {
            die(format!("writing {}", path.display()));
        }
    }
}
