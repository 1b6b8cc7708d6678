//! Which region codes exist, for the bulk write (ADR 0008): a bounded cache of answers for a
//! small file, or every code under the import's region loaded once for a large one. Split from
//! `write` (which must stay under the file-size limit); its use there is unchanged.

/// Which region codes exist, remembered for the import with a bound on memory.
///
/// A small file asks the region table about each batch's new codes (a cache of at most `cap`
/// answers). A large one loads every code under the import's region once
/// ([`RegionCache::complete`]): a roster spreads over many villages, and asking about each
/// (about 9 µs a code) was 7 % of a national 1,000,000-row import. The whole table is 662,000
/// codes, about 10 MB as a set of numbers, whatever the size of the file.
pub(super) struct RegionCache {
    pub(super) known: std::collections::HashMap<String, bool>,
    pub(super) cap: usize,
    /// Every code under the import's region, as [`RegionCache::number`]s.
    pub(super) all: Option<std::collections::HashSet<u64>>,
}

impl RegionCache {
    pub(super) fn new(cap: usize) -> Self {
        RegionCache {
            known: std::collections::HashMap::new(),
            cap,
            all: None,
        }
    }

    /// A code of up to 15 digits as one number, its length in the low 4 bits (so `11` and
    /// `011` differ); `None` for anything else, which no region has.
    fn number(code: &str) -> Option<u64> {
        if code.is_empty() || code.len() > 15 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u64 = code.parse().ok()?;
        Some(v * 16 + code.len() as u64)
    }

    pub(super) fn is_complete(&self) -> bool {
        self.all.is_some()
    }

    /// Know exactly `codes` (every code under the import's region) from now on.
    pub(super) fn complete<'c>(&mut self, codes: impl Iterator<Item = &'c str>) {
        let all = codes.filter_map(Self::number).collect();
        self.known = std::collections::HashMap::new();
        self.all = Some(all);
    }

    /// The codes among `codes` not yet known, sorted and unique. When the cache is full it is
    /// emptied first, so every code of this batch is either known or in the answer.
    pub(super) fn unknown_of<'c>(&mut self, codes: impl Iterator<Item = &'c str>) -> Vec<&'c str> {
        if self.all.is_some() {
            return Vec::new();
        }
        if self.known.len() >= self.cap {
            self.known.clear();
        }
        let mut out: Vec<&str> = codes.filter(|c| !self.known.contains_key(*c)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    pub(super) fn record(&mut self, code: &str, exists: bool) {
        self.known.insert(code.to_string(), exists);
    }

    pub(super) fn exists(&self, code: &str) -> bool {
        match &self.all {
            Some(all) => Self::number(code).is_some_and(|n| all.contains(&n)),
            None => self.known.get(code).copied().unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_cache_looks_up_every_code_again_after_it_is_emptied() {
        let mut c = RegionCache::new(3);
        assert_eq!(c.unknown_of(["b", "a", "b"].into_iter()), vec!["a", "b"]);
        c.record("a", true);
        c.record("b", false);
        assert!(c.exists("a") && !c.exists("b") && !c.exists("z"));
        assert_eq!(c.unknown_of(["a", "c"].into_iter()), vec!["c"]);
        c.record("c", true);
        // Full: the next batch must look up "a" again, not trust a forgotten answer.
        assert_eq!(c.unknown_of(["a", "d"].into_iter()), vec!["a", "d"]);
        c.record("a", true);
        c.record("d", false);
        assert!(c.exists("a") && !c.exists("d") && !c.exists("c"));
    }

    #[test]
    fn region_cache_once_complete_knows_exactly_the_loaded_codes() {
        let mut c = RegionCache::new(3);
        c.record("110101001001", false);
        c.complete(["110101001001", "11", "350527000000"].into_iter());
        assert!(c.is_complete());
        assert!(c.unknown_of(["999999999999", "11"].into_iter()).is_empty());
        assert!(c.exists("110101001001") && c.exists("11") && c.exists("350527000000"));
        // Same digits, other length; not loaded; not a code at all.
        assert!(!c.exists("011") && !c.exists("110101001002") && !c.exists(""));
        assert!(!c.exists("1234567890123456") && !c.exists("11a"));
    }
}
