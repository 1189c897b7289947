//! The account of a grant: approved, called and paid, in total and per
//! budget line, derived from the grant's data and the state and amounts
//! of the cases booked on it (calls for funds). Pure: the engine reads the
//! cases, this module adds them up, in cents, so that no amount is rounded.
//!
//! What remains available is the smaller of what the line has left and
//! what the grant has left: the lines' amounts may cover each other up to
//! the approved total (Festbeträge „bis zu ihrer Summe“), so the total is
//! a limit of its own.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::money::Money;
use crate::workflow::{AccountDef, Bookings, split_path};

/// Approved, called and paid amounts of the grant or one budget line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub approved: Money,
    pub called: Money,
    pub paid: Money,
}

impl Figures {
    /// Approved and not yet called (negative if more was called).
    pub fn unclaimed(&self) -> i64 {
        self.approved.cents() - self.called.cents()
    }
}

/// One budget line of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub name: String,
    pub title: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// What may still be called on this line.
    pub available: Money,
}

/// The account of one grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub title: String,
    #[serde(flatten)]
    pub total: Figures,
    pub available: Money,
    pub lines: Vec<Line>,
}

/// A case booked on the account: its state, its amounts and what its
/// workflow says they count as.
pub struct Booking<'a> {
    pub state: &'a str,
    pub data: &'a Map<String, Value>,
    pub spec: &'a Bookings,
}

/// Why an account could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("Das Feld „{field}“ hält keinen Betrag: {reason}")]
    NotAnAmount { field: String, reason: String },
    #[error("Die Summe der Beträge auf dem Konto ist zu groß")]
    Overflow,
}

fn amount(data: &Map<String, Value>, field: &str) -> Result<i64, AccountError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => Money::from_json(v)
            .map(Money::cents)
            .map_err(|e| AccountError::NotAnAmount {
                field: field.into(),
                reason: e.to_string(),
            }),
    }
}

fn money(cents: i64) -> Result<Money, AccountError> {
    Money::from_cents(cents).map_err(|_| AccountError::Overflow)
}

/// The account `def` declares on a grant holding `data`, with `bookings`.
pub fn compute(
    def: &AccountDef,
    data: &Map<String, Value>,
    bookings: &[Booking<'_>],
) -> Result<Account, AccountError> {
    let n = def.lines.len();
    let mut called = vec![0i64; n];
    let mut paid = vec![0i64; n];
    for b in bookings {
        let is_called = b.spec.called.iter().any(|s| s == b.state);
        let is_paid = b.spec.paid.iter().any(|s| s == b.state);
        if !is_called && !is_paid {
            continue;
        }
        for (i, line) in def.lines.iter().enumerate() {
            let Some(field) = b.spec.amounts.get(&line.name) else {
                continue;
            };
            let a = amount(b.data, field)?;
            if is_called {
                called[i] = called[i].checked_add(a).ok_or(AccountError::Overflow)?;
            }
            if is_paid {
                paid[i] = paid[i].checked_add(a).ok_or(AccountError::Overflow)?;
            }
        }
    }
    let total = Figures {
        approved: money(amount(data, &def.total)?)?,
        called: money(called.iter().sum())?,
        paid: money(paid.iter().sum())?,
    };
    let left = total.unclaimed().max(0);
    let mut lines = Vec::with_capacity(n);
    for (i, line) in def.lines.iter().enumerate() {
        let figures = Figures {
            approved: money(amount(data, &line.approved)?)?,
            called: money(called[i])?,
            paid: money(paid[i])?,
        };
        lines.push(Line {
            name: line.name.clone(),
            title: line.title.clone(),
            available: money(figures.unclaimed().clamp(0, left))?,
            figures,
        });
    }
    Ok(Account {
        title: def.title.clone(),
        available: money(left)?,
        total,
        lines,
    })
}

impl Account {
    /// A figure by its path (`available`, `called.paedagogik`, …), as a
    /// link's `account` map names it.
    pub fn figure(&self, path: &str) -> Option<Money> {
        let (measure, line) = split_path(path)?;
        let (figures, available) = match line {
            None => (&self.total, self.available),
            Some(name) => {
                let l = self.lines.iter().find(|l| l.name == name)?;
                (&l.figures, l.available)
            }
        };
        Some(match measure {
            "approved" => figures.approved,
            "called" => figures.called,
            "paid" => figures.paid,
            _ => available,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::AccountLineDef;
    use serde_json::json;

    fn def() -> AccountDef {
        AccountDef {
            title: "Mittel".into(),
            total: "gesamt".into(),
            lines: vec![
                AccountLineDef {
                    name: "a".into(),
                    title: "A".into(),
                    approved: "bewilligt_a".into(),
                },
                AccountLineDef {
                    name: "b".into(),
                    title: "B".into(),
                    approved: "bewilligt_b".into(),
                },
            ],
        }
    }

    fn spec() -> Bookings {
        Bookings {
            link: "grant".into(),
            amounts: [
                ("a".into(), "betrag_a".into()),
                ("b".into(), "betrag_b".into()),
            ]
            .into(),
            called: vec!["beantragt".into(), "ausgezahlt".into()],
            paid: vec!["ausgezahlt".into()],
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn calls_count_by_state_and_the_total_limits_every_line() {
        let grant =
            obj(json!({"gesamt": "150.00", "bewilligt_a": "100.00", "bewilligt_b": "80.00"}));
        let spec = spec();
        let paid = obj(json!({"betrag_a": "60.10", "betrag_b": "0.00"}));
        let open = obj(json!({"betrag_a": "0.00", "betrag_b": "50.00"}));
        let refused = obj(json!({"betrag_a": "99.00", "betrag_b": "99.00"}));
        let bookings = [
            Booking {
                state: "ausgezahlt",
                data: &paid,
                spec: &spec,
            },
            Booking {
                state: "beantragt",
                data: &open,
                spec: &spec,
            },
            Booking {
                state: "abgelehnt",
                data: &refused,
                spec: &spec,
            },
        ];
        let acc = compute(&def(), &grant, &bookings).unwrap();
        assert_eq!(acc.total.called, m("110.10"));
        assert_eq!(acc.total.paid, m("60.10"));
        assert_eq!(acc.available, m("39.90"));
        // Line a has 39.90 left, the grant 39.90: the smaller counts.
        assert_eq!(acc.figure("available.a"), Some(m("39.90")));
        // Line b has 30.00 left.
        assert_eq!(acc.figure("available.b"), Some(m("30.00")));
        assert_eq!(acc.figure("paid.a"), Some(m("60.10")));
        assert_eq!(acc.figure("approved"), Some(m("150.00")));
        assert_eq!(acc.figure("called.b"), Some(m("50.00")));
        assert_eq!(acc.figure("available.c"), None);
        assert_eq!(acc.figure("owed"), None);
    }

    #[test]
    fn nothing_is_available_once_the_total_is_called_and_never_less_than_zero() {
        let grant =
            obj(json!({"gesamt": "100.00", "bewilligt_a": "100.00", "bewilligt_b": "80.00"}));
        let spec = spec();
        let all = obj(json!({"betrag_a": "30.00", "betrag_b": "80.00"}));
        let acc = compute(
            &def(),
            &grant,
            &[Booking {
                state: "beantragt",
                data: &all,
                spec: &spec,
            }],
        )
        .unwrap();
        assert_eq!(acc.available, Money::ZERO);
        assert_eq!(acc.figure("available.a"), Some(Money::ZERO));
        assert_eq!(acc.figure("available.b"), Some(Money::ZERO));
    }

    #[test]
    fn a_grant_without_amounts_has_nothing_available_and_a_bad_amount_is_named() {
        let acc = compute(&def(), &Map::new(), &[]).unwrap();
        assert_eq!(acc.available, Money::ZERO);
        let grant = obj(json!({"gesamt": "abc"}));
        let err = compute(&def(), &grant, &[]).unwrap_err();
        assert!(err.to_string().contains("gesamt"), "{err}");
    }
}
