//! The workflow file as written: the serde shape of `workflows/*.toml`, with
//! spans kept so that every later check can point at the offending line.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkflow {
    pub id: S<String>,
    pub version: S<i64>,
    pub title: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Register whose sequence numbers the cases (file numbers).
    pub register: S<String>,
    #[serde(default)]
    pub roles: BTreeMap<S<String>, S<String>>,
    #[serde(default)]
    pub parties: BTreeMap<S<String>, RawParty>,
    #[serde(default)]
    pub fields: BTreeMap<S<String>, RawField>,
    #[serde(default)]
    pub registers: BTreeMap<S<String>, RawRegister>,
    #[serde(default)]
    pub deadlines: BTreeMap<S<String>, RawDeadline>,
    #[serde(default)]
    pub lookups: BTreeMap<S<String>, RawLookup>,
    #[serde(default)]
    pub links: BTreeMap<S<String>, RawLink>,
    #[serde(default)]
    pub account: Option<S<RawAccount>>,
    /// Conditions a new case must meet, checked with the linked cases'
    /// fields taken (e.g. a call for funds within what the grant has left).
    #[serde(default)]
    pub open_guards: Vec<S<RawGuard>>,
    #[serde(default)]
    pub exports: BTreeMap<S<String>, RawExport>,
    #[serde(default)]
    pub controlling: Option<S<RawControlling>>,
    #[serde(default)]
    pub bookings: Option<S<RawBookings>>,
    #[serde(default)]
    pub forms: BTreeMap<S<String>, RawForm>,
    #[serde(default)]
    pub retrieval: Option<S<RawRetrieval>>,
    #[serde(default)]
    pub freeze: BTreeMap<S<String>, RawFreeze>,
    #[serde(default)]
    pub enclosures: BTreeMap<S<String>, RawEnclosure>,
    #[serde(default)]
    pub states: Vec<S<RawState>>,
    #[serde(default)]
    pub transitions: Vec<S<RawTransition>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawParty {
    pub title: String,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    #[serde(rename = "type")]
    pub kind: S<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub values: Option<S<Vec<String>>>,
}

/// An enclosure (Anlage) a letter effect names in `enclosures`: a document
/// of its own, issued with the letter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnclosure {
    pub title: S<String>,
    pub template: S<String>,
    /// Fixed content: a JSON object in a data file of the workflow folder.
    #[serde(default)]
    pub file: Option<S<String>>,
    /// A CEL map expression merged over the file's content.
    #[serde(default)]
    pub data: Option<S<String>>,
    /// A CEL condition: enclosed only when it holds.
    #[serde(default)]
    pub when: Option<S<String>>,
}

/// Fields fixed from some states on (`[freeze.bescheid]`): what a signed
/// notice printed. Only the `corrections` (e.g. an Änderungsbescheid) may
/// change them there.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFreeze {
    #[serde(default)]
    pub title: Option<String>,
    pub states: Vec<S<String>>,
    pub fields: Vec<S<String>>,
    #[serde(default)]
    pub corrections: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegister {
    pub pattern: S<String>,
    #[serde(default)]
    pub title: Option<String>,
}

/// Case fields that follow from a table in a data file of the workflow
/// folder, e.g. the court of an applicant's seat from `data/kommunen.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLookup {
    /// A JSON file relative to the workflow folder, e.g. `data/kommunen.json`.
    pub file: S<String>,
    /// The lists of entries (arrays of objects) at the top of that file.
    pub lists: Vec<S<String>>,
    /// The entry key that the case field `field` names, e.g. `name`.
    pub key: S<String>,
    /// The case field that selects the entry, e.g. `kommune`.
    pub field: S<String>,
    /// Why the values follow from the table (printed in refusals).
    #[serde(default)]
    pub basis: Option<String>,
    /// Case field = entry key: taken from the entry, and a different value
    /// is refused.
    #[serde(default)]
    pub fixed: BTreeMap<S<String>, S<String>>,
    /// Case field = entry key: taken from the entry only where empty.
    #[serde(default)]
    pub defaults: BTreeMap<S<String>, S<String>>,
}

/// A case field holding the file number of a related case of another
/// workflow, e.g. the RAA transition case of the same municipality.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLink {
    /// The workflow of the linked case.
    pub workflow: S<String>,
    /// The case field holding the linked case's file number.
    pub field: S<String>,
    /// Why the cases are linked (printed in refusals).
    #[serde(default)]
    pub basis: Option<String>,
    /// Field here = field there: must be equal (taken from there when empty).
    #[serde(default)]
    pub same: BTreeMap<S<String>, S<String>>,
    /// Field here = field there: taken from the linked case on every step.
    #[serde(default)]
    pub take: BTreeMap<S<String>, S<String>>,
    /// Field here = a figure of the linked case's account (`[account]`),
    /// e.g. `available.paedagogik`: computed and taken on every step.
    #[serde(default)]
    pub account: BTreeMap<S<String>, S<String>>,
    /// `[links.<name>.start]`: the reminder pass opens a case of this
    /// workflow by itself for each linked case that needs one.
    #[serde(default)]
    pub start: Option<S<RawLinkStart>>,
}

/// When amtspost opens a case of this workflow for a linked case by itself
/// (a proof of use once the grant's period has ended).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLinkStart {
    /// A date field of the linked case: opened on the day after it.
    pub after: S<String>,
    /// The linked case's states in which it is opened.
    pub states: Vec<S<String>>,
    /// Party here = party of the linked case.
    #[serde(default)]
    pub parties: BTreeMap<S<String>, S<String>>,
}

/// `[account]`: the money a case grants, per budget line; what cases
/// linked to it (`[bookings]`) have called and been paid is counted
/// against it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    pub title: String,
    /// The money field holding the approved total.
    pub total: S<String>,
    pub lines: Vec<RawAccountLine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccountLine {
    pub name: S<String>,
    pub title: String,
    /// The money field holding the amount approved for this line.
    pub approved: S<String>,
}

/// `[exports.*]`: a file for another system (the state treasury's payout
/// orders): one row per case in the given states whose date field holds
/// the day asked for, one column per expression.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExport {
    pub title: String,
    /// The date field that selects the cases of one day.
    pub date: S<String>,
    pub states: Vec<S<String>>,
    pub columns: Vec<RawColumn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawColumn {
    pub title: String,
    /// What the column holds, documented for the receiving system.
    #[serde(default)]
    pub description: Option<String>,
    /// CEL over `data`, `file_number`, `today`: a string, number or null.
    pub value: S<String>,
}

/// `[controlling]`: the programme's controlling report, one row per grant
/// of a year, with the figures of its proof of use.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawControlling {
    pub title: String,
    /// A date field that is set once the grant is signed (a row per such case).
    pub granted: S<String>,
    /// A date field whose year is the report's year.
    pub year: S<String>,
    /// The field naming the recipient (the row's label).
    pub recipient: S<String>,
    /// The workflow of the proofs of use, linked to this one.
    pub proofs: S<String>,
    /// Money field of the proof: the amount recognised.
    pub proven: S<String>,
    /// Money field of the proof: the amount to be repaid …
    pub repaid: S<String>,
    /// … once the proof is in one of these states.
    pub repaid_states: Vec<S<String>>,
    /// Number fields of the proof: the programme's indicators.
    pub indicators: Vec<S<String>>,
}

/// `[bookings]`: what a case of this workflow counts on the account of the
/// case its link names, by the state it is in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBookings {
    /// The `[links.*]` naming the case whose account is booked.
    pub link: S<String>,
    /// Account line = money field of this case.
    pub amounts: BTreeMap<S<String>, S<String>>,
    /// States in which the amounts count as called.
    #[serde(default)]
    pub called: Vec<S<String>>,
    /// States in which the amounts count as paid out.
    #[serde(default)]
    pub paid: Vec<S<String>>,
}

/// A form the municipality fills in on the portal to open a case online
/// (e.g. `[forms.antrag]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawForm {
    pub title: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The party the municipality takes part as, e.g. `applicant`.
    pub party: S<String>,
    /// The fields the applicant fills in, in the order shown.
    pub fields: Vec<S<String>>,
    /// A date field set to the day the application arrived online.
    #[serde(default)]
    pub received: Option<S<String>>,
    /// A field set to the municipality's name (e.g. `kommune`).
    #[serde(default)]
    pub party_field: Option<S<String>>,
    /// A system transition fired at once after opening (e.g. the
    /// Eingangsbestätigung); without it a clerk looks first.
    #[serde(default)]
    pub then: Option<S<String>>,
}

/// Notification by retrieval from the portal (§ 41 Abs. 2a VwVfG NRW).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetrieval {
    /// Letter templates provided for retrieval where the party consented.
    pub letters: Vec<S<String>>,
    /// Date field set to the day the letter was provided.
    pub provided: S<String>,
    /// Date field set to the day of the first retrieval.
    pub retrieved: S<String>,
    /// Date field set to the posting day when the provision ends unretrieved.
    pub posted: S<String>,
    /// Deadlines that run from the notification (recomputed by the two
    /// transitions below).
    pub deadlines: Vec<S<String>>,
    /// System transition fired on the first retrieval.
    pub on_retrieval: S<String>,
    /// System transition fired when the provision ends unretrieved.
    pub on_expiry: S<String>,
    /// The first letter date for which the rule is in force; letters
    /// dated before go by post whatever the party consented to.
    #[serde(default)]
    pub since: Option<S<toml::value::Datetime>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDeadline {
    pub title: S<String>,
    /// A period such as `4W`, counted from the event that sets the deadline.
    #[serde(default)]
    pub period: Option<S<String>>,
    /// A fixed end date such as `2013-07-31`.
    #[serde(default)]
    pub date: Option<S<toml::value::Datetime>>,
    /// Ends on the date a case field holds (e.g. the Verwendungsnachweis
    /// date a notice sets); waits while the field is empty.
    #[serde(default)]
    pub date_field: Option<S<String>>,
    /// Count from the postal notification fiction, not from the event day.
    #[serde(default)]
    pub by_post: bool,
    /// `false` where the authority said the end does not move off weekends
    /// (default `true`).
    #[serde(default)]
    pub moves: Option<S<bool>>,
    /// The letters that print this deadline name its end day with the
    /// notice of § 31 Abs. 3 Satz 2 VwVfG (required for `moves = false`
    /// when a letter prints the deadline).
    #[serde(default)]
    pub end_notice: bool,
    /// A court deadline (e.g. the Klagefrist): computed by § 57 Abs. 2 VwGO
    /// with § 222 ZPO instead of § 31 VwVfG.
    #[serde(default)]
    pub court: bool,
    /// A date field holding the day the letter was posted (Ab-Vermerk):
    /// the deadline runs from it, not from the day it is set.
    #[serde(default)]
    pub posted: Option<S<String>>,
    /// A date field holding the day the period starts from, which is not
    /// a posting (e.g. the day the office learnt the facts, § 48 Abs. 4
    /// VwVfG); its title is printed in the explanation.
    #[serde(default)]
    pub from: Option<S<String>>,
    /// A date field holding the date on an Empfangsbekenntnis: once set,
    /// the deadline runs from it, without the postal fiction.
    #[serde(default)]
    pub acknowledged: Option<S<String>>,
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// What the reminded person is asked to do (reminder mails).
    #[serde(default)]
    pub action: Option<String>,
    /// Reminder offsets before the end, e.g. `["30d", "7wd"]`.
    #[serde(default)]
    pub reminders: Vec<S<String>>,
    /// Parties or roles who receive reminders.
    #[serde(default)]
    pub remind: Vec<S<String>>,
    /// Who is told once the deadline has passed unmet.
    #[serde(default)]
    pub escalate: Vec<S<String>>,
    /// `obligation` (default: someone must act before the end; expiry means
    /// missed) or `period` (a period that simply runs out, such as the
    /// Klagefrist: expiry means the notice became final).
    #[serde(default)]
    pub kind: Option<S<String>>,
    /// Transition fired automatically when the deadline expires.
    #[serde(default)]
    pub on_expiry: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub name: S<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub initial: bool,
    #[serde(default, rename = "final")]
    pub is_final: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTransition {
    pub name: S<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// One state name or a list of them.
    pub from: S<toml::Value>,
    /// The state it leads to; absent for an entry that leaves the case in
    /// its state (a Nachtrag such as the Ab-Vermerk, also in a final state).
    #[serde(default)]
    pub to: Option<S<String>>,
    pub roles: Vec<S<String>>,
    #[serde(default)]
    pub guards: Vec<S<RawGuard>>,
    #[serde(default)]
    pub requires: Vec<S<String>>,
    /// Further fields the step takes (optional ones), in form order after
    /// `requires`: a request may change only these and `requires`.
    #[serde(default)]
    pub fields: Vec<S<String>>,
    #[serde(default)]
    pub four_eyes: Vec<S<String>>,
    /// Fired by an upload in the portal (e.g. documents sent in answer to
    /// a Nachforderung).
    #[serde(default)]
    pub upload: bool,
    #[serde(default)]
    pub effects: Vec<S<RawEffect>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGuard {
    pub expr: S<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// An effect is written as an inline table with exactly one of the kind keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEffect {
    pub letter: Option<S<String>>,
    pub to: Option<S<String>>,
    pub deadline: Option<S<String>>,
    pub meet: Option<S<String>>,
    /// Lifts a running deadline that no longer applies.
    pub cancel: Option<S<String>>,
    pub number: Option<S<String>>,
    pub field: Option<S<String>>,
    /// For letters: a CEL map expression with the template's data.
    pub data: Option<S<String>>,
    /// A case field computed by `value` (a CEL expression).
    pub set: Option<S<String>>,
    pub value: Option<S<String>>,
    /// For letters: the letter is notified electronically by design (the
    /// mail is the notification), not by post with a copy by mail.
    pub electronic: Option<bool>,
    /// For letters: a CEL condition; the letter is issued only when it
    /// holds (e.g. an enclosure only for a circular that has one).
    pub when: Option<S<String>>,
    /// For letters: the enclosures (`[enclosures.*]`) issued with it.
    pub enclosures: Option<Vec<S<String>>>,
    /// Sends the case's latest letter from this template, with the
    /// documents issued with it, to each of `recipients` by mail (`data`:
    /// the mail's context).
    pub distribute: Option<S<String>>,
    /// For `distribute`: the distribution list, a table in a data file.
    pub recipients: Option<S<RawRecipients>>,
}

/// A distribution list: the entries of lists in a data file of the
/// workflow folder, e.g. the Landkreistag's members in `data/kommunen.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRecipients {
    pub file: S<String>,
    pub lists: Vec<S<String>>,
    /// Only the entries whose value under this key is `true`.
    #[serde(rename = "where", default)]
    pub only: Option<S<String>>,
}
