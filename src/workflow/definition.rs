//! A validated workflow definition: what [`load`] makes of a workflow file
//! once every name in it resolves. Nothing here does I/O; the caller reads the
//! file and says which letter templates exist.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::diagnostic::{Diagnostic, SourceMap};
use super::guard::{DataExpr, Guard, GuardVars};
use super::raw::{RawEffect, RawWorkflow, S};
use crate::deadline::{self, DeadlineError, DeadlineSpec, Offset, Period, Region};
use crate::numbering::NumberPattern;

/// A procedure: its case data, parties, roles, states and transitions.
#[derive(Debug, Clone, Serialize)]
pub struct Definition {
    pub id: String,
    pub version: i64,
    pub title: String,
    pub description: Option<String>,
    /// Register for the case file numbers (Aktenzeichen).
    pub register: String,
    /// SHA-256 of the file's bytes: a case stays on the content it was opened with.
    pub content_hash: String,
    #[serde(skip)]
    pub source: String,
    pub roles: BTreeMap<String, String>,
    pub parties: BTreeMap<String, Party>,
    pub fields: BTreeMap<String, Field>,
    pub registers: BTreeMap<String, Register>,
    pub deadlines: BTreeMap<String, DeadlineDef>,
    /// Fields that follow from tables in the workflow folder's data files.
    pub lookups: Vec<Lookup>,
    /// Related cases of other workflows, named by a case field.
    pub links: Vec<Link>,
    /// `[account]`: what this case grants, per budget line.
    pub account: Option<super::account::AccountDef>,
    /// `[bookings]`: what this case counts on its linked case's account.
    pub bookings: Option<super::account::Bookings>,
    /// Conditions checked when a case is opened, after its links are taken.
    pub open_guards: Vec<Guard>,
    /// `[exports.*]`: files for other systems (payout orders).
    pub exports: BTreeMap<String, super::account::Export>,
    /// `[controlling]`: the programme's controlling report over the grants.
    pub controlling: Option<super::account::Controlling>,
    /// Forms a municipality fills in on the portal to open a case.
    pub forms: BTreeMap<String, Form>,
    /// Notification by retrieval from the portal, if the workflow offers it.
    pub retrieval: Option<Retrieval>,
    /// Fields fixed from some states on, changeable there only by a correction step.
    pub freezes: Vec<Freeze>,
    /// Enclosures (Anlagen) letters are issued with, by name.
    pub enclosures: BTreeMap<String, Enclosure>,
    pub states: Vec<State>,
    pub transitions: Vec<Transition>,
}

/// An enclosure (Anlage) a letter is issued with: a PDF of its own from
/// `template`, stored with the case, attached to the letter's mail, shown
/// with it in the portal and listed in its „Anlagen“ line. The text of a
/// legal enclosure (e.g. the ANBest-G) is a data file of the workflow
/// folder, so a notice that declares it „Bestandteil dieses Bescheides“
/// can never go out without it.
#[derive(Debug, Clone, Serialize)]
pub struct Enclosure {
    pub name: String,
    pub title: String,
    pub template: String,
    /// The data file its fixed content comes from, e.g. `data/anbest-g.json`.
    pub file: Option<String>,
    /// That file's content (a JSON object); not serialised, like a lookup's entries.
    #[serde(skip)]
    pub content: serde_json::Map<String, serde_json::Value>,
    /// Case-specific data merged over the content.
    pub data: Option<DataExpr>,
    /// Enclosed only when this holds (e.g. the Empfangsbekenntnis).
    pub when: Option<DataExpr>,
}

/// A case field that names a case of another workflow: the linked case
/// must exist, be of that workflow and agree on the `same` fields; the
/// `take` fields are copied from it on every step (the engine does this;
/// the workflow's guards then compare the two cases' data).
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub name: String,
    pub workflow: String,
    pub field: String,
    pub basis: Option<String>,
    /// Field here → field of the linked case.
    pub same: BTreeMap<String, String>,
    pub take: BTreeMap<String, String>,
    /// Field here → figure of the linked case's account (`available.x`).
    pub account: BTreeMap<String, String>,
    /// Opened by the reminder pass for each linked case that needs one.
    pub start: Option<LinkStart>,
}

/// `[links.<name>.start]`: on the day after the linked case's date field
/// `after`, in one of `states`, and while no case of this workflow names
/// it, the reminder pass opens one (as `system`), with the link's field,
/// the `same` fields and the `parties` taken from the linked case.
#[derive(Debug, Clone, Serialize)]
pub struct LinkStart {
    pub after: String,
    pub states: Vec<String>,
    /// Party here → party of the linked case.
    pub parties: BTreeMap<String, String>,
}

/// An online application form: the fields a municipality fills in, the
/// party it takes part as, and what happens once the case is open.
#[derive(Debug, Clone, Serialize)]
pub struct Form {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub party: String,
    pub fields: Vec<String>,
    /// Date field: the day the application arrived.
    pub received: Option<String>,
    /// Field set to the municipality's name.
    pub party_field: Option<String>,
    /// System transition fired right after opening.
    pub then: Option<String>,
}

/// Notification by retrieval (§ 41 Abs. 2a VwVfG NRW): which letters may
/// be provided in the portal, the fields that record it, the deadlines
/// that run from it and the system transitions that recompute them.
#[derive(Debug, Clone, Serialize)]
pub struct Retrieval {
    pub letters: Vec<String>,
    pub provided: String,
    pub retrieved: String,
    pub posted: String,
    pub deadlines: Vec<String>,
    pub on_retrieval: String,
    pub on_expiry: String,
    /// The first letter date the rule is in force for (§ 41 Abs. 2a VwVfG
    /// NRW did not exist in 2012); earlier letters go by post.
    pub since: Option<NaiveDate>,
}

impl Retrieval {
    /// Whether a letter dated `day` may be provided for retrieval.
    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.since.is_none_or(|since| day >= since)
    }
}

/// The data files of a workflow folder, by path relative to it
/// (`data/kommunen.json`), as text.
pub type DataFiles = BTreeMap<String, String>;

/// Case fields that follow from a table in a data file: when the case
/// field `field` names an entry of the table, the `fixed` fields must hold
/// the entry's values (they are taken from it when empty, and a different
/// value is refused) and the `defaults` are taken from it where empty.
#[derive(Debug, Clone, Serialize)]
pub struct Lookup {
    pub name: String,
    pub file: String,
    pub field: String,
    pub key: String,
    pub basis: Option<String>,
    /// Case field → entry key.
    pub fixed: BTreeMap<String, String>,
    pub defaults: BTreeMap<String, String>,
    /// The entries, by the value of their key.
    #[serde(skip)]
    pub entries: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

/// Fields fixed in some states (what a signed notice printed); only the
/// `corrections` may change them there.
#[derive(Debug, Clone, Serialize)]
pub struct Freeze {
    pub name: String,
    pub title: Option<String>,
    pub states: Vec<String>,
    pub fields: Vec<String>,
    pub corrections: Vec<String>,
}

/// Someone letters and mails of a case go to.
#[derive(Debug, Clone, Serialize)]
pub struct Party {
    pub title: String,
    /// A case cannot be opened without this party.
    pub required: bool,
}

/// One typed item of case data.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
    pub title: Option<String>,
    /// Must be present when the case is opened.
    pub required: bool,
    /// Where the file declares it (byte offset): pages list a case's
    /// values in the order the author wrote them, grouped as written.
    #[serde(skip)]
    pub position: usize,
}

/// The value types a case field can have.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "values")]
pub enum FieldKind {
    String,
    Text,
    Integer,
    Number,
    /// An exact euro amount with two decimals ([`crate::money::Money`]):
    /// stored as a string `"118450.00"`, seen by expressions as whole cents.
    Money,
    Boolean,
    /// A calendar date written `YYYY-MM-DD`.
    Date,
    Email,
    /// A list of strings.
    List,
    /// A list of strings, each one of a fixed set (e.g. the two
    /// Schwerpunktthemen a guard checks by name: a variant spelling is
    /// refused at the field, not silently missed by the guard).
    Choices(Vec<String>),
    /// One of a fixed set of strings.
    Enum(Vec<String>),
    /// Free structured data (an object or a list of objects), e.g. a table of cost items.
    Object,
}

impl FieldKind {
    fn parse(kind: &str, values: Option<Vec<String>>) -> Result<Self, String> {
        Ok(match kind {
            "string" => FieldKind::String,
            "text" => FieldKind::Text,
            "integer" => FieldKind::Integer,
            "number" => FieldKind::Number,
            "money" => FieldKind::Money,
            "boolean" => FieldKind::Boolean,
            "date" => FieldKind::Date,
            "email" => FieldKind::Email,
            "list" => match values {
                Some(v) if !v.is_empty() => FieldKind::Choices(v),
                _ => FieldKind::List,
            },
            "object" => FieldKind::Object,
            "enum" => match values {
                Some(v) if !v.is_empty() => FieldKind::Enum(v),
                _ => return Err("a field of type enum needs `values = [...]`".into()),
            },
            other => {
                return Err(format!(
                    "unknown field type `{other}`; use one of string, text, integer, number, money, boolean, date, email, list, enum, object"
                ));
            }
        })
    }

    /// The value as it is stored: an amount in its canonical string form
    /// (`118450` and `"118450.0"` both become `"118450.00"`), anything else
    /// unchanged once it has the type; `Err` says what was expected.
    pub fn normalize(&self, value: &serde_json::Value) -> Result<serde_json::Value, String> {
        if *self == FieldKind::Money && !value.is_null() {
            return crate::money::Money::from_json(value)
                .map(crate::money::Money::to_json)
                .map_err(|e| e.to_string());
        }
        self.check(value).map(|()| value.clone())
    }

    /// A value an expression computed (`set`), as it is stored: an amount
    /// comes as whole cents (an int, e.g. from `money_times`) or as the
    /// decimal string of `euro(...)`; a float is refused, never rounded.
    pub fn from_expression(&self, value: serde_json::Value) -> Result<serde_json::Value, String> {
        use crate::money::Money;
        if *self != FieldKind::Money || value.is_null() {
            return self.check(&value).map(|()| value);
        }
        let money = match &value {
            serde_json::Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| format!("ein Betrag wird in ganzen Cent (int) berechnet, nicht „{n}“; Produkte mit money_times(betrag, faktor)"))
                .and_then(|c| Money::from_cents(c).map_err(|e| e.to_string()))?,
            serde_json::Value::String(s) => s.parse::<Money>().map_err(|e| e.to_string())?,
            other => return Err(format!("erwartet wird ein Betrag, nicht {}", describe_json(other))),
        };
        Ok(money.to_json())
    }

    /// Checks one value against the type; `Err` says what was expected.
    pub fn check(&self, value: &serde_json::Value) -> Result<(), String> {
        use serde_json::Value as V;
        let ok = match (self, value) {
            (_, V::Null) => true,
            (FieldKind::Money, v) => {
                return crate::money::Money::from_json(v)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
            }
            (FieldKind::String | FieldKind::Text, V::String(_)) => true,
            (FieldKind::Integer, V::Number(n)) => n.is_i64() || n.is_u64(),
            (FieldKind::Number, V::Number(_)) => true,
            (FieldKind::Boolean, V::Bool(_)) => true,
            (FieldKind::Date, V::String(s)) => {
                return NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(|_| ())
                    .map_err(|_| format!("„{s}“ ist kein Datum; bitte JJJJ-MM-TT (im Formular TT.MM.JJJJ) angeben"));
            }
            (FieldKind::Email, V::String(s)) => {
                return crate::domain::EmailAddress::parse(s)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
            }
            (FieldKind::List, V::Array(items)) => items.iter().all(|i| i.is_string()),
            (FieldKind::Choices(values), V::Array(items)) => {
                for i in items {
                    match i.as_str() {
                        Some(s) if values.iter().any(|v| v == s) => {}
                        Some(s) => {
                            return Err(format!(
                                "„{s}“ ist keiner der vorgesehenen Einträge ({})",
                                values.join(", ")
                            ));
                        }
                        None => {
                            return Err(format!(
                                "erwartet wird eine Liste aus: {}",
                                values.join(", ")
                            ));
                        }
                    }
                }
                true
            }
            (FieldKind::Enum(values), V::String(s)) => {
                if values.contains(s) {
                    true
                } else {
                    return Err(format!(
                        "„{s}“ ist keiner der vorgesehenen Werte ({})",
                        values.join(", ")
                    ));
                }
            }
            (FieldKind::Object, V::Object(_) | V::Array(_)) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "erwartet wird {}, nicht {}",
                self.describe(),
                describe_json(value)
            ))
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            FieldKind::String | FieldKind::Text => "ein Text",
            FieldKind::Integer => "eine ganze Zahl",
            FieldKind::Number => "eine Zahl",
            FieldKind::Money => "ein Betrag",
            FieldKind::Boolean => "ja oder nein",
            FieldKind::Date => "ein Datum (JJJJ-MM-TT)",
            FieldKind::Email => "eine E-Mail-Adresse",
            FieldKind::List => "eine Liste von Texten",
            FieldKind::Choices(_) => "eine Liste der vorgesehenen Einträge",
            FieldKind::Enum(_) => "einer der vorgesehenen Werte",
            FieldKind::Object => "ein Objekt oder eine Liste",
        }
    }
}

fn describe_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "nichts".into(),
        serde_json::Value::Bool(b) => format!("„{}“", if *b { "ja" } else { "nein" }),
        serde_json::Value::Number(n) => format!("die Zahl „{n}“"),
        serde_json::Value::String(s) => format!("der Text „{s}“"),
        serde_json::Value::Array(_) => "eine Liste".into(),
        serde_json::Value::Object(_) => "ein Objekt".into(),
    }
}

/// A numbering register used by an `allocate` effect, e.g. notice numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Register {
    pub name: String,
    pub title: Option<String>,
    pub pattern: NumberPattern,
}

/// A deadline a transition can set; the arithmetic lives in [`crate::deadline`].
#[derive(Debug, Clone, Serialize)]
pub struct DeadlineDef {
    pub name: String,
    pub title: String,
    pub due: Due,
    pub by_post: bool,
    pub moves: bool,
    /// Letters printing this deadline carry the § 31 Abs. 3 Satz 2 VwVfG notice.
    pub end_notice: bool,
    /// A court deadline (Klagefrist): § 57 Abs. 2 VwGO with § 222 ZPO.
    pub court: bool,
    /// The date field holding the posting day (Ab-Vermerk) the deadline
    /// runs from; without it, the day the deadline is set.
    pub posted: Option<String>,
    /// The date field a period runs from when it is no posting day (the
    /// day the office learnt the facts, the day of a payout).
    pub from: Option<String>,
    /// That field's title, for the explanation.
    pub from_title: Option<String>,
    /// The date field holding the date on an Empfangsbekenntnis; once it
    /// has a value, the deadline runs from it without the postal fiction.
    pub acknowledged: Option<String>,
    pub legal_basis: Option<String>,
    /// What a reminder asks of the person reminded (e.g. for the Klagefrist
    /// the office: check for a suit, record the Bestandskraft).
    pub action: Option<String>,
    pub reminders: Vec<Offset>,
    pub remind: Vec<String>,
    pub escalate: Vec<String>,
    pub on_expiry: Option<String>,
    pub kind: DeadlineKind,
}

impl DeadlineDef {
    /// The end of this deadline set on `today` with the case's `data` (as
    /// the transition's effects so far left it), with its step-by-step
    /// reasoning; `None` while a deadline that runs from a posting day
    /// (Ab-Vermerk) has none yet in `data` and no Empfangsbekenntnis date
    /// either. The engine sets deadlines with it and the journal's replay
    /// recomputes them with it, so the two cannot disagree.
    ///
    /// A deadline runs from the date on the Empfangsbekenntnis once that is
    /// recorded (without the postal fiction), else from the posting day
    /// recorded in its `posted` field, else from today.
    ///
    /// Where the workflow provides the letter for retrieval in the portal
    /// (§ 41 Abs. 2a VwVfG NRW) and the deadline is one that runs from its
    /// notification, the day after the first retrieval is the notification
    /// day; a provision that ended unretrieved is followed by posting, and
    /// the explanation says so. `region` is whose holidays move the end.
    pub fn end(
        &self,
        retrieval: Option<&Retrieval>,
        region: Region,
        today: NaiveDate,
        data: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<(NaiveDate, serde_json::Value)>, DeadlineError> {
        use serde_json::Value;
        let d = self;
        let day = |field: &Option<String>| {
            field
                .as_ref()
                .and_then(|f| data.get(f))
                .and_then(Value::as_str)
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        };
        let de = |d: NaiveDate| d.format("%d.%m.%Y").to_string();
        let retrieval = retrieval.filter(|r| r.deadlines.contains(&d.name));
        let provided = retrieval.and_then(|r| day(&Some(r.provided.clone())));
        let retrieved = retrieval.and_then(|r| day(&Some(r.retrieved.clone())));
        let (event, by_post, start) = if let Some(eb) = day(&d.acknowledged) {
            let text = format!(
                "Das Schreiben ist gegen Empfangsbekenntnis zugestellt. Maßgeblich ist das Datum, das der Empfänger auf dem Empfangsbekenntnis angegeben hat: der {}. Die Frist läuft von diesem Tag an; die Bekanntgabefiktion des § 41 Abs. 2 VwVfG NRW gilt hier nicht.",
                de(eb)
            );
            (
                eb,
                false,
                Some(("Zustellung gegen Empfangsbekenntnis (§ 5 LZG NRW)", text)),
            )
        } else if let Some(retrieved) = retrieved {
            let notified = retrieved.succ_opt().ok_or(DeadlineError::DateOutOfRange {
                what: "day after the retrieval",
                min: deadline::FIRST_YEAR,
                max: deadline::LAST_YEAR,
            })?;
            let text = format!(
                "Das Schreiben wurde im Portal zum Abruf bereitgestellt{} und am {} erstmals abgerufen. Es gilt am Tag nach dem Abruf als bekannt gegeben, am {}; die Bekanntgabefiktion für die Post gilt hier nicht.",
                provided
                    .map(|p| format!(" (Benachrichtigung am {})", de(p)))
                    .unwrap_or_default(),
                de(retrieved),
                de(notified)
            );
            (
                notified,
                false,
                Some((
                    "Bekanntgabe durch Abruf, § 41 Abs. 2a Satz 3 VwVfG NRW",
                    text,
                )),
            )
        } else if d.posted.is_some() {
            let Some(posted) = day(&d.posted) else {
                return Ok(None);
            };
            let text = if let Some(p) = provided {
                format!(
                    "Das Schreiben wurde im Portal zum Abruf bereitgestellt (Benachrichtigung am {}), aber nicht innerhalb von zehn Tagen abgerufen; die Bereitstellung endete (§ 41 Abs. 2a Satz 4 VwVfG NRW). Es wurde am {} zur Post gegeben; die Frist wird von diesem Tag an berechnet.",
                    de(p),
                    de(posted)
                )
            } else if posted == today {
                format!(
                    "Laut Ab-Vermerk am {} zur Post gegeben; die Frist wird von diesem Tag an berechnet.",
                    de(posted)
                )
            } else {
                format!(
                    "Laut Ab-Vermerk (eingetragen am {}) am {} zur Post gegeben; die Frist wird von diesem Tag an berechnet, nicht vom Tag der Zeichnung.",
                    de(today),
                    de(posted)
                )
            };
            let rule = if provided.is_some() {
                "Bereitstellung beendet, § 41 Abs. 2a Satz 4 und 5 VwVfG NRW; Ab-Vermerk"
            } else {
                "Ab-Vermerk (Tag der Aufgabe zur Post)"
            };
            (posted, d.by_post, Some((rule, text)))
        } else if d.from.is_some() {
            let Some(start) = day(&d.from) else {
                return Ok(None);
            };
            let text = format!(
                "Die Frist läuft vom {} an ({}).",
                de(start),
                d.from_title
                    .as_deref()
                    .or(d.from.as_deref())
                    .unwrap_or_default()
            );
            (start, d.by_post, Some(("Fristbeginn", text)))
        } else {
            (today, d.by_post, None)
        };
        let mut computed = match &d.due {
            Due::Period(period) => deadline::compute_as(
                &DeadlineSpec {
                    event,
                    period: *period,
                    region,
                    by_post,
                    moves: d.moves,
                },
                if d.court {
                    deadline::Basis::Court
                } else {
                    deadline::Basis::Authority
                },
            )?,
            Due::Date(date) => deadline::fixed_end(
                *date,
                d.legal_basis.as_deref().unwrap_or("festes Fristende"),
            ),
            Due::Field(field) => match day(&Some(field.clone())) {
                Some(date) => deadline::fixed_end(
                    date,
                    d.legal_basis
                        .as_deref()
                        .unwrap_or("im Schreiben bestimmtes Fristende"),
                ),
                None => return Ok(None),
            },
        };
        if let Some((rule, text)) = start {
            computed.steps.insert(
                0,
                deadline::Step {
                    rule: rule.into(),
                    text,
                    date: event,
                },
            );
        }
        Ok(Some((
            computed.end,
            serde_json::to_value(&computed).expect("explanation serialises"),
        )))
    }
}

/// What the end of a deadline means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeadlineKind {
    /// Someone must act before the end; expiry means the deadline was missed.
    Obligation,
    /// A period that runs out, e.g. the time to sue: expiry is an outcome, not a failure.
    Period,
}

impl DeadlineKind {
    /// The status a deadline of this kind gets when its end has passed.
    pub fn expired_status(self) -> crate::domain::DeadlineStatus {
        match self {
            DeadlineKind::Obligation => crate::domain::DeadlineStatus::Expired,
            DeadlineKind::Period => crate::domain::DeadlineStatus::Elapsed,
        }
    }
}

/// When a deadline ends.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Due {
    /// A period counted from the event that sets the deadline.
    Period(Period),
    /// A fixed calendar date, e.g. the RAA transition date 2013-07-31.
    Date(NaiveDate),
    /// The date a case field holds, e.g. `verwendungsnachweis_bis` as the
    /// notice set it; the deadline waits while the field is empty.
    Field(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct State {
    pub name: String,
    pub title: Option<String>,
    pub initial: bool,
    #[serde(rename = "final")]
    pub is_final: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    pub name: String,
    pub title: Option<String>,
    pub from: Vec<String>,
    /// `None`: the case stays in its state (a Nachtrag, possible in a final state too).
    pub to: Option<String>,
    pub roles: Vec<String>,
    pub guards: Vec<Guard>,
    /// Fields that must hold a value once the event's payload is applied.
    pub requires: Vec<String>,
    /// Further fields the step takes; a request may change only these and `requires`.
    pub fields: Vec<String>,
    /// Earlier transitions whose actor must not fire this one.
    pub four_eyes: Vec<String>,
    /// Fired by an upload in the portal.
    pub upload: bool,
    pub effects: Vec<Effect>,
}

/// What happens, atomically with the state change, when a transition fires.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Effect {
    /// Render a letter from a template and address it to a party.
    Letter {
        template: String,
        to: String,
        /// Builds the template-specific data from the case.
        data: Option<DataExpr>,
        /// Notified electronically by design: the mail is the notification.
        /// Otherwise the letter goes by post and the mail is only a copy
        /// "vorab zur Information" (§ 41 Abs. 2 Satz 2, § 3a VwVfG NRW).
        electronic: bool,
        /// Issued only when this condition holds.
        when: Option<DataExpr>,
        /// Names of the enclosures issued with it (`[enclosures.*]`), in order.
        enclosures: Vec<String>,
    },
    /// Start a deadline.
    SetDeadline { deadline: String },
    /// Mark a running deadline as met.
    MeetDeadline { deadline: String },
    /// Lift a running deadline that no longer applies (no reminders, not missed).
    CancelDeadline { deadline: String },
    /// Take the next number from a register and store it in a case field.
    Allocate { register: String, field: String },
    /// Compute a case field, e.g. the grant from the staffing plan and the rates.
    Set { field: String, value: DataExpr },
    /// Send the case's latest letter from `template`, with the documents
    /// issued with it (its enclosures), to each recipient: one mail each,
    /// in the transition's transaction (a circular to the members).
    Distribute {
        template: String,
        /// Where the list comes from, e.g. `data/kommunen.json: kommunen
        /// where lkt_mitglied` (shown instead of the addresses).
        list: String,
        /// The distribution list, read from the workflow's data files; not
        /// serialised, like a lookup's entries (every logged-in user may
        /// read a definition).
        #[serde(skip)]
        recipients: Vec<crate::domain::PartyRef>,
        /// Builds the mail's context from the case.
        data: Option<DataExpr>,
    },
}

impl Definition {
    pub fn initial_state(&self) -> &State {
        self.states
            .iter()
            .find(|s| s.initial)
            .expect("validated: exactly one initial state")
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }

    pub fn transition(&self, name: &str) -> Option<&Transition> {
        self.transitions.iter().find(|t| t.name == name)
    }

    /// The fields a step takes, in form order: `requires`, then `fields`.
    pub fn inputs<'a>(&'a self, t: &'a Transition) -> impl Iterator<Item = &'a String> {
        t.requires
            .iter()
            .chain(t.fields.iter().filter(|f| !t.requires.contains(f)))
    }

    /// Read-only for every request: allocated by a `number` effect, or
    /// computed by a `set` effect and taken by no step. (A `set` field that
    /// a step takes is a preset people may correct, such as the Ab-Vermerk
    /// preset to the day of signing and corrected by its Nachtrag.)
    pub fn computed(&self, field: &str) -> bool {
        let written_by = |number: bool| {
            self.transitions.iter().any(|t| {
                t.effects.iter().any(|e| match e {
                    Effect::Allocate { field: f, .. } => number && f == field,
                    Effect::Set { field: f, .. } => !number && f == field,
                    _ => false,
                })
            })
        };
        written_by(true)
            || (written_by(false)
                && !self
                    .transitions
                    .iter()
                    .any(|t| t.requires.iter().chain(&t.fields).any(|i| i == field)))
    }

    /// The freeze that fixes `field` in `state`, if any.
    pub fn frozen(&self, state: &str, field: &str) -> Option<&Freeze> {
        self.freezes
            .iter()
            .find(|f| f.states.iter().any(|s| s == state) && f.fields.iter().any(|x| x == field))
    }

    /// A field's title for people, else its name made readable.
    pub fn field_title(&self, name: &str) -> String {
        if let Some(t) = self.fields.get(name).and_then(|f| f.title.clone()) {
            return t;
        }
        let words = name.replace('_', " ");
        let mut c = words.chars();
        match c.next() {
            Some(first) => first.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    }

    /// A step's title for people, else its name.
    /// Whether a step leads to a final state with no step out of it: the
    /// case ends and nothing in the workflow can undo it (the pages ask for
    /// a confirmation first). A granted KI case is final but goes on
    /// (Änderungsbescheid, Bestandskraft), so signing it asks nothing.
    pub fn ends_case(&self, transition: &str) -> bool {
        self.transition(transition)
            .and_then(|t| t.to.as_deref())
            .and_then(|to| self.state(to))
            .is_some_and(|s| s.is_final && self.transitions_from(&s.name).next().is_none())
    }

    pub fn transition_title(&self, name: &str) -> String {
        self.transition(name)
            .and_then(|t| t.title.clone())
            .unwrap_or_else(|| name.to_string())
    }

    /// Transitions that can fire from a state.
    /// The title of an issued document: an enclosure's declared title, else
    /// the letter template's title.
    pub fn document_title(&self, template: &str) -> String {
        match self.enclosures.get(template) {
            Some(e) => e.title.clone(),
            None => crate::letter::title_of(template),
        }
    }

    pub fn transitions_from<'a>(&'a self, state: &'a str) -> impl Iterator<Item = &'a Transition> {
        self.transitions
            .iter()
            .filter(move |t| t.from.iter().any(|f| f == state))
    }
}

/// Reads a workflow file's text and validates all of it, returning every
/// problem found rather than the first.
pub fn load(
    path: &Path,
    source: &str,
    templates: &BTreeSet<String>,
) -> Result<Definition, Vec<Diagnostic>> {
    load_with_data(path, source, templates, &DataFiles::new())
}

/// [`load`] with the data files of the workflow folder, which `[lookups]`
/// read.
pub fn load_with_data(
    path: &Path,
    source: &str,
    templates: &BTreeSet<String>,
    data: &DataFiles,
) -> Result<Definition, Vec<Diagnostic>> {
    let map = SourceMap::new(path, source);
    let raw: RawWorkflow = match toml::from_str(source) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            return Err(vec![map.error(span, e.message().to_string(), None)]);
        }
    };
    let mut v = Validator {
        map: &map,
        problems: Vec::new(),
    };
    let def = v.build(raw, source, templates, data);
    if v.problems.is_empty() {
        Ok(def)
    } else {
        v.problems.sort_by_key(|d| (d.line, d.column));
        Err(v.problems)
    }
}

/// Fields, states and steps people see without a German `title` (they
/// would read the author's identifier instead): what `workflow check`
/// refuses beyond what loading refuses. Loading itself accepts them, with
/// the identifier made readable, so that small test workflows stay short.
pub fn untitled(path: &Path, source: &str) -> Vec<Diagnostic> {
    let map = SourceMap::new(path, source);
    let Ok(raw) = toml::from_str::<RawWorkflow>(source) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, f) in &raw.fields {
        if f.title.is_none() {
            out.push(map.error(
                name.span(),
                format!(
                    "field `{}` has no title; pages, forms and messages would show its identifier",
                    name.get_ref()
                ),
                Some(format!(
                    "add title = \"…\" in German, e.g. {} = {{ …, title = \"…\" }}",
                    name.get_ref()
                )),
            ));
        }
    }
    for st in &raw.states {
        let st = st.get_ref();
        if st.title.is_none() {
            out.push(map.error(
                st.name.span(),
                format!("state `{}` has no title; the Arbeitskorb and the case page would show its identifier", st.name.get_ref()),
                Some("add title = \"…\" in German to the [[states]] entry".into()),
            ));
        }
    }
    for t in &raw.transitions {
        let t = t.get_ref();
        if t.title.is_none() {
            out.push(map.error(
                t.name.span(),
                format!("step `{}` has no title; its button and the case's timeline would show its identifier", t.name.get_ref()),
                Some("add title = \"…\" in German to the [[transitions]] entry".into()),
            ));
        }
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// Deadlines that a letter's data expression prints (`deadlines.<name>`),
/// each with the first template that prints it.
fn printed_deadlines(
    transitions: &[S<super::raw::RawTransition>],
    deadlines: &BTreeMap<S<String>, super::raw::RawDeadline>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for t in transitions {
        for e in &t.get_ref().effects {
            let e = e.get_ref();
            let (Some(template), Some(data)) = (&e.letter, &e.data) else {
                continue;
            };
            let text = data.get_ref();
            for name in deadlines.keys() {
                let needle = format!("deadlines.{}", name.get_ref());
                let named = text.match_indices(&needle).any(|(i, _)| {
                    !text[i + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if named {
                    out.entry(name.get_ref().clone())
                        .or_insert_with(|| template.get_ref().clone());
                }
            }
        }
    }
    out
}

/// A map of names as written, without their places in the file.
fn unspan(m: BTreeMap<S<String>, S<String>>) -> BTreeMap<String, String> {
    m.into_iter()
        .map(|(k, v)| (k.into_inner(), v.into_inner()))
        .collect()
}

/// The names an effect may refer to.
#[derive(Clone, Copy)]
struct Known<'a> {
    parties: &'a BTreeMap<String, Party>,
    fields: &'a BTreeMap<String, Field>,
    registers: &'a BTreeMap<String, Register>,
    deadlines: &'a BTreeMap<String, ()>,
    templates: &'a BTreeSet<String>,
    enclosures: &'a BTreeMap<String, Enclosure>,
    /// Letter templates some transition issues.
    issued: &'a BTreeSet<String>,
    data: &'a DataFiles,
}

pub(super) struct Validator<'a> {
    map: &'a SourceMap<'a>,
    problems: Vec<Diagnostic>,
}

impl Validator<'_> {
    pub(super) fn err<T>(&mut self, at: &S<T>, message: impl Into<String>, hint: Option<String>) {
        self.problems.push(self.map.error(at.span(), message, hint));
    }

    /// Checks that a referenced name exists, with a hint listing the known ones.
    pub(super) fn resolve<K>(
        &mut self,
        name: &S<String>,
        known: &BTreeMap<String, K>,
        what: &str,
    ) -> bool {
        if known.contains_key(name.get_ref()) {
            return true;
        }
        let names: Vec<&str> = known.keys().map(String::as_str).collect();
        let hint = if names.is_empty() {
            format!("declare it first; this workflow declares no {what}s")
        } else {
            format!("declared {what}s: {}", names.join(", "))
        };
        self.err(
            name,
            format!("unknown {what} `{}`", name.get_ref()),
            Some(hint),
        );
        false
    }

    fn build(
        &mut self,
        raw: RawWorkflow,
        source: &str,
        templates: &BTreeSet<String>,
        data: &DataFiles,
    ) -> Definition {
        if raw.id.get_ref().is_empty()
            || !raw
                .id
                .get_ref()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.err(
                &raw.id,
                "workflow id must be non-empty and use only letters, digits, `-` and `_`",
                None,
            );
        }
        if *raw.version.get_ref() < 1 {
            self.err(&raw.version, "version must be 1 or higher", None);
        }

        let roles: BTreeMap<String, String> = raw
            .roles
            .into_iter()
            .map(|(k, v)| (k.into_inner(), v.into_inner()))
            .collect();
        let parties: BTreeMap<String, Party> = raw
            .parties
            .into_iter()
            .map(|(k, p)| {
                (
                    k.into_inner(),
                    Party {
                        title: p.title,
                        required: p.required,
                    },
                )
            })
            .collect();

        let mut fields = BTreeMap::new();
        for (name, f) in raw.fields {
            let values = f.values.as_ref().map(|v| v.get_ref().clone());
            match FieldKind::parse(f.kind.get_ref(), values) {
                Ok(kind) => {
                    let position = name.span().start;
                    fields.insert(
                        name.get_ref().clone(),
                        Field {
                            name: name.into_inner(),
                            kind,
                            title: f.title,
                            required: f.required,
                            position,
                        },
                    );
                }
                Err(msg) => self.err(&f.kind, format!("field `{}`: {msg}", name.get_ref()), None),
            }
        }

        let mut registers = BTreeMap::new();
        for (name, r) in raw.registers {
            match NumberPattern::from_str(r.pattern.get_ref()) {
                Ok(pattern) => {
                    registers.insert(
                        name.get_ref().clone(),
                        Register {
                            name: name.into_inner(),
                            title: r.title,
                            pattern,
                        },
                    );
                }
                Err(e) => self.err(&r.pattern, e.to_string(), None),
            }
        }

        let enclosures = self.enclosures(raw.enclosures, &fields, templates, data);
        let states = self.states(&raw.states);
        let state_names: BTreeMap<String, ()> =
            states.iter().map(|s| (s.name.clone(), ())).collect();

        let transitions = self.transitions(
            &raw.transitions,
            &state_names,
            &roles,
            &parties,
            &fields,
            &registers,
            &raw.deadlines,
            templates,
            &enclosures,
            data,
        );
        let transition_names: BTreeMap<String, ()> =
            transitions.iter().map(|t| (t.name.clone(), ())).collect();

        let printed = printed_deadlines(&raw.transitions, &raw.deadlines);
        let deadlines = self.deadlines(
            raw.deadlines,
            &roles,
            &parties,
            &fields,
            &transition_names,
            &printed,
        );
        let lookups = self.lookups(raw.lookups, &fields, data);
        let links = self.links(raw.links, &fields, &parties);
        let account = self.account(raw.account, &fields);
        let bookings = self.bookings(raw.bookings, &fields, &links, &states);
        let open_guards = self.open_guards(&raw.open_guards, &fields);
        let exports = self.exports(raw.exports, &fields, &states);
        let controlling = self.controlling(raw.controlling, &fields);
        let forms = self.forms(raw.forms, &parties, &fields, &transitions, &states);
        let retrieval = raw
            .retrieval
            .and_then(|r| self.retrieval(r, &fields, &deadlines, &transitions));
        self.uploads(&raw.transitions, &parties);
        self.graph(&raw.states, &states, &transitions);
        self.step_inputs(&raw.transitions, &fields, &transitions);
        let freezes = self.freezes(raw.freeze, &fields, &state_names, &transitions);

        Definition {
            id: raw.id.into_inner(),
            version: raw.version.into_inner(),
            title: raw.title.into_inner(),
            description: raw.description,
            register: raw.register.into_inner(),
            content_hash: hex::encode(Sha256::digest(source.as_bytes())),
            source: source.to_string(),
            roles,
            parties,
            fields,
            registers,
            deadlines,
            lookups,
            links,
            account,
            bookings,
            open_guards,
            exports,
            controlling,
            forms,
            retrieval,
            freezes,
            enclosures,
            states,
            transitions,
        }
    }

    /// `[enclosures.*]`: each names a known template, its data file holds a
    /// JSON object, and its expressions compile.
    fn enclosures(
        &mut self,
        raw: BTreeMap<S<String>, super::raw::RawEnclosure>,
        fields: &BTreeMap<String, Field>,
        templates: &BTreeSet<String>,
        data: &DataFiles,
    ) -> BTreeMap<String, Enclosure> {
        let vars = GuardVars::new(fields);
        let mut out = BTreeMap::new();
        for (name, e) in raw {
            let mut ok = true;
            if !templates.contains(e.template.get_ref()) {
                let known: Vec<&str> = templates.iter().map(String::as_str).collect();
                self.err(
                    &e.template,
                    format!(
                        "enclosure `{}`: unknown template `{}`",
                        name.get_ref(),
                        e.template.get_ref()
                    ),
                    Some(format!("templates/ has: {}", known.join(", "))),
                );
                ok = false;
            }
            let mut content = serde_json::Map::new();
            if let Some(file) = &e.file {
                match data.get(file.get_ref()).map(|t| serde_json::from_str(t)) {
                    Some(Ok(serde_json::Value::Object(m))) => content = m,
                    Some(Ok(_)) => {
                        self.err(
                            file,
                            format!("{}: must hold a JSON object", file.get_ref()),
                            None,
                        );
                        ok = false;
                    }
                    Some(Err(err)) => {
                        self.err(file, format!("{}: {err}", file.get_ref()), None);
                        ok = false;
                    }
                    None => {
                        let known: Vec<&str> = data.keys().map(String::as_str).collect();
                        self.err(
                            file,
                            format!(
                                "enclosure `{}`: no data file `{}`",
                                name.get_ref(),
                                file.get_ref()
                            ),
                            Some(format!("data files: {}", known.join(", "))),
                        );
                        ok = false;
                    }
                }
            }
            let mut compile = |expr: &Option<S<String>>, what: &str| match expr {
                None => Ok(None),
                Some(expr) => match DataExpr::compile(expr.get_ref(), &vars) {
                    Ok(d) => Ok(Some(d)),
                    Err(problem) => {
                        let start = self.map.content_start(expr.span().start) + problem.offset;
                        self.problems.push(self.map.error(
                            start..start,
                            format!(
                                "{what} of enclosure `{}`: {}",
                                name.get_ref(),
                                problem.message
                            ),
                            problem.hint,
                        ));
                        Err(())
                    }
                },
            };
            let (Ok(d), Ok(when)) = (compile(&e.data, "data"), compile(&e.when, "condition"))
            else {
                continue;
            };
            if ok {
                out.insert(
                    name.get_ref().clone(),
                    Enclosure {
                        name: name.into_inner(),
                        title: e.title.into_inner(),
                        template: e.template.into_inner(),
                        file: e.file.map(|f| f.into_inner()),
                        content,
                        data: d,
                        when,
                    },
                );
            }
        }
        out
    }

    /// A step's inputs are declared fields, and none is a number from a
    /// register (those are never typed in).
    fn step_inputs(
        &mut self,
        raw: &[S<super::raw::RawTransition>],
        fields: &BTreeMap<String, Field>,
        transitions: &[Transition],
    ) {
        let allocated_by = |name: &str| {
            transitions.iter().find(|t| {
                t.effects
                    .iter()
                    .any(|e| matches!(e, Effect::Allocate { field, .. } if field == name))
            })
        };
        for t in raw {
            let t = t.get_ref();
            for f in &t.fields {
                self.resolve(f, fields, "field");
            }
            for f in t.requires.iter().chain(&t.fields) {
                if let Some(by) = allocated_by(f.get_ref()) {
                    self.err(
                        f,
                        format!(
                            "`{}` takes field `{}`, which the `number` effect of `{}` allocates; a number from a register is read-only for every request",
                            t.name.get_ref(),
                            f.get_ref(),
                            by.name
                        ),
                        Some("take the field out of this step's `requires`/`fields`".into()),
                    );
                }
            }
        }
    }

    /// Checks each `[freeze.*]`: its states, fields and corrections are
    /// declared, and no other step that can fire in a frozen state writes a
    /// frozen field (by its inputs or its effects).
    fn freezes(
        &mut self,
        raw: BTreeMap<S<String>, super::raw::RawFreeze>,
        fields: &BTreeMap<String, Field>,
        states: &BTreeMap<String, ()>,
        transitions: &[Transition],
    ) -> Vec<Freeze> {
        let names: BTreeMap<String, ()> =
            transitions.iter().map(|t| (t.name.clone(), ())).collect();
        let mut out = Vec::new();
        for (name, f) in raw {
            for s in &f.states {
                self.resolve(s, states, "state");
            }
            for x in &f.fields {
                self.resolve(x, fields, "field");
            }
            for c in &f.corrections {
                self.resolve(c, &names, "transition");
            }
            let freeze = Freeze {
                name: name.get_ref().clone(),
                title: f.title,
                states: f.states.iter().map(|s| s.get_ref().clone()).collect(),
                fields: f.fields.iter().map(|s| s.get_ref().clone()).collect(),
                corrections: f.corrections.iter().map(|s| s.get_ref().clone()).collect(),
            };
            for t in transitions {
                if freeze.corrections.contains(&t.name)
                    || !t.from.iter().any(|s| freeze.states.contains(s))
                {
                    continue;
                }
                let writes =
                    t.requires
                        .iter()
                        .chain(&t.fields)
                        .cloned()
                        .chain(t.effects.iter().filter_map(|e| match e {
                            Effect::Set { field, .. } | Effect::Allocate { field, .. } => {
                                Some(field.clone())
                            }
                            _ => None,
                        }));
                for w in writes {
                    if freeze.fields.contains(&w) {
                        self.err(
                            &name,
                            format!(
                                "`{}` writes `{w}` in a state where `[freeze.{}]` fixes it, but is not one of its corrections",
                                t.name,
                                name.get_ref()
                            ),
                            Some(format!(
                                "changing what a signed notice printed needs a declared correction step (e.g. an Änderungsbescheid under the four-eyes rule); list it in `corrections` or take `{w}` out of `{}`",
                                t.name
                            )),
                        );
                    }
                }
            }
            out.push(freeze);
        }
        out
    }

    /// Checks each `[forms.*]`: the party and fields are declared, the
    /// `received` field is a date, and `then` is a system step from the
    /// initial state.
    fn forms(
        &mut self,
        raw: BTreeMap<S<String>, super::raw::RawForm>,
        parties: &BTreeMap<String, Party>,
        fields: &BTreeMap<String, Field>,
        transitions: &[Transition],
        states: &[State],
    ) -> BTreeMap<String, Form> {
        let mut out = BTreeMap::new();
        let initial = states.iter().find(|s| s.initial).map(|s| s.name.clone());
        for (name, f) in raw {
            let mut ok = self.resolve(&f.party, parties, "party");
            if f.fields.is_empty() {
                self.err(
                    &f.title,
                    format!("form `{}` lists no fields", name.get_ref()),
                    None,
                );
                ok = false;
            }
            for field in f.fields.iter().chain(&f.party_field) {
                ok &= self.resolve(field, fields, "field");
            }
            if let Some(r) = &f.received
                && self.resolve(r, fields, "field")
                && fields[r.get_ref()].kind != FieldKind::Date
            {
                {
                    self.err(
                        r,
                        format!(
                            "`received` must name a date field, `{}` is not one",
                            r.get_ref()
                        ),
                        None,
                    );
                    ok = false;
                }
            }
            if let Some(then) = &f.then {
                match transitions.iter().find(|t| &t.name == then.get_ref()) {
                    None => {
                        let names: Vec<&str> =
                            transitions.iter().map(|t| t.name.as_str()).collect();
                        self.err(
                            then,
                            format!("unknown transition `{}`", then.get_ref()),
                            Some(format!("declared transitions: {}", names.join(", "))),
                        );
                        ok = false;
                    }
                    Some(t)
                        if !t.roles.iter().any(|r| r == super::SYSTEM)
                            || !initial.as_ref().is_some_and(|i| t.from.contains(i)) =>
                    {
                        self.err(then, format!("`then` must be a transition from the initial state that the role `system` may fire; `{}` is not", t.name), None);
                        ok = false;
                    }
                    Some(_) => {}
                }
            }
            if ok {
                out.insert(
                    name.get_ref().clone(),
                    Form {
                        name: name.into_inner(),
                        title: f.title.into_inner(),
                        description: f.description,
                        party: f.party.into_inner(),
                        fields: f.fields.into_iter().map(S::into_inner).collect(),
                        received: f.received.map(S::into_inner),
                        party_field: f.party_field.map(S::into_inner),
                        then: f.then.map(S::into_inner),
                    },
                );
            }
        }
        out
    }

    /// Checks `[retrieval]`: date fields, letters the workflow issues,
    /// deadlines, and two transitions only the system may fire.
    fn retrieval(
        &mut self,
        raw: S<super::raw::RawRetrieval>,
        fields: &BTreeMap<String, Field>,
        deadlines: &BTreeMap<String, DeadlineDef>,
        transitions: &[Transition],
    ) -> Option<Retrieval> {
        let r = raw.into_inner();
        let mut ok = true;
        for f in [&r.provided, &r.retrieved, &r.posted] {
            if self.resolve(f, fields, "field") {
                if fields[f.get_ref()].kind != FieldKind::Date {
                    self.err(f, format!("`{}` must be a date field", f.get_ref()), None);
                    ok = false;
                }
            } else {
                ok = false;
            }
        }
        for d in &r.deadlines {
            ok &= self.resolve(d, deadlines, "deadline");
        }
        let issued: Vec<&str> = transitions
            .iter()
            .flat_map(|t| &t.effects)
            .filter_map(|e| match e {
                Effect::Letter { template, .. } => Some(template.as_str()),
                _ => None,
            })
            .collect();
        for l in &r.letters {
            if !issued.contains(&l.get_ref().as_str()) {
                self.err(
                    l,
                    format!("no transition issues the letter `{}`", l.get_ref()),
                    Some(format!("letters issued: {}", issued.join(", "))),
                );
                ok = false;
            }
        }
        for t in [&r.on_retrieval, &r.on_expiry] {
            match transitions.iter().find(|x| &x.name == t.get_ref()) {
                Some(x) if x.roles.iter().all(|r| r == super::SYSTEM) && !x.roles.is_empty() => {}
                Some(_) => {
                    self.err(t, format!("`{}` must be a transition only the role `system` may fire, so that nobody enters a retrieval by hand", t.get_ref()), None);
                    ok = false;
                }
                None => {
                    self.err(t, format!("unknown transition `{}`", t.get_ref()), None);
                    ok = false;
                }
            }
        }
        let since = match &r.since {
            None => None,
            Some(d) => match NaiveDate::parse_from_str(&d.get_ref().to_string(), "%Y-%m-%d") {
                Ok(day) => Some(day),
                Err(_) => {
                    self.err(d, "`since` must be a plain date such as 2022-05-20", None);
                    ok = false;
                    None
                }
            },
        };
        ok.then(|| Retrieval {
            since,
            letters: r.letters.into_iter().map(S::into_inner).collect(),
            provided: r.provided.into_inner(),
            retrieved: r.retrieved.into_inner(),
            posted: r.posted.into_inner(),
            deadlines: r.deadlines.into_iter().map(S::into_inner).collect(),
            on_retrieval: r.on_retrieval.into_inner(),
            on_expiry: r.on_expiry.into_inner(),
        })
    }

    /// An upload fires a transition a party may fire; a state has at most one.
    fn uploads(&mut self, raw: &[S<super::raw::RawTransition>], parties: &BTreeMap<String, Party>) {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for t in raw.iter().map(|t| t.get_ref()).filter(|t| t.upload) {
            if !t.roles.iter().any(|r| parties.contains_key(r.get_ref())) {
                self.err(&t.name, format!("transition `{}` is fired by an upload, so one of its roles must be a party (e.g. `applicant`)", t.name.get_ref()), None);
            }
            let from: Vec<String> = match t.from.get_ref() {
                toml::Value::String(s) => vec![s.clone()],
                toml::Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            for f in from {
                if let Some(other) = seen.insert(f.clone(), t.name.get_ref().clone()) {
                    self.err(&t.name, format!("state `{f}` already has the upload transition `{other}`; an upload can fire only one"), None);
                }
            }
        }
    }

    /// Checks each `[links.*]`: its fields are declared here (the linked
    /// workflow's fields are checked by the catalogue, which knows it).
    fn links(
        &mut self,
        raw: BTreeMap<S<String>, super::raw::RawLink>,
        fields: &BTreeMap<String, Field>,
        parties: &BTreeMap<String, Party>,
    ) -> Vec<Link> {
        let self_parties: std::collections::BTreeSet<String> = parties.keys().cloned().collect();
        let mut out = Vec::new();
        for (name, l) in raw {
            let mut ok = self.resolve(&l.field, fields, "field");
            for (here, _) in l.same.iter().chain(&l.take) {
                ok &= self.resolve(here, fields, "field");
            }
            ok &= self.link_account(&l.account, fields);
            let start = l.start.map(|s| {
                let s = s.into_inner();
                for (here, _) in &s.parties {
                    if !self_parties.contains(here.get_ref()) {
                        self.err(
                            here,
                            format!("link start: no party `{}` here", here.get_ref()),
                            Some(format!(
                                "parties: {}",
                                self_parties.iter().cloned().collect::<Vec<_>>().join(", ")
                            )),
                        );
                        ok = false;
                    }
                }
                LinkStart {
                    after: s.after.into_inner(),
                    states: s.states.into_iter().map(S::into_inner).collect(),
                    parties: unspan(s.parties),
                }
            });
            if ok {
                out.push(Link {
                    name: name.into_inner(),
                    workflow: l.workflow.into_inner(),
                    field: l.field.into_inner(),
                    basis: l.basis,
                    same: unspan(l.same),
                    take: unspan(l.take),
                    account: unspan(l.account),
                    start,
                });
            }
        }
        out
    }

    /// `open_guards`: compiled like a step's guards.
    fn open_guards(
        &mut self,
        raw: &[S<super::raw::RawGuard>],
        fields: &BTreeMap<String, Field>,
    ) -> Vec<Guard> {
        let vars = GuardVars::new(fields);
        let mut out = Vec::new();
        for g in raw {
            let g = g.get_ref();
            match Guard::compile(g.expr.get_ref(), g.message.clone(), &vars) {
                Ok(guard) => out.push(guard),
                Err(problem) => {
                    let start = self.map.content_start(g.expr.span().start) + problem.offset;
                    self.problems.push(self.map.error(
                        start..start,
                        format!("open guard: {}", problem.message),
                        problem.hint,
                    ));
                }
            }
        }
        out
    }

    /// Checks each `[lookups.*]`: the file exists and holds the lists, the
    /// fields are declared, and every entry's values fit their fields.
    fn lookups(
        &mut self,
        raw: BTreeMap<S<String>, super::raw::RawLookup>,
        fields: &BTreeMap<String, Field>,
        data: &DataFiles,
    ) -> Vec<Lookup> {
        let mut out = Vec::new();
        for (name, l) in raw {
            let Some(text) = data.get(l.file.get_ref()) else {
                let known: Vec<&str> = data.keys().map(String::as_str).collect();
                self.err(
                    &l.file,
                    format!(
                        "lookup `{}`: no data file `{}`",
                        name.get_ref(),
                        l.file.get_ref()
                    ),
                    Some(if known.is_empty() {
                        "the workflow folder has no data files (data/*.json)".into()
                    } else {
                        format!("data files: {}", known.join(", "))
                    }),
                );
                continue;
            };
            let json: serde_json::Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    self.err(&l.file, format!("{}: {e}", l.file.get_ref()), None);
                    continue;
                }
            };
            let mut ok = self.resolve(&l.field, fields, "field");
            for (target, _) in l.fixed.iter().chain(&l.defaults) {
                ok &= self.resolve(target, fields, "field");
            }
            let mut entries = BTreeMap::new();
            for list in &l.lists {
                let Some(items) = json.get(list.get_ref()).and_then(|v| v.as_array()) else {
                    self.err(
                        list,
                        format!("{} has no list `{}`", l.file.get_ref(), list.get_ref()),
                        None,
                    );
                    ok = false;
                    continue;
                };
                for item in items {
                    let (Some(entry), Some(key)) = (
                        item.as_object(),
                        item.get(l.key.get_ref()).and_then(|k| k.as_str()),
                    ) else {
                        self.err(
                            list,
                            format!(
                                "{}: every entry of `{}` must be an object with a text `{}`",
                                l.file.get_ref(),
                                list.get_ref(),
                                l.key.get_ref()
                            ),
                            None,
                        );
                        ok = false;
                        break;
                    };
                    for (target, source) in l.fixed.iter().chain(&l.defaults) {
                        let value = entry
                            .get(source.get_ref())
                            .unwrap_or(&serde_json::Value::Null);
                        let fixed = l.fixed.contains_key(target);
                        let problem = match fields.get(target.get_ref()) {
                            Some(_) if fixed && value.is_null() => {
                                Some("it has no value".to_string())
                            }
                            Some(f) => f.kind.check(value).err(),
                            None => None,
                        };
                        if let Some(reason) = problem {
                            self.err(
                                source,
                                format!(
                                    "{}: `{}` of `{key}` does not fit field `{}`: {reason}",
                                    l.file.get_ref(),
                                    source.get_ref(),
                                    target.get_ref()
                                ),
                                None,
                            );
                            ok = false;
                        }
                    }
                    if entries.insert(key.to_string(), entry.clone()).is_some() {
                        self.err(
                            list,
                            format!("{}: `{key}` is listed twice", l.file.get_ref()),
                            None,
                        );
                        ok = false;
                    }
                }
            }
            if ok {
                out.push(Lookup {
                    name: name.into_inner(),
                    file: l.file.into_inner(),
                    field: l.field.into_inner(),
                    key: l.key.into_inner(),
                    basis: l.basis,
                    fixed: unspan(l.fixed),
                    defaults: unspan(l.defaults),
                    entries,
                });
            }
        }
        out
    }

    fn states(&mut self, raw: &[S<super::raw::RawState>]) -> Vec<State> {
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        let mut states = Vec::new();
        for s in raw {
            let st = s.get_ref();
            if seen.insert(st.name.get_ref(), ()).is_some() {
                self.err(
                    &st.name,
                    format!("duplicate state `{}`", st.name.get_ref()),
                    Some("state names must be unique within a workflow".into()),
                );
                continue;
            }
            if st.initial && st.is_final {
                self.err(&st.name, "a state cannot be both initial and final", None);
            }
            states.push(State {
                name: st.name.get_ref().clone(),
                title: st.title.clone(),
                initial: st.initial,
                is_final: st.is_final,
            });
        }
        let initials: Vec<&S<super::raw::RawState>> =
            raw.iter().filter(|s| s.get_ref().initial).collect();
        match initials.len() {
            1 => {}
            0 => self.problems.push(self.map.error(
                0..0,
                "no initial state",
                Some("mark exactly one state with `initial = true`".into()),
            )),
            _ => {
                for s in &initials[1..] {
                    self.err(
                        &s.get_ref().name,
                        "more than one initial state",
                        Some("mark exactly one state with `initial = true`".into()),
                    );
                }
            }
        }
        if !raw.iter().any(|s| s.get_ref().is_final) {
            self.problems.push(self.map.error(
                0..0,
                "no final state",
                Some("mark at least one state with `final = true`".into()),
            ));
        }
        states
    }

    #[allow(clippy::too_many_arguments)]
    fn transitions(
        &mut self,
        raw: &[S<super::raw::RawTransition>],
        states: &BTreeMap<String, ()>,
        roles: &BTreeMap<String, String>,
        parties: &BTreeMap<String, Party>,
        fields: &BTreeMap<String, Field>,
        registers: &BTreeMap<String, Register>,
        deadlines: &BTreeMap<S<String>, super::raw::RawDeadline>,
        templates: &BTreeSet<String>,
        enclosures: &BTreeMap<String, Enclosure>,
        data: &DataFiles,
    ) -> Vec<Transition> {
        // Letters the workflow issues: only those can be distributed.
        let issued: BTreeSet<String> = raw
            .iter()
            .flat_map(|t| &t.get_ref().effects)
            .filter_map(|e| e.get_ref().letter.as_ref().map(|l| l.get_ref().clone()))
            .collect();
        let deadline_names: BTreeMap<String, ()> = deadlines
            .keys()
            .map(|k| (k.get_ref().clone(), ()))
            .collect();
        let all_names: BTreeMap<String, ()> = raw
            .iter()
            .map(|t| (t.get_ref().name.get_ref().clone(), ()))
            .collect();
        let vars = GuardVars::new(fields);
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        let mut out = Vec::new();
        for t in raw {
            let t = t.get_ref();
            if seen.insert(t.name.get_ref(), ()).is_some() {
                self.err(
                    &t.name,
                    format!("duplicate transition `{}`", t.name.get_ref()),
                    Some(
                        "transition names must be unique; list several states in `from` instead"
                            .into(),
                    ),
                );
                continue;
            }
            let names: Option<Vec<String>> = match t.from.get_ref() {
                toml::Value::String(s) => Some(vec![s.clone()]),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect(),
                _ => None,
            };
            let Some(names) = names else {
                self.err(
                    &t.from,
                    "`from` must be a state name or a list of state names",
                    None,
                );
                continue;
            };
            let mut from = Vec::new();
            for name in names {
                let spanned = S::new(t.from.span(), name);
                if self.resolve(&spanned, states, "state") {
                    from.push(spanned.into_inner());
                }
            }
            if let Some(to) = &t.to {
                self.resolve(to, states, "state");
            }
            if t.roles.is_empty() {
                self.err(
                    &t.name,
                    "a transition needs at least one role in `roles`",
                    None,
                );
            }
            for r in &t.roles {
                self.resolve(r, roles, "role");
            }
            for f in &t.requires {
                self.resolve(f, fields, "field");
            }
            for e in &t.four_eyes {
                self.resolve(e, &all_names, "transition");
            }
            let mut guards = Vec::new();
            for g in &t.guards {
                let g = g.get_ref();
                match Guard::compile(g.expr.get_ref(), g.message.clone(), &vars) {
                    Ok(guard) => guards.push(guard),
                    Err(problem) => {
                        // Point into the expression: its span starts at the opening quote.
                        let start = self.map.content_start(g.expr.span().start) + problem.offset;
                        self.problems.push(self.map.error(
                            start..start,
                            format!("guard of `{}`: {}", t.name.get_ref(), problem.message),
                            problem.hint,
                        ));
                    }
                }
            }
            let mut effects = Vec::new();
            for e in &t.effects {
                let known = Known {
                    parties,
                    fields,
                    registers,
                    deadlines: &deadline_names,
                    templates,
                    enclosures,
                    issued: &issued,
                    data,
                };
                if let Some(effect) = self.effect(e, &known) {
                    effects.push(effect);
                }
            }
            out.push(Transition {
                name: t.name.get_ref().clone(),
                title: t.title.clone(),
                from,
                to: t.to.as_ref().map(|to| to.get_ref().clone()),
                roles: t.roles.iter().map(|r| r.get_ref().clone()).collect(),
                guards,
                requires: t.requires.iter().map(|r| r.get_ref().clone()).collect(),
                fields: t.fields.iter().map(|r| r.get_ref().clone()).collect(),
                four_eyes: t.four_eyes.iter().map(|r| r.get_ref().clone()).collect(),
                upload: t.upload,
                effects,
            });
        }
        out
    }

    fn effect(&mut self, at: &S<RawEffect>, known: &Known<'_>) -> Option<Effect> {
        let Known {
            parties,
            fields,
            registers,
            deadlines,
            templates,
            ..
        } = *known;
        let e = at.get_ref();
        let kinds = [
            e.letter.is_some(),
            e.deadline.is_some(),
            e.meet.is_some(),
            e.cancel.is_some(),
            e.number.is_some(),
            e.set.is_some(),
            e.distribute.is_some(),
        ];
        if (e.electronic.is_some() || e.when.is_some() || e.enclosures.is_some())
            && e.letter.is_none()
        {
            self.err(
                at,
                "`electronic`, `when` and `enclosures` belong to a letter effect",
                None,
            );
            return None;
        }
        if kinds.iter().filter(|k| **k).count() != 1 {
            self.err(
                at,
                "an effect needs exactly one of `letter`, `deadline`, `meet`, `cancel`, `number`, `set`, `distribute`",
                Some("e.g. { letter = \"eingangsbestaetigung\", to = \"applicant\" }".into()),
            );
            return None;
        }
        if let Some(template) = &e.letter {
            let mut ok = true;
            if !templates.contains(template.get_ref()) {
                let known: Vec<&str> = templates.iter().map(String::as_str).collect();
                self.err(
                    template,
                    format!("unknown letter template `{}`", template.get_ref()),
                    Some(format!(
                        "templates/ has: {}",
                        if known.is_empty() {
                            "no templates".into()
                        } else {
                            known.join(", ")
                        }
                    )),
                );
                ok = false;
            }
            let Some(to) = &e.to else {
                self.err(at, "a letter effect needs `to = \"<party>\"`", None);
                return None;
            };
            ok &= self.resolve(to, parties, "party");
            for name in e.enclosures.iter().flatten() {
                ok &= self.resolve(name, known.enclosures, "enclosure");
            }
            let mut compile = |expr: &Option<S<String>>, what: &str| match expr {
                None => Ok(None),
                Some(expr) => match DataExpr::compile(expr.get_ref(), &GuardVars::new(fields)) {
                    Ok(d) => Ok(Some(d)),
                    Err(problem) => {
                        let start = self.map.content_start(expr.span().start) + problem.offset;
                        self.problems.push(self.map.error(
                            start..start,
                            format!("{what} for `{}`: {}", template.get_ref(), problem.message),
                            problem.hint,
                        ));
                        Err(())
                    }
                },
            };
            let (Ok(data), Ok(when)) = (
                compile(&e.data, "letter data"),
                compile(&e.when, "condition"),
            ) else {
                return None;
            };
            return ok.then(|| Effect::Letter {
                template: template.get_ref().clone(),
                to: to.get_ref().clone(),
                data,
                electronic: e.electronic.unwrap_or(false),
                when,
                enclosures: e
                    .enclosures
                    .iter()
                    .flatten()
                    .map(|n| n.get_ref().clone())
                    .collect(),
            });
        }
        if e.recipients.is_some() && e.distribute.is_none() {
            self.err(at, "`recipients` belongs to a distribute effect", None);
            return None;
        }
        if let Some(template) = &e.distribute {
            return self.distribution(at, template, known);
        }
        if let Some(d) = &e.deadline {
            return self
                .resolve(d, deadlines, "deadline")
                .then(|| Effect::SetDeadline {
                    deadline: d.get_ref().clone(),
                });
        }
        if let Some(d) = &e.cancel {
            return self
                .resolve(d, deadlines, "deadline")
                .then(|| Effect::CancelDeadline {
                    deadline: d.get_ref().clone(),
                });
        }
        if let Some(d) = &e.meet {
            return self
                .resolve(d, deadlines, "deadline")
                .then(|| Effect::MeetDeadline {
                    deadline: d.get_ref().clone(),
                });
        }
        if let Some(field) = &e.set {
            let Some(value) = &e.value else {
                self.err(
                    at,
                    "a set effect needs `value = \"<CEL expression>\"`",
                    None,
                );
                return None;
            };
            if !self.resolve(field, fields, "field") {
                return None;
            }
            return match DataExpr::compile(value.get_ref(), &GuardVars::new(fields)) {
                Ok(v) => Some(Effect::Set {
                    field: field.get_ref().clone(),
                    value: v,
                }),
                Err(problem) => {
                    let start = self.map.content_start(value.span().start) + problem.offset;
                    self.problems.push(self.map.error(
                        start..start,
                        format!("value of `{}`: {}", field.get_ref(), problem.message),
                        problem.hint,
                    ));
                    None
                }
            };
        }
        let register = e.number.as_ref().expect("one kind is set");
        let Some(field) = &e.field else {
            self.err(
                at,
                "a number effect needs `field = \"<case field>\"` to store the number in",
                None,
            );
            return None;
        };
        let ok =
            self.resolve(register, registers, "register") & self.resolve(field, fields, "field");
        ok.then(|| Effect::Allocate {
            register: register.get_ref().clone(),
            field: field.get_ref().clone(),
        })
    }

    /// Checks a `distribute` effect: a letter this workflow issues, a
    /// distribution list of entries with a name and a mail address, and
    /// the mail's data expression.
    fn distribution(
        &mut self,
        at: &S<RawEffect>,
        template: &S<String>,
        known: &Known<'_>,
    ) -> Option<Effect> {
        let e = at.get_ref();
        let mut ok = true;
        if !known.issued.contains(template.get_ref()) {
            let issued: Vec<&str> = known.issued.iter().map(String::as_str).collect();
            self.err(
                template,
                format!(
                    "no transition issues the letter `{}`, so it cannot be distributed",
                    template.get_ref()
                ),
                Some(if issued.is_empty() {
                    "this workflow issues no letters".into()
                } else {
                    format!("letters issued: {}", issued.join(", "))
                }),
            );
            ok = false;
        }
        if e.to.is_some() || e.field.is_some() || e.value.is_some() {
            self.err(
                at,
                "a distribute effect takes `recipients` and `data`, not `to`, `field` or `value`",
                None,
            );
            ok = false;
        }
        let recipients = match &e.recipients {
            Some(r) => self.recipients(r, known.data),
            None => {
                self.err(
                    at,
                    "a distribute effect needs `recipients = { file = \"data/<file>.json\", lists = [\"<list>\"] }`",
                    None,
                );
                None
            }
        };
        let data = match &e.data {
            None => None,
            Some(expr) => match DataExpr::compile(expr.get_ref(), &GuardVars::new(known.fields)) {
                Ok(d) => Some(d),
                Err(problem) => {
                    let start = self.map.content_start(expr.span().start) + problem.offset;
                    self.problems.push(self.map.error(
                        start..start,
                        format!(
                            "mail data for `{}`: {}",
                            template.get_ref(),
                            problem.message
                        ),
                        problem.hint,
                    ));
                    ok = false;
                    None
                }
            },
        };
        let recipients = recipients?;
        let r = e.recipients.as_ref().expect("read above").get_ref();
        let mut list = format!(
            "{}: {}",
            r.file.get_ref(),
            r.lists
                .iter()
                .map(|l| l.get_ref().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(only) = &r.only {
            list.push_str(&format!(" where {}", only.get_ref()));
        }
        ok.then(|| Effect::Distribute {
            template: template.get_ref().clone(),
            list,
            recipients,
            data,
        })
    }

    /// Reads a distribution list: every entry of the lists (where its
    /// `where` key is true) with a text `name`, a mail address `email` and
    /// optionally `address` lines. `None` after reporting what is wrong.
    fn recipients(
        &mut self,
        raw: &S<super::raw::RawRecipients>,
        data: &DataFiles,
    ) -> Option<Vec<crate::domain::PartyRef>> {
        let r = raw.get_ref();
        let Some(text) = data.get(r.file.get_ref()) else {
            let known: Vec<&str> = data.keys().map(String::as_str).collect();
            self.err(
                &r.file,
                format!("recipients: no data file `{}`", r.file.get_ref()),
                Some(if known.is_empty() {
                    "the workflow folder has no data files (data/*.json)".into()
                } else {
                    format!("data files: {}", known.join(", "))
                }),
            );
            return None;
        };
        let json: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.err(&r.file, format!("{}: {e}", r.file.get_ref()), None);
                return None;
            }
        };
        let file = r.file.get_ref();
        let mut ok = true;
        let mut out = Vec::new();
        for list in &r.lists {
            let Some(items) = json.get(list.get_ref()).and_then(|v| v.as_array()) else {
                self.err(
                    list,
                    format!("{file} has no list `{}`", list.get_ref()),
                    None,
                );
                ok = false;
                continue;
            };
            for item in items {
                if let Some(only) = &r.only
                    && item.get(only.get_ref()) != Some(&serde_json::Value::Bool(true))
                {
                    continue;
                }
                let party = serde_json::from_value::<crate::domain::PartyRef>(serde_json::json!({
                    "name": item.get("name"),
                    "email": item.get("email"),
                    "address": item.get("address").cloned().unwrap_or(serde_json::json!([])),
                }));
                match party {
                    Ok(p) if p.email.is_some() => out.push(p),
                    Ok(p) => {
                        self.err(
                            list,
                            format!(
                                "{file}: `{}` has no `email`; a distribution goes by mail",
                                p.name
                            ),
                            None,
                        );
                        ok = false;
                    }
                    Err(e) => {
                        self.err(
                            list,
                            format!(
                                "{file}: an entry of `{}` is not a recipient (text `name`, `email`, list `address`): {e}",
                                list.get_ref()
                            ),
                            None,
                        );
                        ok = false;
                    }
                }
            }
        }
        if ok && out.is_empty() {
            self.err(raw, format!("recipients: {file} selects nobody"), None);
            ok = false;
        }
        ok.then_some(out)
    }

    fn deadlines(
        &mut self,
        raw: BTreeMap<S<String>, super::raw::RawDeadline>,
        roles: &BTreeMap<String, String>,
        parties: &BTreeMap<String, Party>,
        fields: &BTreeMap<String, Field>,
        transitions: &BTreeMap<String, ()>,
        printed: &BTreeMap<String, String>,
    ) -> BTreeMap<String, DeadlineDef> {
        let mut out = BTreeMap::new();
        for (name, d) in raw {
            for day in d.posted.iter().chain(&d.acknowledged).chain(&d.from) {
                if self.resolve(day, fields, "field")
                    && fields[day.get_ref()].kind != FieldKind::Date
                {
                    self.err(
                        day,
                        format!(
                            "deadline `{}`: `{}` must be a date field",
                            name.get_ref(),
                            day.get_ref()
                        ),
                        None,
                    );
                }
            }
            if d.acknowledged.is_some() && matches!(d.date, Some(_)) {
                self.err(
                    &name,
                    format!(
                        "deadline `{}`: a fixed date does not run from an acknowledgement",
                        name.get_ref()
                    ),
                    None,
                );
            }
            let moves = d.moves.as_ref().is_none_or(|m| *m.get_ref());
            if let (Some(at), Some(template)) = (&d.moves, printed.get(name.get_ref()))
                && !moves
                && !d.end_notice
            {
                self.err(
                    at,
                    format!(
                        "deadline `{}` does not move off weekends and holidays (`moves = false`), but the letter `{template}` prints it: that is only lawful when the letter names the end day with a notice under § 31 Abs. 3 Satz 2 VwVfG",
                        name.get_ref()
                    ),
                    Some(
                        "print the notice (templates/lib/rechtstexte.typ: hinweis-fristende) in every letter that shows this deadline and declare `end_notice = true`, or remove `moves = false`".into(),
                    ),
                );
            }
            let due = match (&d.period, &d.date, &d.date_field) {
                (None, None, Some(f)) => match fields.get(f.get_ref()).map(|x| &x.kind) {
                    Some(FieldKind::Date) => Some(Due::Field(f.get_ref().clone())),
                    _ => {
                        self.err(
                            f,
                            format!(
                                "deadline `{}`: `date_field` must name a date field",
                                name.get_ref()
                            ),
                            None,
                        );
                        None
                    }
                },
                (Some(p), None, None) => match Period::from_str(p.get_ref()) {
                    Ok(p) => Some(Due::Period(p)),
                    Err(e) => {
                        self.err(p, e.to_string(), None);
                        None
                    }
                },
                (None, Some(date), None) => {
                    match NaiveDate::parse_from_str(&date.get_ref().to_string(), "%Y-%m-%d") {
                        Ok(date) => Some(Due::Date(date)),
                        Err(_) => {
                            self.err(
                                date,
                                "a deadline date must be a plain date such as 2013-07-31",
                                None,
                            );
                            None
                        }
                    }
                }
                _ => {
                    self.err(
                        &name,
                        format!(
                            "deadline `{}` needs exactly one of `period`, `date` or `date_field`",
                            name.get_ref()
                        ),
                        Some("e.g. period = \"4W\" or date = 2013-07-31".into()),
                    );
                    None
                }
            };
            let mut reminders = Vec::new();
            for r in &d.reminders {
                match Offset::from_str(r.get_ref()) {
                    Ok(o) => reminders.push(o),
                    Err(e) => self.err(r, e.to_string(), None),
                }
            }
            for who in d.remind.iter().chain(&d.escalate) {
                if !parties.contains_key(who.get_ref()) && !roles.contains_key(who.get_ref()) {
                    self.err(
                        who,
                        format!("unknown party or role `{}`", who.get_ref()),
                        Some("reminders go to a declared party or role".into()),
                    );
                }
            }
            if let Some(t) = &d.on_expiry {
                self.resolve(t, transitions, "transition");
            }
            let kind = match d.kind.as_ref().map(|k| k.get_ref().as_str()) {
                None | Some("obligation") => DeadlineKind::Obligation,
                Some("period") => DeadlineKind::Period,
                Some(other) => {
                    let at = d.kind.as_ref().expect("set");
                    self.err(
                        at,
                        format!("unknown deadline kind `{other}`; use obligation or period"),
                        None,
                    );
                    DeadlineKind::Obligation
                }
            };
            if let Some(due) = due {
                out.insert(
                    name.get_ref().clone(),
                    DeadlineDef {
                        name: name.into_inner(),
                        title: d.title.into_inner(),
                        due,
                        by_post: d.by_post,
                        moves,
                        end_notice: d.end_notice,
                        court: d.court,
                        posted: d.posted.map(S::into_inner),
                        from_title: d
                            .from
                            .as_ref()
                            .and_then(|f| fields.get(f.get_ref()))
                            .and_then(|f| f.title.clone()),
                        from: d.from.map(S::into_inner),
                        acknowledged: d.acknowledged.map(S::into_inner),
                        legal_basis: d.legal_basis,
                        action: d.action,
                        reminders,
                        remind: d.remind.into_iter().map(S::into_inner).collect(),
                        escalate: d.escalate.into_iter().map(S::into_inner).collect(),
                        on_expiry: d.on_expiry.map(S::into_inner),
                        kind,
                    },
                );
            }
        }
        out
    }

    /// Reachability from the initial state, dead ends, and final states with exits.
    fn graph(
        &mut self,
        raw: &[S<super::raw::RawState>],
        states: &[State],
        transitions: &[Transition],
    ) {
        let Some(initial) = states.iter().find(|s| s.initial) else {
            return;
        };
        let mut reached: BTreeSet<&str> = BTreeSet::from([initial.name.as_str()]);
        let mut queue = VecDeque::from([initial.name.as_str()]);
        while let Some(s) = queue.pop_front() {
            for t in transitions.iter().filter(|t| t.from.iter().any(|f| f == s)) {
                if let Some(to) = &t.to
                    && reached.insert(to)
                {
                    queue.push_back(to);
                }
            }
        }
        for (s, r) in states.iter().zip(raw) {
            let name = &r.get_ref().name;
            let from_here = || transitions.iter().filter(|t| t.from.contains(&s.name));
            let exits = from_here().any(|t| t.to.is_some());
            // Entries that leave the case in its state are allowed in a final state.
            let leaves = from_here().any(|t| t.to.as_ref().is_some_and(|to| *to != s.name));
            if !reached.contains(s.name.as_str()) {
                self.err(
                    name,
                    format!(
                        "state `{}` cannot be reached from the initial state `{}`",
                        s.name, initial.name
                    ),
                    Some("add a transition into it, or remove it".into()),
                );
            }
            if !s.is_final && !exits {
                self.err(
                    name,
                    format!(
                        "state `{}` is a dead end: no transition leaves it and it is not final",
                        s.name
                    ),
                    Some("add a transition out of it, or mark it `final = true`".into()),
                );
            }
            if s.is_final && leaves {
                self.err(
                    name,
                    format!("final state `{}` has transitions leaving it", s.name),
                    Some("a final state ends the case; remove `final` or the transitions, or leave out `to` for an entry that keeps the case in its state".into()),
                );
            }
        }
    }
}
