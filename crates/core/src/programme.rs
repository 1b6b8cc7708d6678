//! The social-assistance programmes (救助项目) with their stable keys. Applications, standards,
//! beneficiaries, payment rolls, one-off grants and price subsidies all name a programme by
//! its key; the list, its Chinese names and whether it is paid per household or per person
//! live once, here. 低保边缘 (low income) is a status on a household, not a programme with a
//! monthly roll, so it is not in this list.

/// How a programme's money is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaidPer {
    Household,
    Person,
}

/// A social-assistance programme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Programme {
    /// 最低生活保障, per household.
    Dibao,
    /// 特困人员救助供养, per person: basic amount plus a care amount.
    Tekun,
    /// 临时救助, one-off (急难型 or 支出型).
    Temporary,
    /// 孤儿基本生活费 (集中 and 散居 rates).
    OrphanAllowance,
    /// 事实无人抚养儿童基本生活补贴.
    DeFactoOrphanAllowance,
    /// 残疾人两项补贴 (困难残疾人生活补贴 and 重度残疾人护理补贴).
    DisabilityAllowances,
}

impl Programme {
    pub const ALL: [Programme; 6] = [
        Programme::Dibao,
        Programme::Tekun,
        Programme::Temporary,
        Programme::OrphanAllowance,
        Programme::DeFactoOrphanAllowance,
        Programme::DisabilityAllowances,
    ];

    /// The stable key stored in the database and used in the API.
    pub fn key(self) -> &'static str {
        match self {
            Programme::Dibao => "dibao",
            Programme::Tekun => "tekun",
            Programme::Temporary => "temporary",
            Programme::OrphanAllowance => "orphan_allowance",
            Programme::DeFactoOrphanAllowance => "de_facto_orphan_allowance",
            Programme::DisabilityAllowances => "disability_allowances",
        }
    }

    /// The Chinese name shown on pages and in exported files.
    pub fn label(self) -> &'static str {
        match self {
            Programme::Dibao => "最低生活保障",
            Programme::Tekun => "特困人员救助供养",
            Programme::Temporary => "临时救助",
            Programme::OrphanAllowance => "孤儿基本生活费",
            Programme::DeFactoOrphanAllowance => "事实无人抚养儿童基本生活补贴",
            Programme::DisabilityAllowances => "残疾人两项补贴",
        }
    }

    pub fn paid_per(self) -> PaidPer {
        match self {
            Programme::Dibao => PaidPer::Household,
            _ => PaidPer::Person,
        }
    }

    /// Whether the programme pays every month from a roll (all but 临时救助, which is one-off).
    pub fn monthly(self) -> bool {
        !matches!(self, Programme::Temporary)
    }

    /// The programme for a key or a Chinese name (surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<Programme> {
        let s = s.trim();
        Programme::ALL
            .into_iter()
            .find(|p| p.key() == s || p.label() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_labels_round_trip_and_are_unique() {
        for p in Programme::ALL {
            assert_eq!(Programme::parse(p.key()), Some(p));
            assert_eq!(Programme::parse(p.label()), Some(p));
        }
        let mut keys: Vec<_> = Programme::ALL.iter().map(|p| p.key()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), Programme::ALL.len());
        assert_eq!(Programme::parse("低保边缘"), None);
        assert_eq!(Programme::Dibao.paid_per(), PaidPer::Household);
        assert!(!Programme::Temporary.monthly());
    }
}
