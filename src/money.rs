//! Money: exact euro amounts with two decimal places, never a float.
//!
//! An amount is a [`rust_decimal::Decimal`] with scale 2. It travels as a
//! JSON string (`"118450.00"`), so that no JSON reader turns it into a
//! binary float, and workflow expressions (CEL) see it as whole cents (an
//! `int`), whose sums and comparisons are exact. Every door that takes an
//! amount a person typed (web forms, the portal, Serienbrief rows) goes
//! through [`Money::parse_german`], the one parser for German notation.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

/// The largest amount accepted: below a trillion euros, so that cents fit
/// an `i64` with room for sums of many amounts.
const LIMIT: i64 = 99_999_999_999_999;

/// An exact amount of euros and cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

/// Why a text or JSON value is not an amount; the messages are German,
/// as they are shown at the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// `1.5`: a dot followed by one or two digits reads as an English
    /// decimal point, which a German form never means.
    #[error("Bitte Beträge mit Komma schreiben: {suggestion}")]
    DotDecimal { suggestion: String },
    #[error("Ein Betrag hat höchstens zwei Nachkommastellen (Cent): „{given}“")]
    TooPrecise { given: String },
    #[error("„{given}“ ist kein Betrag; bitte z. B. 118.450,00 oder 118450,00 schreiben")]
    NotAnAmount { given: String },
    #[error("„{given}“ ist keine Zahl; bitte mit Dezimalkomma schreiben (z. B. 2,5)")]
    NotANumber { given: String },
    #[error("Der Betrag „{given}“ ist zu groß (höchstens 999.999.999.999,99 EUR)")]
    TooLarge { given: String },
    #[error(
        "Ein Betrag ist als Zeichenkette wie \"118450.00\" oder als Zahl mit höchstens zwei Nachkommastellen anzugeben, nicht als {got}"
    )]
    WrongJson { got: &'static str },
}

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// From whole cents (CEL's view of an amount).
    pub fn from_cents(cents: i64) -> Result<Money, MoneyError> {
        if cents.unsigned_abs() > LIMIT as u64 {
            return Err(MoneyError::TooLarge {
                given: Decimal::new(cents, 2).to_string(),
            });
        }
        Ok(Money(Decimal::new(cents, 2)))
    }

    /// Whole cents; exact, as the scale is 2 and the amount within [`LIMIT`].
    pub fn cents(self) -> i64 {
        let mut d = self.0;
        d.rescale(2);
        i64::try_from(d.mantissa()).expect("amounts are within the limit")
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }

    /// From a decimal with at most two places (more is refused, never rounded away).
    pub fn from_decimal(d: Decimal, given: &str) -> Result<Money, MoneyError> {
        let d = d.normalize();
        if d.scale() > 2 {
            return Err(MoneyError::TooPrecise {
                given: given.to_string(),
            });
        }
        let mut d = d;
        d.rescale(2);
        if d.mantissa().unsigned_abs() > LIMIT as u128 {
            return Err(MoneyError::TooLarge {
                given: given.to_string(),
            });
        }
        Ok(Money(d))
    }

    /// The amount times a factor (e.g. a share of posts), rounded half up
    /// (away from zero) to the cent: the rounding of commercial practice and
    /// of the VV zu § 44 LHO examples. A float factor is taken by its
    /// shortest decimal form, so `0.5` is one half and `0.1` one tenth.
    pub fn times(self, factor: Decimal) -> Result<Money, MoneyError> {
        let product = self
            .0
            .checked_mul(factor)
            .ok_or_else(|| MoneyError::TooLarge {
                given: format!("{} × {factor}", self.0),
            })?
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        Money::from_decimal(product, &product.to_string())
    }

    /// An amount as JSON carries it: a string (`"118450.00"`) or a number
    /// with at most two decimals. A float that is not exactly such a number
    /// (`0.1 + 0.2`) is refused rather than rounded.
    pub fn from_json(v: &Value) -> Result<Money, MoneyError> {
        match v {
            Value::String(s) => Money::from_str(s),
            Value::Number(n) => {
                // serde_json prints a float by its shortest round-trip form.
                let text = n.to_string();
                let d = Decimal::from_str_exact(&text)
                    .or_else(|_| Decimal::from_scientific(&text))
                    .map_err(|_| MoneyError::TooLarge {
                        given: text.clone(),
                    })?;
                Money::from_decimal(d, &text)
            }
            Value::Null => Err(MoneyError::WrongJson { got: "null" }),
            Value::Bool(_) => Err(MoneyError::WrongJson {
                got: "Wahrheitswert",
            }),
            Value::Array(_) => Err(MoneyError::WrongJson { got: "Liste" }),
            Value::Object(_) => Err(MoneyError::WrongJson { got: "Objekt" }),
        }
    }

    /// The stored and API form: a JSON string with two decimals.
    pub fn to_json(self) -> Value {
        Value::String(self.to_string())
    }

    /// German notation as people type it. `118.450,00`, `118450,00`,
    /// `118.450` and `118450` are all 118450.00; `118,45` is 118.45. A dot
    /// followed by one or two digits and no comma (`1.5`, `1.50`) is
    /// refused: it is an English decimal point, and guessing would lose a
    /// factor of 1,000 the other way. A trailing `EUR` or `€` is allowed.
    pub fn parse_german(text: &str) -> Result<Money, MoneyError> {
        let given = text.trim();
        let not = || MoneyError::NotAnAmount {
            given: given.to_string(),
        };
        let body = given
            .strip_suffix("EUR")
            .or_else(|| given.strip_suffix('€'))
            .unwrap_or(given)
            .trim_end();
        let (negative, body) = match body.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, body),
        };
        let (int_part, frac) = match body.split_once(',') {
            Some((i, f)) => {
                if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(not());
                }
                if f.len() > 2 {
                    return Err(MoneyError::TooPrecise {
                        given: given.to_string(),
                    });
                }
                (i, f)
            }
            None => {
                if let Some((i, f)) = body.split_once('.')
                    && !f.contains('.')
                    && (1..=2).contains(&f.len())
                    && f.bytes().all(|b| b.is_ascii_digit())
                    && !i.is_empty()
                    && i.bytes().all(|b| b.is_ascii_digit())
                {
                    let cents = if f.len() == 1 {
                        format!("{f}0")
                    } else {
                        f.to_string()
                    };
                    return Err(MoneyError::DotDecimal {
                        suggestion: format!("{}{i},{cents}", if negative { "-" } else { "" }),
                    });
                }
                (body, "")
            }
        };
        let digits = euros_digits(int_part).ok_or_else(not)?;
        let text = if frac.is_empty() {
            digits
        } else {
            format!("{digits}.{frac}")
        };
        let d = Decimal::from_str_exact(&text).map_err(|_| MoneyError::TooLarge {
            given: given.to_string(),
        })?;
        Money::from_decimal(if negative { -d } else { d }, given)
    }

    /// German notation without currency: `118.450,00`, `-0,50`.
    pub fn german(self) -> String {
        let cents = self.cents();
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        let euros = (abs / 100).to_string();
        let mut grouped = String::with_capacity(euros.len() + euros.len() / 3);
        for (i, c) in euros.chars().enumerate() {
            if i > 0 && (euros.len() - i).is_multiple_of(3) {
                grouped.push('.');
            }
            grouped.push(c);
        }
        format!("{sign}{grouped},{:02}", abs % 100)
    }
}

/// The euro digits of German notation: plain digits, or groups of three
/// separated by dots (`118.450`, `1.234.567`); `None` for anything else.
fn euros_digits(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Some(s.to_string());
    }
    let mut groups = s.split('.');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = first.to_string();
    for g in groups {
        if g.len() != 3 || !g.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push_str(g);
    }
    Some(out)
}

impl FromStr for Money {
    type Err = MoneyError;

    /// The canonical form: digits with an optional `.` and at most two
    /// decimals (`118450.00`, `-3.5`, `42`), as the API and storage write it.
    fn from_str(s: &str) -> Result<Money, MoneyError> {
        let t = s.trim();
        let body = t.strip_prefix('-').unwrap_or(t);
        let (i, f) = body.split_once('.').unwrap_or((body, ""));
        let ok = !i.is_empty()
            && i.bytes().all(|b| b.is_ascii_digit())
            && (f.is_empty() && !body.ends_with('.') || f.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(MoneyError::NotAnAmount {
                given: s.to_string(),
            });
        }
        let d = Decimal::from_str_exact(t).map_err(|_| MoneyError::TooLarge {
            given: s.to_string(),
        })?;
        Money::from_decimal(d, s)
    }
}

impl fmt::Display for Money {
    /// The canonical form, `118450.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = self.0;
        d.rescale(2);
        write!(f, "{d}")
    }
}

/// A number (not an amount, e.g. posts: `0,5`) in German notation, by the
/// same rules as [`Money::parse_german`]: a decimal comma, dots only as
/// thousands grouping, and a dot followed by one or two digits refused as
/// an English decimal point. Any number of decimals.
pub fn parse_german_number(text: &str) -> Result<f64, MoneyError> {
    let given = text.trim();
    let not = || MoneyError::NotANumber {
        given: given.to_string(),
    };
    let (negative, body) = match given.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, given),
    };
    let (int_part, frac) = body.split_once(',').unwrap_or((body, ""));
    if body.ends_with(',') || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not());
    }
    if frac.is_empty()
        && let Some((i, f)) = int_part.split_once('.')
        && !f.contains('.')
        && (1..=2).contains(&f.len())
        && f.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(MoneyError::DotDecimal {
            suggestion: format!("{}{i},{f}", if negative { "-" } else { "" }),
        });
    }
    let digits = euros_digits(int_part).ok_or_else(not)?;
    let text = if frac.is_empty() {
        digits
    } else {
        format!("{digits}.{frac}")
    };
    let v: f64 = text.parse().map_err(|_| not())?;
    Ok(if negative { -v } else { v })
}

/// As configuration and JSON write it: the canonical string, read back
/// from a string or an exact number (TOML `57000.0` or `"57000.00"`).
impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let v = Value::deserialize(d)?;
        Money::from_json(&v).map_err(serde::de::Error::custom)
    }
}

/// A float or int factor as an exact decimal: a float by its shortest
/// round-trip form (`0.5` → 0.5, `0.1` → 0.1).
pub fn factor_of_f64(f: f64) -> Option<Decimal> {
    if !f.is_finite() {
        return None;
    }
    let text = format!("{f}");
    Decimal::from_str_exact(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn g(s: &str) -> Result<String, MoneyError> {
        Money::parse_german(s).map(|m| m.to_string())
    }

    #[test]
    fn german_notation_in_every_spelling_of_the_same_amount() {
        for s in [
            "118.450,00",
            "118450,00",
            "118.450",
            "118450",
            " 118.450,00 EUR",
            "118450 €",
        ] {
            assert_eq!(g(s).unwrap(), "118450.00", "{s}");
        }
        assert_eq!(g("118,45").unwrap(), "118.45");
        assert_eq!(g("54.300,50").unwrap(), "54300.50");
        assert_eq!(g("54.300,5").unwrap(), "54300.50");
        assert_eq!(g("21.980,00").unwrap(), "21980.00");
        assert_eq!(g("1.234.567,89").unwrap(), "1234567.89");
        assert_eq!(g("0,5").unwrap(), "0.50");
        assert_eq!(g("-0,50").unwrap(), "-0.50");
        assert_eq!(g("1.000").unwrap(), "1000.00");
    }

    #[test]
    fn an_english_decimal_point_is_refused_with_the_comma_spelling() {
        assert_eq!(
            Money::parse_german("1.5").unwrap_err().to_string(),
            "Bitte Beträge mit Komma schreiben: 1,50"
        );
        assert_eq!(
            Money::parse_german("1.50").unwrap_err(),
            MoneyError::DotDecimal {
                suggestion: "1,50".into()
            }
        );
        assert!(matches!(
            Money::parse_german("118450.5"),
            Err(MoneyError::DotDecimal { .. })
        ));
    }

    #[test]
    fn malformed_german_amounts_are_refused() {
        for s in [
            "",
            "abc",
            "1.23.4",
            "12.34,5.6",
            "1,2,3",
            "1.2345",
            ",5",
            "1,",
            "1.0000",
            "١٢",
            "1 000",
            "12.3456,00",
            "1234.567",
        ] {
            assert!(Money::parse_german(s).is_err(), "{s:?} must be refused");
        }
        assert!(matches!(
            Money::parse_german("1,234"),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse_german("1.000.000.000.000,00"),
            Err(MoneyError::TooLarge { .. })
        ));
    }

    #[test]
    fn german_numbers_follow_the_same_rules() {
        assert_eq!(parse_german_number("0,5").unwrap(), 0.5);
        assert_eq!(parse_german_number("2").unwrap(), 2.0);
        assert_eq!(parse_german_number("1.000").unwrap(), 1000.0);
        assert_eq!(parse_german_number("1.000,25").unwrap(), 1000.25);
        assert!(matches!(
            parse_german_number("2.5"),
            Err(MoneyError::DotDecimal { .. })
        ));
        assert!(parse_german_number("zwei").is_err());
    }

    #[test]
    fn json_takes_strings_and_exact_numbers_only() {
        assert_eq!(
            Money::from_json(&json!("118450.00")).unwrap().to_string(),
            "118450.00"
        );
        assert_eq!(
            Money::from_json(&json!(118450)).unwrap().to_string(),
            "118450.00"
        );
        assert_eq!(
            Money::from_json(&json!(54300.5)).unwrap().to_string(),
            "54300.50"
        );
        assert_eq!(Money::from_json(&json!(0.07)).unwrap().cents(), 7);
        assert!(matches!(
            Money::from_json(&json!(0.1 + 0.2)),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::from_json(&json!(1.005)),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(Money::from_json(&json!(1e300)).is_err());
        assert!(Money::from_json(&json!("118.450,00")).is_err());
        assert!(Money::from_json(&json!("1e3")).is_err());
        assert!(Money::from_json(&json!(true)).is_err());
        assert_eq!(
            Money::from_json(&json!("7")).unwrap().to_json(),
            json!("7.00")
        );
    }

    #[test]
    fn german_output_groups_thousands() {
        let m = |s: &str| s.parse::<Money>().unwrap().german();
        assert_eq!(m("118450"), "118.450,00");
        assert_eq!(m("190280.5"), "190.280,50");
        assert_eq!(m("999"), "999,00");
        assert_eq!(m("-1234.05"), "-1.234,05");
        assert_eq!(m("0"), "0,00");
        // What is printed reads back as the same amount.
        for s in ["118450.00", "54300.50", "21980.00", "0.01", "1000000.00"] {
            let money: Money = s.parse().unwrap();
            assert_eq!(Money::parse_german(&money.german()).unwrap(), money);
        }
    }

    #[test]
    fn cents_and_products_round_half_up_to_the_cent() {
        let m: Money = "57000.00".parse().unwrap();
        assert_eq!(m.cents(), 5_700_000);
        assert_eq!(Money::from_cents(5_700_000).unwrap(), m);
        assert_eq!(
            m.times(factor_of_f64(0.5).unwrap()).unwrap().to_string(),
            "28500.00"
        );
        let odd: Money = "0.05".parse().unwrap();
        assert_eq!(
            odd.times(factor_of_f64(0.5).unwrap()).unwrap().to_string(),
            "0.03"
        );
        let neg: Money = "-0.05".parse().unwrap();
        assert_eq!(
            neg.times(factor_of_f64(0.5).unwrap()).unwrap().to_string(),
            "-0.03"
        );
        let third: Money = "100.00".parse().unwrap();
        assert_eq!(
            third
                .times(factor_of_f64(0.1).unwrap())
                .unwrap()
                .to_string(),
            "10.00"
        );
        assert!(Money::from_cents(LIMIT + 1).is_err());
    }
}
