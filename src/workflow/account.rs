//! `[account]` and `[bookings]`: the money a grant approves per budget line,
//! and what the cases linked to it (calls for funds) count against it by
//! the state they are in. The workflow file declares both; the engine
//! computes the figures ([`crate::account`]) and hands them to linked cases
//! through their link's `account` map, so that a guard compares a call with
//! what remains as it compares any other field.

use std::collections::BTreeMap;

use serde::Serialize;

use super::definition::{Field, FieldKind, Link, State};
use super::guard::{DataExpr, GuardVars};
use super::raw::{RawAccount, RawBookings, RawControlling, RawExport, S};

/// The approved amounts of a case, by budget line.
#[derive(Debug, Clone, Serialize)]
pub struct AccountDef {
    pub title: String,
    /// The money field holding the approved total (lines may cover each
    /// other up to it, so the total is a limit of its own).
    pub total: String,
    pub lines: Vec<AccountLineDef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountLineDef {
    pub name: String,
    pub title: String,
    /// The money field holding the amount approved for this line.
    pub approved: String,
}

/// What a case of this workflow books on the account of its linked case.
#[derive(Debug, Clone, Serialize)]
pub struct Bookings {
    /// The link (`[links.*]` name) whose case holds the account.
    pub link: String,
    /// Account line → money field of this case.
    pub amounts: BTreeMap<String, String>,
    /// States in which the amounts count as called.
    pub called: Vec<String>,
    /// States in which the amounts count as paid out.
    pub paid: Vec<String>,
}

/// `[exports.*]`: a file for another system, one row per case of a day.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub name: String,
    pub title: String,
    /// The date field selecting the cases of one day.
    pub date: String,
    pub states: Vec<String>,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub title: String,
    pub description: Option<String>,
    pub value: DataExpr,
}

/// `[controlling]` of a grant workflow: which cases are rows, and which
/// fields of their proofs of use (another workflow, checked by the
/// catalogue) give the amounts and the indicators.
#[derive(Debug, Clone, Serialize)]
pub struct Controlling {
    pub title: String,
    pub granted: String,
    pub year: String,
    pub recipient: String,
    pub proofs: String,
    pub proven: String,
    pub repaid: String,
    pub repaid_states: Vec<String>,
    pub indicators: Vec<String>,
}

/// The figures a link may take from an account: `<measure>` for the whole
/// grant or `<measure>.<line>` for one line.
pub const MEASURES: &[&str] = &["approved", "called", "paid", "available"];

/// Splits an account path such as `available.paedagogik`.
pub fn split_path(path: &str) -> Option<(&str, Option<&str>)> {
    let (measure, line) = match path.split_once('.') {
        Some((m, l)) => (m, Some(l)),
        None => (path, None),
    };
    MEASURES.contains(&measure).then_some((measure, line))
}

impl super::definition::Validator<'_> {
    fn money_field(&mut self, name: &S<String>, fields: &BTreeMap<String, Field>) -> bool {
        if !self.resolve(name, fields, "field") {
            return false;
        }
        if fields[name.get_ref()].kind != FieldKind::Money {
            self.err(
                name,
                format!("`{}` must be a money field", name.get_ref()),
                Some("declare it with type = \"money\"".into()),
            );
            return false;
        }
        true
    }

    /// `[account]`: its fields are money fields, its lines named once.
    pub(super) fn account(
        &mut self,
        raw: Option<S<RawAccount>>,
        fields: &BTreeMap<String, Field>,
    ) -> Option<AccountDef> {
        let raw = raw?.into_inner();
        let mut ok = self.money_field(&raw.total, fields);
        let mut lines: Vec<AccountLineDef> = Vec::new();
        for l in raw.lines {
            ok &= self.money_field(&l.approved, fields);
            if lines.iter().any(|x| x.name == *l.name.get_ref()) {
                self.err(
                    &l.name,
                    format!("account line `{}` is declared twice", l.name.get_ref()),
                    None,
                );
                ok = false;
            }
            lines.push(AccountLineDef {
                name: l.name.into_inner(),
                title: l.title,
                approved: l.approved.into_inner(),
            });
        }
        ok.then_some(AccountDef {
            title: raw.title,
            total: raw.total.into_inner(),
            lines,
        })
    }

    /// `[bookings]`: the link exists, the amounts are money fields, the
    /// states exist. (That the linked workflow has those account lines is
    /// checked by the catalogue, which knows it.)
    pub(super) fn bookings(
        &mut self,
        raw: Option<S<RawBookings>>,
        fields: &BTreeMap<String, Field>,
        links: &[Link],
        states: &[State],
    ) -> Option<Bookings> {
        let raw = raw?.into_inner();
        let mut ok = true;
        if !links.iter().any(|l| l.name == *raw.link.get_ref()) {
            let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
            self.err(
                &raw.link,
                format!("bookings name no link `{}`", raw.link.get_ref()),
                Some(format!("declared links: {}", names.join(", "))),
            );
            ok = false;
        }
        for field in raw.amounts.values() {
            ok &= self.money_field(field, fields);
        }
        let state_names: BTreeMap<String, ()> =
            states.iter().map(|s| (s.name.clone(), ())).collect();
        for s in raw.called.iter().chain(&raw.paid) {
            ok &= self.resolve(s, &state_names, "state");
        }
        for s in &raw.paid {
            if !raw.called.iter().any(|c| c.get_ref() == s.get_ref()) {
                self.err(
                    s,
                    format!("state `{}` counts as paid but not as called", s.get_ref()),
                    Some(
                        "money paid out was called first: list the state under `called` too".into(),
                    ),
                );
                ok = false;
            }
        }
        ok.then(|| Bookings {
            link: raw.link.into_inner(),
            amounts: raw
                .amounts
                .into_iter()
                .map(|(k, v)| (k.into_inner(), v.into_inner()))
                .collect(),
            called: raw.called.into_iter().map(S::into_inner).collect(),
            paid: raw.paid.into_iter().map(S::into_inner).collect(),
        })
    }

    /// `[exports.*]`: a date field, known states, compiling columns.
    pub(super) fn exports(
        &mut self,
        raw: BTreeMap<S<String>, RawExport>,
        fields: &BTreeMap<String, Field>,
        states: &[State],
    ) -> BTreeMap<String, Export> {
        let vars = GuardVars::new(fields);
        let state_names: BTreeMap<String, ()> =
            states.iter().map(|s| (s.name.clone(), ())).collect();
        let mut out = BTreeMap::new();
        for (name, e) in raw {
            let mut ok = self.resolve(&e.date, fields, "field");
            if ok && fields[e.date.get_ref()].kind != FieldKind::Date {
                self.err(
                    &e.date,
                    format!(
                        "export `{}`: `{}` must be a date field",
                        name.get_ref(),
                        e.date.get_ref()
                    ),
                    None,
                );
                ok = false;
            }
            for s in &e.states {
                ok &= self.resolve(s, &state_names, "state");
            }
            let mut columns = Vec::new();
            for c in e.columns {
                match DataExpr::compile(c.value.get_ref(), &vars) {
                    Ok(value) => columns.push(Column {
                        title: c.title,
                        description: c.description,
                        value,
                    }),
                    Err(problem) => {
                        self.err(
                            &c.value,
                            format!(
                                "export `{}`, column „{}“: {}",
                                name.get_ref(),
                                c.title,
                                problem.message
                            ),
                            problem.hint,
                        );
                        ok = false;
                    }
                }
            }
            if ok {
                out.insert(
                    name.get_ref().clone(),
                    Export {
                        name: name.into_inner(),
                        title: e.title,
                        date: e.date.into_inner(),
                        states: e.states.into_iter().map(S::into_inner).collect(),
                        columns,
                    },
                );
            }
        }
        out
    }

    /// `[controlling]`: its own fields are declared (the proof
    /// workflow's by the catalogue).
    pub(super) fn controlling(
        &mut self,
        raw: Option<S<RawControlling>>,
        fields: &BTreeMap<String, Field>,
    ) -> Option<Controlling> {
        let raw = raw?.into_inner();
        let mut ok = true;
        for f in [&raw.granted, &raw.year, &raw.recipient] {
            ok &= self.resolve(f, fields, "field");
        }
        let names = |v: Vec<S<String>>| v.into_iter().map(S::into_inner).collect();
        ok.then(|| Controlling {
            title: raw.title,
            granted: raw.granted.into_inner(),
            year: raw.year.into_inner(),
            recipient: raw.recipient.into_inner(),
            proofs: raw.proofs.into_inner(),
            proven: raw.proven.into_inner(),
            repaid: raw.repaid.into_inner(),
            repaid_states: names(raw.repaid_states),
            indicators: names(raw.indicators),
        })
    }

    /// A link's `account` map: money fields here, paths of a known measure.
    pub(super) fn link_account(
        &mut self,
        raw: &BTreeMap<S<String>, S<String>>,
        fields: &BTreeMap<String, Field>,
    ) -> bool {
        let mut ok = true;
        for (here, path) in raw {
            ok &= self.money_field(here, fields);
            if split_path(path.get_ref()).is_none() {
                self.err(
                    path,
                    format!("`{}` is no figure of an account", path.get_ref()),
                    Some(format!(
                        "write <measure> or <measure>.<line>, measure one of {}",
                        MEASURES.join(", ")
                    )),
                );
                ok = false;
            }
        }
        ok
    }
}
