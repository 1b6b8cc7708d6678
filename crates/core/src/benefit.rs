//! The amount rules of social assistance (救助金额计算), written once: the monthly 低保 amount of
//! a household (standard total − averaged income after exempt items and the employment-cost
//! deduction + category supplements, never below a minimum per person; 单人保 and 渐退), and the
//! 特困 amount (basic amount, at least 1.3 × the local dibao standard, plus a care amount by
//! how far the person can look after themselves). Pure integer arithmetic on [`Fen`]; every
//! rounding step is named where it happens, and every computation returns the Chinese text of
//! how it was reached (stored with the beneficiary as `amount_detail`).
//!
//! Sources (the words the rules follow):
//! * 《社会救助暂行办法》第九条: "国家对共同生活的家庭成员人均收入低于当地最低生活保障标准，且符合
//!   当地最低生活保障家庭财产状况规定的家庭，给予最低生活保障。"
//! * 第十二条: "对批准获得最低生活保障的家庭，县级人民政府民政部门按照共同生活的家庭成员人均收入低于
//!   当地最低生活保障标准的差额，按月发给最低生活保障金。"
//! * 《最低生活保障审核确认办法》(民发〔2021〕57号) 第十四条: family income is counted over "申请
//!   低保前12个月"; 第十五条: "在核算家庭收入时，可以扣减一定比例或者一定数额的就业成本"; items
//!   such as 优待抚恤金、奖励性补助 "不计入家庭收入" (exempt items).
//! * 同办法第十条 (单人保): "脱离家庭、在宗教场所居住三年以上(含三年)的生活困难的宗教教职人员"
//!   and "共同生活的家庭成员中的重病、重残人员" may be covered alone — the standard total then
//!   counts only the members covered.
//! * 分类施保: "对获得最低生活保障后生活仍有困难的老年人、未成年人、重度残疾人和重病患者等特殊困难
//!   人员，应当采取必要措施给予生活保障" — here a percentage of the standard per member in the
//!   category.
//! * 渐退: "对家庭人均收入超过当地最低生活保障标准的，可给予一定时间的渐退期" — the last amount
//!   keeps being paid for N months after the income rises above the line.
//! * 《关于进一步健全特困人员救助供养制度的意见》(国发〔2016〕14号): "基本生活标准应当满足特困人员
//!   基本生活所需" and, in the provinces' rules, "不低于当地低保标准的1.3倍"; "照料护理标准应当根据
//!   特困人员生活自理能力和服务需求分档制定" (全自理 / 半护理 / 全护理).

use crate::money::Fen;
use std::fmt::Write as _;

/// Why an amount cannot be computed (Chinese, for the page and the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BenefitError {
    /// No members, or more covered than members.
    Members,
    /// A negative standard, income or exempt amount.
    Negative,
    /// The tekun basic amount is below 1.3 × the local dibao standard.
    TekunBelowFloor { basic: Fen, floor: Fen },
    /// An arithmetic overflow (amounts far beyond any real case).
    Overflow,
}

impl std::fmt::Display for BenefitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenefitError::Members => {
                f.write_str("家庭成员人数不正确（保障人数须在 1 与家庭人数之间）")
            }
            BenefitError::Negative => f.write_str("标准、收入和扣除金额不能为负数"),
            BenefitError::TekunBelowFloor { basic, floor } => write!(
                f,
                "特困人员基本生活标准 {basic} 元低于当地低保标准的 1.3 倍（{floor} 元），不能设定"
            ),
            BenefitError::Overflow => f.write_str("金额过大"),
        }
    }
}

impl std::error::Error for BenefitError {}

/// One member of a household for the means test: the income over the past 12 months.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberIncome {
    /// Wage and business income over the past 12 months (the employment-cost deduction
    /// applies to it).
    pub earned_12m: Fen,
    /// Every other income over the past 12 months (transfers, property, pensions …).
    pub other_12m: Fen,
    /// Items not counted (优待抚恤金、奖励性补助 …) that are included in the figures above.
    pub exempt_12m: Fen,
    /// The category supplement for this member (分类施保) in basis points of the standard
    /// (e.g. 2000 = 20 %); 0 when the member is in no category.
    pub supplement_bp: u32,
}

/// The county's dibao rules in force for a household.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DibaoRules {
    /// The dibao standard, fen per person per month (urban or rural, as the household).
    pub standard: Fen,
    /// 就业成本扣减: fen per month deducted from each member's earned income (never more than
    /// that member's earned income).
    pub employment_deduction: Fen,
    /// The least paid per person covered per month (a household entitled to anything gets at
    /// least this × the persons covered).
    pub min_per_person: Fen,
}

/// A computed amount with the words of how it was reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amount {
    pub monthly: Fen,
    /// Household monthly income counted (dibao), for the record.
    pub income: Fen,
    pub detail: String,
}

/// Integer division rounding half up, for non-negative numerators and positive divisors.
fn div_half_up(n: i64, d: i64) -> i64 {
    (n + d / 2) / d
}

/// The household's counted monthly income: for each member, earned + other − exempt (never
/// below zero) minus 12 × the employment deduction (never more than the member's earned
/// income); the sum over members is divided by 12 and **rounded down to the fen** (in the
/// household's favour: a lower income never costs it a fen).
pub fn monthly_income(members: &[MemberIncome], rules: &DibaoRules) -> Result<Fen, BenefitError> {
    let mut sum: i64 = 0;
    for m in members {
        if m.earned_12m.0 < 0 || m.other_12m.0 < 0 || m.exempt_12m.0 < 0 {
            return Err(BenefitError::Negative);
        }
        let gross = m
            .earned_12m
            .0
            .checked_add(m.other_12m.0)
            .ok_or(BenefitError::Overflow)?;
        let counted_earned_cut = rules
            .employment_deduction
            .0
            .checked_mul(12)
            .ok_or(BenefitError::Overflow)?
            .min(m.earned_12m.0);
        let net = (gross - m.exempt_12m.0).max(0);
        let net = (net - counted_earned_cut).max(0);
        sum = sum.checked_add(net).ok_or(BenefitError::Overflow)?;
    }
    Ok(Fen(sum / 12))
}

/// The monthly dibao amount of a household, or `None` when its counted income per person is
/// not below the standard (not entitled).
///
/// * standard total = standard × persons covered (`covered`: all members, or fewer for 单人保,
///   the covered members listed first); the whole household's income is counted;
/// * gap = standard total − counted monthly income ([`monthly_income`]);
/// * supplements (分类施保) = Σ over covered members of standard × bp / 10000, each **rounded
///   half up to the fen**;
/// * amount = gap + supplements, raised to `min_per_person × covered` if below it.
///
/// Entitled when the counted income is below the standard total of the covered persons.
pub fn dibao_monthly(
    members: &[MemberIncome],
    covered: usize,
    rules: &DibaoRules,
) -> Result<Option<Amount>, BenefitError> {
    if members.is_empty() || covered == 0 || covered > members.len() {
        return Err(BenefitError::Members);
    }
    if rules.standard.0 < 0 || rules.employment_deduction.0 < 0 || rules.min_per_person.0 < 0 {
        return Err(BenefitError::Negative);
    }
    let income = monthly_income(members, rules)?;
    let total = rules
        .standard
        .0
        .checked_mul(covered as i64)
        .ok_or(BenefitError::Overflow)?;
    if income.0 >= total {
        return Ok(None);
    }
    let gap = total - income.0;
    // The covered persons are the first `covered` members (the applicant's list puts them first).
    let mut supplements = 0i64;
    for m in members.iter().take(covered) {
        let s = div_half_up(
            rules
                .standard
                .0
                .checked_mul(i64::from(m.supplement_bp))
                .ok_or(BenefitError::Overflow)?,
            10_000,
        );
        supplements += s;
    }
    let computed = gap + supplements;
    let floor = rules.min_per_person.0 * covered as i64;
    let monthly = computed.max(floor);
    let mut detail = String::new();
    let _ = write!(
        detail,
        "保障标准 {} 元 × {} 人 = {} 元；家庭月均收入 {} 元（近 12 个月，扣除豁免项目和就业成本，向下取整到分）；差额 {} 元",
        rules.standard,
        covered,
        Fen(total),
        income,
        Fen(gap)
    );
    if covered < members.len() {
        let _ = write!(
            detail,
            "；单人保（家庭 {} 人，保障 {} 人）",
            members.len(),
            covered
        );
    }
    if supplements > 0 {
        let _ = write!(
            detail,
            "；分类施保 {} 元（按标准比例，四舍五入到分）",
            Fen(supplements)
        );
    }
    if monthly > computed {
        let _ = write!(
            detail,
            "；低于每人最低 {} 元，按 {} 元发放",
            rules.min_per_person,
            Fen(floor)
        );
    }
    let _ = write!(detail, "；月保障金 {} 元", Fen(monthly));
    Ok(Some(Amount {
        monthly: Fen(monthly),
        income,
        detail,
    }))
}

/// 渐退 (gradual exit): after the household's income rises above the line, the last amount
/// keeps being paid for `months` months. `months_above` counts the months since (1 = the first
/// month above the line). Returns the amount still paid, or `None` once the period is over.
pub fn gradual_exit(last: Fen, months_above: u32, months: u32) -> Option<Fen> {
    if months_above >= 1 && months_above <= months {
        Some(last)
    } else {
        None
    }
}

/// How far a tekun person can look after themselves (生活自理能力).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfCare {
    /// 具备生活自理能力 (全自理)
    Full,
    /// 部分丧失生活自理能力 (半护理)
    Partial,
    /// 完全丧失生活自理能力 (全护理)
    None,
}

impl SelfCare {
    /// The standard component that holds this level's care amount.
    pub fn component(self) -> &'static str {
        match self {
            SelfCare::Full => "care_self",
            SelfCare::Partial => "care_partial",
            SelfCare::None => "care_full",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SelfCare::Full => "具备生活自理能力",
            SelfCare::Partial => "部分丧失生活自理能力",
            SelfCare::None => "完全丧失生活自理能力",
        }
    }
    pub fn parse(s: &str) -> Option<SelfCare> {
        match s.trim() {
            "self" | "full_self_care" | "care_self" => Some(SelfCare::Full),
            "partial" | "care_partial" => Some(SelfCare::Partial),
            "none" | "care_full" => Some(SelfCare::None),
            _ => None,
        }
    }
}

/// The least tekun basic amount for a dibao standard: 1.3 × the standard, **rounded up to the
/// fen** (so a basic amount equal to the floor is never below 1.3 ×).
pub fn tekun_floor(dibao_standard: Fen) -> Fen {
    Fen((dibao_standard.0 * 13 + 9) / 10)
}

/// Is a tekun basic amount allowed beside this dibao standard (≥ 1.3 ×)?
pub fn check_tekun_basic(basic: Fen, dibao_standard: Fen) -> Result<(), BenefitError> {
    let floor = tekun_floor(dibao_standard);
    if basic < floor {
        Err(BenefitError::TekunBelowFloor { basic, floor })
    } else {
        Ok(())
    }
}

/// The monthly tekun amount: basic amount + the care amount of the person's self-care level.
/// Refused when the basic amount is below 1.3 × the local dibao standard.
pub fn tekun_monthly(
    basic: Fen,
    dibao_standard: Fen,
    care: Fen,
    level: SelfCare,
) -> Result<Amount, BenefitError> {
    if basic.0 < 0 || care.0 < 0 || dibao_standard.0 < 0 {
        return Err(BenefitError::Negative);
    }
    check_tekun_basic(basic, dibao_standard)?;
    let monthly = basic
        .0
        .checked_add(care.0)
        .map(Fen)
        .ok_or(BenefitError::Overflow)?;
    Ok(Amount {
        monthly,
        income: Fen::ZERO,
        detail: format!(
            "基本生活标准 {basic} 元（不低于低保标准 {dibao_standard} 元的 1.3 倍）+ 照料护理标准 {care} 元（{}）= {monthly} 元",
            level.label()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(standard: i64) -> DibaoRules {
        DibaoRules {
            standard: Fen(standard),
            employment_deduction: Fen(0),
            min_per_person: Fen(0),
        }
    }

    fn m(earned: i64, other: i64) -> MemberIncome {
        MemberIncome {
            earned_12m: Fen(earned),
            other_12m: Fen(other),
            ..Default::default()
        }
    }

    /// An independent recomputation, written differently: in yuan-cents as i128 with the
    /// rounding done by remainders.
    fn recompute(members: &[MemberIncome], covered: usize, r: &DibaoRules) -> Option<i64> {
        let mut yearly: i128 = 0;
        for x in members {
            let cut = std::cmp::min(
                i128::from(r.employment_deduction.0) * 12,
                i128::from(x.earned_12m.0),
            );
            let v =
                i128::from(x.earned_12m.0) + i128::from(x.other_12m.0) - i128::from(x.exempt_12m.0);
            let v = if v < 0 { 0 } else { v };
            let v = if v - cut < 0 { 0 } else { v - cut };
            yearly += v;
        }
        let income = (yearly - yearly % 12) / 12;
        let total = i128::from(r.standard.0) * covered as i128;
        if income >= total {
            return None;
        }
        let mut sup: i128 = 0;
        for x in &members[..covered] {
            let p = i128::from(r.standard.0) * i128::from(x.supplement_bp);
            let q = p / 10_000;
            sup += if p % 10_000 >= 5_000 { q + 1 } else { q };
        }
        let amount = std::cmp::max(
            total - income + sup,
            i128::from(r.min_per_person.0) * covered as i128,
        );
        i64::try_from(amount).ok()
    }

    #[test]
    fn households_of_several_sizes_and_incomes() {
        // Standard 750 yuan; sizes 1..=5; several incomes, with deductions and supplements.
        let r = DibaoRules {
            standard: Fen(75_000),
            employment_deduction: Fen(20_000),
            min_per_person: Fen(5_000),
        };
        let cases: Vec<Vec<MemberIncome>> = vec![
            vec![m(0, 0)],
            vec![m(0, 240_000)],
            vec![m(1_200_000, 0), m(0, 0)],
            vec![m(600_001, 12_345), m(0, 0), m(0, 0)],
            vec![
                MemberIncome {
                    earned_12m: Fen(1_800_000),
                    exempt_12m: Fen(0),
                    other_12m: Fen(360_000),
                    supplement_bp: 0,
                },
                MemberIncome {
                    supplement_bp: 2000,
                    ..m(0, 0)
                },
                MemberIncome {
                    supplement_bp: 3000,
                    ..m(0, 0)
                },
                m(0, 0),
            ],
            vec![
                MemberIncome {
                    earned_12m: Fen(0),
                    other_12m: Fen(100_000),
                    exempt_12m: Fen(60_000),
                    supplement_bp: 1500,
                },
                m(0, 0),
                m(0, 0),
                m(0, 0),
                m(0, 0),
            ],
            vec![m(9_000_000, 0), m(0, 0)],
        ];
        let mut entitled = 0;
        for hh in &cases {
            let got = dibao_monthly(hh, hh.len(), &r)
                .expect("computes")
                .map(|a| a.monthly.0);
            assert_eq!(got, recompute(hh, hh.len(), &r), "{hh:?}");
            if got.is_some() {
                entitled += 1;
            }
        }
        assert_eq!(entitled, 6, "the rich household is not entitled");
    }

    #[test]
    fn worked_example_rounds_each_step() {
        // Two persons, standard 700.00; income 1,000.01 yuan a year of other income:
        // 100001 / 12 = 8333.4 → 8333 fen (down); gap = 140000 − 8333 = 131667.
        // A 15 % supplement for one member: 70000 × 1500 / 10000 = 10500.
        let r = rules(70_000);
        let hh = vec![
            MemberIncome {
                supplement_bp: 1500,
                ..m(0, 100_001)
            },
            m(0, 0),
        ];
        let a = dibao_monthly(&hh, 2, &r).expect("ok").expect("entitled");
        assert_eq!(a.income, Fen(8_333));
        assert_eq!(a.monthly, Fen(131_667 + 10_500));
        assert!(a.detail.contains("分类施保 105.00 元"), "{}", a.detail);
        // Half-up on the supplement: 70001 × 1 / 10000 = 7.0001 → 7; × 5000 → 35000.5 → 35001.
        let r2 = rules(70_001);
        let hh2 = vec![MemberIncome {
            supplement_bp: 5000,
            ..m(0, 0)
        }];
        let a2 = dibao_monthly(&hh2, 1, &r2).expect("ok").expect("entitled");
        assert_eq!(a2.monthly, Fen(70_001 + 35_001));
    }

    #[test]
    fn employment_deduction_and_exempt_items() {
        let r = DibaoRules {
            standard: Fen(60_000),
            employment_deduction: Fen(30_000),
            min_per_person: Fen(0),
        };
        // Earned 600 a month; deduction 300 a month → counted 300; exempt 100 a month of other.
        let hh = vec![
            MemberIncome {
                earned_12m: Fen(720_000),
                other_12m: Fen(120_000),
                exempt_12m: Fen(120_000),
                supplement_bp: 0,
            },
            m(0, 0),
        ];
        let a = dibao_monthly(&hh, 2, &r).expect("ok").expect("entitled");
        assert_eq!(a.income, Fen(30_000));
        assert_eq!(a.monthly, Fen(120_000 - 30_000));
        // The deduction never exceeds the member's earned income (no negative income).
        let hh = vec![m(12_000, 0)];
        assert_eq!(monthly_income(&hh, &r), Ok(Fen(0)));
    }

    #[test]
    fn single_person_coverage_and_minimum() {
        let r = DibaoRules {
            standard: Fen(80_000),
            employment_deduction: Fen(0),
            min_per_person: Fen(10_000),
        };
        // Three persons, one covered (重病): income 70,000 a month counted against one standard.
        let hh = vec![m(0, 0), m(0, 840_000), m(0, 0)];
        let a = dibao_monthly(&hh, 1, &r).expect("ok").expect("entitled");
        assert_eq!(a.monthly, Fen(10_000), "gap 100 yuan raised to the minimum");
        assert!(a.detail.contains("单人保"));
        assert_eq!(Some(a.monthly.0), recompute(&hh, 1, &r));
        // At the line: not entitled.
        let hh = vec![m(0, 960_000)];
        assert_eq!(dibao_monthly(&hh, 1, &r), Ok(None));
        assert_eq!(dibao_monthly(&hh, 2, &r), Err(BenefitError::Members));
        assert_eq!(dibao_monthly(&[], 0, &r), Err(BenefitError::Members));
        assert_eq!(
            dibao_monthly(&[m(-1, 0)], 1, &r),
            Err(BenefitError::Negative)
        );
    }

    #[test]
    fn gradual_exit_pays_n_months() {
        assert_eq!(gradual_exit(Fen(500), 0, 3), None);
        assert_eq!(gradual_exit(Fen(500), 1, 3), Some(Fen(500)));
        assert_eq!(gradual_exit(Fen(500), 3, 3), Some(Fen(500)));
        assert_eq!(gradual_exit(Fen(500), 4, 3), None);
        assert_eq!(gradual_exit(Fen(500), 1, 0), None);
    }

    #[test]
    fn tekun_basic_at_least_1_3_times() {
        // 700.01 × 1.3 = 910.013 → 910.02 (rounded up).
        assert_eq!(tekun_floor(Fen(70_001)), Fen(91_002));
        assert_eq!(tekun_floor(Fen(70_000)), Fen(91_000));
        assert!(check_tekun_basic(Fen(91_000), Fen(70_000)).is_ok());
        let e = check_tekun_basic(Fen(90_999), Fen(70_000)).expect_err("below");
        assert!(e.to_string().contains("1.3 倍"));
        let a = tekun_monthly(Fen(91_000), Fen(70_000), Fen(30_000), SelfCare::None).expect("ok");
        assert_eq!(a.monthly, Fen(121_000));
        assert!(a.detail.contains("完全丧失生活自理能力"));
        assert!(tekun_monthly(Fen(90_000), Fen(70_000), Fen(0), SelfCare::Full).is_err());
        // Independent: floor × 10 ≥ standard × 13 and (floor − 1) × 10 < standard × 13.
        for s in [0i64, 1, 9, 10, 77, 70_001, 123_457] {
            let f = tekun_floor(Fen(s)).0;
            assert!(f * 10 >= s * 13 && (f - 1) * 10 < s * 13, "{s}");
        }
    }
}
