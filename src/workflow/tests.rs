//! Validation classes and state-machine decisions, each with a broken file
//! or a refused event.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::*;

const BASE: &str = r#"id = "antrag"
version = 1
title = "Antrag"
register = "AN"

[roles]
clerk = "Sachbearbeitung"
approver = "Zeichnung"

[parties]
applicant = { title = "Antragsteller", required = true }

[fields]
name = { type = "string", required = true }
posts = { type = "number" }
decision = { type = "enum", values = ["yes", "no"] }
notice_number = { type = "string" }

[registers.notice]
pattern = "B-{year}-{seq:03}"

[deadlines.documents]
title = "Nachreichung"
period = "4W"
by_post = true
reminders = ["7d", "1d"]
remind = ["applicant"]

[[states]]
name = "received"
initial = true

[[states]]
name = "review"

[[states]]
name = "approved"
final = true

[[transitions]]
name = "start_review"
from = "received"
to = "review"
roles = ["clerk"]
effects = [{ letter = "ack", to = "applicant" }, { deadline = "documents" }]

[[transitions]]
name = "propose"
from = "review"
to = "review"
roles = ["clerk"]
requires = ["decision"]
fields = ["posts"]

[[transitions]]
name = "approve"
from = ["review"]
to = "approved"
roles = ["approver"]
four_eyes = ["propose"]
requires = ["decision"]
fields = ["posts"]
guards = [
  { expr = "data.posts != null && data.posts <= 3.5", message = "at most 3.5 posts are funded" },
]
effects = [{ number = "notice", field = "notice_number" }]
"#;

fn templates() -> BTreeSet<String> {
    BTreeSet::from(["ack".to_string()])
}

fn load_text(text: &str) -> Result<Definition, Vec<Diagnostic>> {
    load(Path::new("workflows/antrag.toml"), text, &templates())
}

/// Loads BASE with one replacement and returns the single expected problem.
fn problem(from: &str, to: &str) -> Diagnostic {
    assert!(
        BASE.contains(from),
        "test replaces text that is not there: {from}"
    );
    let text = BASE.replacen(from, to, 1);
    let problems = load_text(&text).expect_err("the broken file must be refused");
    problems.into_iter().next().unwrap()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_base_workflow_is_valid() {
    let def = load_text(BASE).unwrap();
    assert_eq!(def.initial_state().name, "received");
    assert_eq!(def.transitions.len(), 3);
    assert_eq!(def.content_hash.len(), 64);
}

#[test]
fn who_can_act_is_who_holds_a_role_of_some_step() {
    let def = load_text(BASE).unwrap();
    assert!(def.can_act(["clerk"]));
    assert!(def.can_act(["referent", "approver"]));
    // No role of the workflow, only a party's, or the system's: nobody a
    // case could wait for.
    assert!(!def.can_act(["referent"]));
    assert!(!def.can_act(["applicant"]));
    assert!(!def.can_act([SYSTEM]));
    assert!(!def.can_act(Vec::<&str>::new()));
}

#[test]
fn a_toml_syntax_error_names_line_and_column() {
    let p = problem("title = \"Antrag\"", "title = \"Antrag");
    assert_eq!(p.line, 3);
    assert!(p.to_string().starts_with("workflows/antrag.toml:3:"), "{p}");
}

#[test]
fn an_unknown_key_is_refused_where_it_stands() {
    let p = problem("register = \"AN\"", "register = \"AN\"\nregistr = \"x\"");
    assert_eq!((p.line, p.column), (5, 1));
    assert!(p.message.contains("registr"), "{p}");
}

#[test]
fn a_missing_field_in_the_file_is_named() {
    let p = problem("title = \"Antrag\"\n", "");
    assert!(p.message.contains("title"), "{p}");
}

#[test]
fn an_unknown_state_in_to_is_refused_with_the_known_states() {
    let text = BASE.replacen("to = \"approved\"", "to = \"aproved\"", 1);
    let p = load_text(&text)
        .unwrap_err()
        .into_iter()
        .find(|p| p.message.contains("aproved"))
        .unwrap();
    assert_eq!(p.line, line_of(&text, "to = \"aproved\""));
    assert_eq!(p.column, 6);
    assert_eq!(p.message, "unknown state `aproved`");
    assert_eq!(
        p.hint.as_deref(),
        Some("declared states: approved, received, review")
    );
}

#[test]
fn an_unknown_state_in_from_is_refused() {
    let text = BASE.replacen("from = [\"review\"]", "from = [\"reviw\"]", 1);
    let problems = load_text(&text).unwrap_err();
    let p = problems
        .iter()
        .find(|p| p.message == "unknown state `reviw`")
        .unwrap();
    assert_eq!((p.line, p.column), (line_of(&text, "reviw"), 8));
}

#[test]
fn an_unreachable_state_is_refused() {
    let text = BASE.replacen(
        "[[states]]\nname = \"approved\"",
        "[[states]]\nname = \"orphan\"\nfinal = true\n\n[[states]]\nname = \"approved\"",
        1,
    );
    let problems = load_text(&text).unwrap_err();
    let p = &problems[0];
    assert!(p.message.contains("`orphan` cannot be reached"), "{p}");
    assert_eq!(p.line, line_of(&text, "name = \"orphan\""));
}

#[test]
fn a_non_final_dead_end_is_refused() {
    let text = BASE.replacen(
        "name = \"approved\"\nfinal = true",
        "name = \"approved\"",
        1,
    );
    let problems = load_text(&text).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("`approved` is a dead end")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p.message == "no final state"));
}

#[test]
fn a_duplicate_state_is_refused_at_the_second_one() {
    let text = BASE.replacen(
        "[[states]]\nname = \"review\"",
        "[[states]]\nname = \"review\"\n\n[[states]]\nname = \"review\"",
        1,
    );
    let p = load_text(&text).unwrap_err().remove(0);
    assert_eq!(p.message, "duplicate state `review`");
    assert_eq!(p.line, line_of(&text, "name = \"review\"") + 3);
}

#[test]
fn a_duplicate_transition_is_refused() {
    let p = problem("name = \"propose\"", "name = \"start_review\"");
    assert_eq!(p.message, "duplicate transition `start_review`");
    assert_eq!(p.line, line_of(BASE, "name = \"propose\""));
}

#[test]
fn a_guard_that_does_not_parse_is_refused_inside_the_expression() {
    let text = BASE.replacen("data.posts <= 3.5", "data.posts <=", 1);
    let p = load_text(&text).unwrap_err().remove(0);
    assert!(p.message.contains("expression does not parse"), "{p}");
    assert_eq!(p.line, line_of(&text, "data.posts <="));
}

#[test]
fn a_guard_naming_an_unknown_field_is_refused_at_the_field() {
    let text = BASE.replacen("data.posts <= 3.5", "data.postz <= 3.5", 1);
    let p = load_text(&text).unwrap_err().remove(0);
    assert!(p.message.contains("`data.postz`"), "{p}");
    let line = line_of(&text, "data.postz");
    assert_eq!(p.line, line);
    let col = text
        .lines()
        .nth(line - 1)
        .unwrap()
        .find("data.postz")
        .unwrap()
        + 1;
    assert_eq!(p.column, col);
}

#[test]
fn an_effect_naming_an_unknown_template_is_refused() {
    let p = problem("letter = \"ack\"", "letter = \"akc\"");
    assert_eq!(p.message, "unknown letter template `akc`");
    assert_eq!(p.hint.as_deref(), Some("templates/ has: ack"));
    let line = line_of(BASE, "letter = \"ack\"");
    assert_eq!(p.line, line);
}

#[test]
fn an_effect_naming_an_unknown_register_is_refused() {
    let p = problem("number = \"notice\"", "number = \"notise\"");
    assert_eq!(p.message, "unknown register `notise`");
    assert_eq!(p.hint.as_deref(), Some("declared registers: notice"));
}

#[test]
fn an_effect_naming_an_unknown_deadline_is_refused() {
    let p = problem("{ deadline = \"documents\" }", "{ deadline = \"docs\" }");
    assert_eq!(p.message, "unknown deadline `docs`");
}

#[test]
fn an_unknown_role_is_refused() {
    let p = problem("roles = [\"approver\"]", "roles = [\"boss\"]");
    assert_eq!(p.message, "unknown role `boss`");
    assert_eq!(p.hint.as_deref(), Some("declared roles: approver, clerk"));
}

#[test]
fn an_unknown_four_eyes_transition_is_refused() {
    let p = problem("four_eyes = [\"propose\"]", "four_eyes = [\"propse\"]");
    assert_eq!(p.message, "unknown transition `propse`");
}

#[test]
fn a_bad_period_and_a_bad_reminder_are_refused() {
    let p = problem("period = \"4W\"", "period = \"4X\"");
    assert!(p.message.contains("4X"), "{p}");
    let p = problem(
        "reminders = [\"7d\", \"1d\"]",
        "reminders = [\"7d\", \"1x\"]",
    );
    assert!(p.message.contains("1x"), "{p}");
}

#[test]
fn a_bad_register_pattern_is_refused() {
    let p = problem("B-{year}-{seq:03}", "B-{seq:03}");
    assert!(p.message.contains("{year}"), "{p}");
}

#[test]
fn zero_or_two_initial_states_are_refused() {
    let p = problem("name = \"received\"\ninitial = true", "name = \"received\"");
    assert_eq!(p.message, "no initial state");
    let p = problem("name = \"review\"\n", "name = \"review\"\ninitial = true\n");
    assert_eq!(p.message, "more than one initial state");
}

#[test]
fn a_final_state_with_exits_is_refused() {
    let p = problem(
        "from = \"review\"\nto = \"review\"",
        "from = \"approved\"\nto = \"review\"",
    );
    assert!(
        load_text(&BASE.replacen(
            "from = \"review\"\nto = \"review\"",
            "from = [\"review\", \"approved\"]\nto = \"review\"",
            1
        ))
        .unwrap_err()
        .iter()
        .any(|p| p
            .message
            .contains("final state `approved` has transitions leaving it"))
    );
    assert!(!p.message.is_empty());
}

#[test]
fn every_problem_of_a_file_is_reported_not_just_the_first() {
    let text = BASE
        .replacen("letter = \"ack\"", "letter = \"akc\"", 1)
        .replacen("roles = [\"approver\"]", "roles = [\"boss\"]", 1);
    assert_eq!(load_text(&text).unwrap_err().len(), 2);
}

// ---- the state machine ----

fn data(pairs: Value) -> Map<String, Value> {
    pairs.as_object().unwrap().clone()
}

struct Fire<'a> {
    state: &'a str,
    transition: &'a str,
    actor: &'a str,
    role: &'a str,
    data: Map<String, Value>,
    payload: Map<String, Value>,
    prior: BTreeMap<String, Vec<String>>,
}

impl<'a> Fire<'a> {
    fn new(state: &'a str, transition: &'a str, role: &'a str) -> Self {
        Fire {
            state,
            transition,
            actor: "bob",
            role,
            data: data(json!({"name": "Kreis Unna"})),
            payload: Map::new(),
            prior: BTreeMap::new(),
        }
    }

    fn run(&self, def: &Definition) -> Result<(String, Map<String, Value>), WorkflowError> {
        def.plan(&FireInput {
            state: self.state,
            transition: self.transition,
            actor: self.actor,
            role: self.role,
            data: &self.data,
            payload: &self.payload,
            taken: &Map::new(),
            prior_actors: &self.prior,
            today: NaiveDate::from_ymd_opt(2012, 3, 19).unwrap(),
            rates: &Map::new(),
        })
        .map(|p| (p.to.to_string(), p.data))
    }
}

fn def() -> Definition {
    load_text(BASE).unwrap()
}

#[test]
fn a_permitted_transition_moves_the_case_and_applies_the_payload() {
    let mut f = Fire::new("review", "approve", "approver");
    f.payload = data(json!({"decision": "yes", "posts": 3.5}));
    f.prior.insert("propose".into(), vec!["alice".into()]);
    let (to, d) = f.run(&def()).unwrap();
    assert_eq!(to, "approved");
    assert_eq!(d["decision"], "yes");
    assert_eq!(d["name"], "Kreis Unna");
}

#[test]
fn a_wrong_role_is_refused_with_the_allowed_roles() {
    let e = Fire::new("received", "start_review", "approver")
        .run(&def())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "In der Rolle „approver“ ist der Schritt „start_review“ nicht erlaubt; er ist der Rolle clerk vorbehalten."
    );
}

#[test]
fn a_failing_guard_gives_its_message() {
    let mut f = Fire::new("review", "approve", "approver");
    f.payload = data(json!({"decision": "yes", "posts": 4}));
    let e = f.run(&def()).unwrap_err();
    assert_eq!(e.to_string(), "at most 3.5 posts are funded");
}

#[test]
fn a_missing_required_field_is_named() {
    let e = Fire::new("review", "propose", "clerk")
        .run(&def())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Die Angabe „decision“ ist für den Schritt „propose“ erforderlich, aber leer."
    );
}

#[test]
fn the_four_eyes_rule_refuses_the_same_person() {
    let mut f = Fire::new("review", "approve", "approver");
    f.payload = data(json!({"decision": "yes", "posts": 2}));
    f.prior.insert("propose".into(), vec!["bob".into()]);
    let e = f.run(&def()).unwrap_err();
    assert!(matches!(e, WorkflowError::FourEyes { .. }));
    assert!(
        e.to_string()
            .contains("bob hat in diesem Vorgang „propose“ ausgeführt"),
        "{e}"
    );
}

#[test]
fn an_unknown_transition_lists_what_is_possible() {
    let e = Fire::new("received", "aprove", "clerk")
        .run(&def())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Das Verfahren „antrag“ kennt den Schritt „aprove“ nicht; jetzt möglich: start_review"
    );
}

#[test]
fn a_transition_from_another_state_is_refused() {
    let e = Fire::new("received", "approve", "approver")
        .run(&def())
        .unwrap_err();
    assert!(matches!(e, WorkflowError::WrongState { .. }), "{e}");
}

#[test]
fn a_closed_case_refuses_everything() {
    let e = Fire::new("approved", "propose", "clerk")
        .run(&def())
        .unwrap_err();
    assert!(matches!(e, WorkflowError::CaseClosed { .. }), "{e}");
}

#[test]
fn payload_values_are_type_checked_and_unknown_fields_refused() {
    let mut f = Fire::new("review", "propose", "clerk");
    f.payload = data(json!({"decision": "maybe"}));
    assert_eq!(
        f.run(&def()).unwrap_err().to_string(),
        "Die Angabe „decision“ ist ungültig: „maybe“ ist keiner der vorgesehenen Werte (yes, no)."
    );
    f.payload = data(json!({"posts": "two"}));
    assert_eq!(
        f.run(&def()).unwrap_err().to_string(),
        "Die Angabe „posts“ ist ungültig: erwartet wird eine Zahl, nicht der Text „two“."
    );
    f.payload = data(json!({"colour": "red"}));
    assert!(matches!(
        f.run(&def()).unwrap_err(),
        WorkflowError::UnknownField { .. }
    ));
}

#[test]
fn opening_checks_required_fields_and_parties() {
    let d = def();
    assert!(
        d.check_open(&mut data(json!({"name": "x"})), ["applicant"])
            .is_ok()
    );
    let e = d.check_open(&mut Map::new(), ["applicant"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Die Angabe „name“ ist beim Anlegen eines Vorgangs erforderlich, aber leer."
    );
    let e = d
        .check_open(&mut data(json!({"name": "x"})), std::iter::empty())
        .unwrap_err();
    assert!(matches!(e, WorkflowError::MissingParty { .. }));
    let e = d
        .check_open(&mut data(json!({"name": "x"})), ["applicant", "mayor"])
        .unwrap_err();
    assert!(matches!(e, WorkflowError::UnknownParty { .. }));
}

#[test]
fn field_types_accept_and_refuse_as_documented() {
    let k = |s: &str| -> FieldKind {
        let text = BASE.replacen(
            "posts = { type = \"number\" }",
            &format!("posts = {{ type = \"{s}\" }}"),
            1,
        );
        load_text(&text).unwrap().fields["posts"].kind.clone()
    };
    assert!(k("integer").check(&json!(2)).is_ok());
    assert!(k("integer").check(&json!(2.5)).is_err());
    assert!(k("date").check(&json!("2013-07-31")).is_ok());
    assert!(k("date").check(&json!("31.07.2013")).is_err());
    assert!(k("email").check(&json!("a@kreis-unna.example.org")).is_ok());
    assert!(k("email").check(&json!("kreis-unna")).is_err());
    assert!(k("list").check(&json!(["a", "b"])).is_ok());
    assert!(k("list").check(&json!([1])).is_err());
    assert!(k("boolean").check(&json!(true)).is_ok());
    assert!(k("object").check(&json!([{"a": 1}])).is_ok());
    assert!(k("string").check(&Value::Null).is_ok());
}

#[test]
fn graphs_name_every_edge() {
    let d = def();
    let dot = render_graph(&d, GraphFormat::Dot);
    assert!(
        dot.contains("\"review\" -> \"approved\" [label=\"approve\\n[approver]\"]"),
        "{dot}"
    );
    let mermaid = render_graph(&d, GraphFormat::Mermaid);
    assert!(mermaid.contains("[*] --> received"));
    assert!(mermaid.contains("approved --> [*]"));
}

#[test]
fn number_fields_mix_with_decimals_whatever_the_clerk_typed() {
    let text = BASE.replacen(
        "data.posts != null && data.posts <= 3.5",
        "data.posts != null && data.posts + 0.5 <= 4",
        1,
    );
    let d = load_text(&text).unwrap();
    let mut f = Fire::new("review", "approve", "approver");
    f.payload = data(json!({"decision": "yes", "posts": 3}));
    assert_eq!(f.run(&d).unwrap().0, "approved");
}

#[test]
fn a_problem_in_a_multi_line_letter_expression_points_at_its_line_and_column() {
    let text = BASE.replacen(
        "{ letter = \"ack\", to = \"applicant\" }",
        "{ letter = \"ack\", to = \"applicant\", data = \"\"\"\n  {\"x\": data.nmae}\"\"\" }",
        1,
    );
    let p = load_text(&text).unwrap_err().remove(0);
    let line = line_of(&text, "data.nmae");
    assert_eq!((p.line, p.column), (line, 9), "{p}");
    assert!(p.message.contains("`data.nmae`"), "{p}");
}

#[test]
fn a_set_effect_must_name_a_declared_field_and_a_valid_expression() {
    let p = problem(
        "effects = [{ number = \"notice\", field = \"notice_number\" }]",
        "effects = [{ set = \"postz\", value = \"rates.x * data.posts\" }]",
    );
    assert_eq!(p.message, "unknown field `postz`");
    let p = problem(
        "effects = [{ number = \"notice\", field = \"notice_number\" }]",
        "effects = [{ set = \"posts\", value = \"rates.x * data.pots\" }]",
    );
    assert!(
        p.message.starts_with("value of `posts`: `data.pots`"),
        "{p}"
    );
    assert!(
        load_text(&BASE.replacen(
            "effects = [{ number = \"notice\", field = \"notice_number\" }]",
            "effects = [{ set = \"posts\", value = \"rates.x * data.posts\" }]",
            1
        ))
        .is_ok()
    );
}

/// Issue 13: § 31 Abs. 3 Satz 2 VwVfG keeps a deadline's end on a weekend
/// only if the letter names the end day with that notice.
#[test]
fn a_deadline_that_does_not_move_may_not_be_printed_without_the_notice() {
    let printed = BASE
        .replacen(
            "by_post = true\nreminders",
            "by_post = true\nmoves = false\nreminders",
            1,
        )
        .replacen(
            "{ letter = \"ack\", to = \"applicant\" }, { deadline = \"documents\" }",
            "{ deadline = \"documents\" }, { letter = \"ack\", to = \"applicant\", data = \"{'until': deadlines.documents}\" }",
            1,
        );
    let p = load_text(&printed).unwrap_err().remove(0);
    let line = line_of(&printed, "moves = false");
    assert_eq!((p.line, p.column), (line, 9), "{p}");
    assert!(p.message.contains("`moves = false`"), "{p}");
    assert!(p.message.contains("§ 31 Abs. 3 Satz 2 VwVfG"), "{p}");
    assert!(p.message.contains("`ack`"), "{p}");
    assert!(
        p.hint
            .as_deref()
            .unwrap_or("")
            .contains("end_notice = true"),
        "{p}"
    );
    assert!(
        p.to_string()
            .starts_with(&format!("workflows/antrag.toml:{line}:9: ")),
        "{p}"
    );

    // With the notice declared, or when no letter prints the deadline, it is allowed.
    let declared = printed.replacen("moves = false", "moves = false\nend_notice = true", 1);
    let def = load_text(&declared).unwrap();
    assert!(!def.deadlines["documents"].moves);
    assert!(def.deadlines["documents"].end_notice);
    let unprinted = BASE.replacen(
        "by_post = true\nreminders",
        "by_post = true\nmoves = false\nreminders",
        1,
    );
    assert!(load_text(&unprinted).is_ok());
    // A deadline whose name merely starts like the printed one is not confused with it.
    let other = printed.replacen("deadlines.documents}", "deadlines.documents_x}", 1);
    assert!(load_text(&other).is_ok());
}

#[test]
fn a_court_deadline_is_declared_as_such() {
    let def =
        load_text(&BASE.replacen("by_post = true\n", "by_post = true\ncourt = true\n", 1)).unwrap();
    assert!(def.deadlines["documents"].court);
    assert!(!load_text(BASE).unwrap().deadlines["documents"].court);
}

/// The CEL strings extension: the year of a date field, a decimal comma.
#[test]
fn expressions_have_the_cel_strings_extension() {
    let text = BASE.replacen(
        "effects = [{ number = \"notice\", field = \"notice_number\" }]",
        "effects = [{ set = \"notice_number\", value = \"data.name.substring(0, 4) + string(1.5).replace('.', ',')\" }]",
        1,
    );
    assert!(load_text(&text).is_ok());
}

/// `[lookups]`: the data file, its lists and every entry's values are
/// checked by `workflow check`; on opening and firing, fixed fields are
/// taken from the entry and a different value is refused.
#[test]
fn a_lookup_takes_fields_from_a_data_file_and_refuses_other_values() {
    let lookup = "[lookups.seat]\nfile = \"data/places.json\"\nlists = [\"places\"]\nkey = \"name\"\nfield = \"name\"\nbasis = \"Sitz\"\nfixed = { notice_number = \"court\" }\ndefaults = { decision = \"usual\" }\n\n[registers.notice]";
    let text = BASE.replacen("[registers.notice]", lookup, 1);
    let data = |json: &str| DataFiles::from([("data/places.json".to_string(), json.to_string())]);
    let path = Path::new("workflows/antrag.toml");
    let good = data(
        r#"{"places": [{"name": "Unna", "court": "VG Gelsenkirchen", "usual": "yes"}, {"name": "Hagen", "court": "VG Arnsberg"}]}"#,
    );
    let def = load_with_data(path, &text, &templates(), &good).unwrap();

    let mut d: Map<String, Value> = serde_json::from_value(json!({"name": "Unna"})).unwrap();
    def.apply_lookups(&mut d).unwrap();
    assert_eq!(d["notice_number"], "VG Gelsenkirchen");
    assert_eq!(d["decision"], "yes");
    let mut d: Map<String, Value> = serde_json::from_value(
        json!({"name": "Unna", "notice_number": "VG Arnsberg", "decision": "no"}),
    )
    .unwrap();
    let err = def.apply_lookups(&mut d).unwrap_err();
    assert!(
        matches!(&err, WorkflowError::LookupMismatch { field, .. } if field == "notice_number"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("„VG Gelsenkirchen“, nicht „VG Arnsberg“ (Sitz)"),
        "{err}"
    );
    // A default does not overrule what was entered; an unlisted key changes nothing.
    let mut d: Map<String, Value> =
        serde_json::from_value(json!({"name": "Hagen", "decision": "no"})).unwrap();
    def.apply_lookups(&mut d).unwrap();
    assert_eq!(d["decision"], "no");
    let mut d: Map<String, Value> =
        serde_json::from_value(json!({"name": "Köln", "notice_number": "x"})).unwrap();
    def.apply_lookups(&mut d).unwrap();
    assert_eq!(d["notice_number"], "x");

    let first = |data: &DataFiles| {
        load_with_data(path, &text, &templates(), data).expect_err("refused")[0]
            .message
            .clone()
    };
    assert!(first(&DataFiles::new()).contains("no data file `data/places.json`"));
    assert!(first(&data(r#"{"orte": []}"#)).contains("has no list `places`"));
    assert!(
        first(&data(r#"{"places": [{"name": "Unna"}]}"#))
            .contains("`court` of `Unna` does not fit field `notice_number`: it has no value")
    );
    assert!(
        first(&data(
            r#"{"places": [{"name": "Unna", "court": "x", "usual": "maybe"}]}"#
        ))
        .contains("does not fit field `decision`")
    );
    assert!(
        first(&data(
            r#"{"places": [{"name": "Unna", "court": "x"}, {"name": "Unna", "court": "y"}]}"#
        ))
        .contains("listed twice")
    );
    let unknown = text.replacen("fixed = { notice_number", "fixed = { nummer", 1);
    let p = load_with_data(path, &unknown, &templates(), &good).unwrap_err();
    assert!(p[0].message.contains("unknown field `nummer`"), "{}", p[0]);
}

/// `distribute`: a letter the workflow issues, to the selected entries of
/// a data file, each with a mail address; every fault located.
#[test]
fn a_distribution_names_an_issued_letter_and_a_list_of_mail_addresses() {
    let effect = r#"effects = [{ number = "notice", field = "notice_number" }, { distribute = "ack", recipients = { file = "data/members.json", lists = ["members"], where = "member" }, data = "{'circular': {'title': data.name}}" }]"#;
    let text = BASE.replacen(
        r#"effects = [{ number = "notice", field = "notice_number" }]"#,
        effect,
        1,
    );
    let data = |json: &str| DataFiles::from([("data/members.json".to_string(), json.to_string())]);
    let path = Path::new("workflows/antrag.toml");
    let good = data(
        r#"{"members": [{"name": "Kreis Unna", "email": "post@unna.example.org", "member": true, "extra": 1}, {"name": "Stadt Hamm", "member": false}]}"#,
    );
    let def = load_with_data(path, &text, &templates(), &good).unwrap();
    let Effect::Distribute {
        template,
        list,
        recipients,
        data: Some(_),
    } = &def.transition("approve").unwrap().effects[1]
    else {
        panic!("a distribute effect with its mail data");
    };
    assert_eq!(template, "ack");
    assert_eq!(recipients.len(), 1, "only the entries `where` selects");
    assert_eq!(recipients[0].name, "Kreis Unna");
    // The definition, as the API shows it, names the list, not the addresses.
    assert_eq!(list, "data/members.json: members where member");
    let shown = serde_json::to_string(&def).unwrap();
    assert!(
        shown.contains("data/members.json: members where member") && !shown.contains("post@unna"),
        "{shown}"
    );

    let first = |text: &str, data: &DataFiles| {
        load_with_data(path, text, &templates(), data).expect_err("refused")[0].clone()
    };
    // A letter no step issues cannot be distributed; the problem points at it.
    let p = first(
        &text.replacen("distribute = \"ack\"", "distribute = \"bescheid\"", 1),
        &good,
    );
    assert!(
        p.message
            .contains("no transition issues the letter `bescheid`"),
        "{p}"
    );
    assert_eq!(p.line, line_of(&text, "distribute"));
    assert!(
        first(&text, &DataFiles::new())
            .message
            .contains("recipients: no data file `data/members.json`")
    );
    assert!(
        first(&text, &data(r#"{"mitglieder": []}"#))
            .message
            .contains("has no list `members`")
    );
    let p = first(
        &text,
        &data(r#"{"members": [{"name": "Kreis Unna", "member": true}]}"#),
    );
    assert!(p.message.contains("`Kreis Unna` has no `email`"), "{p}");
    let p = first(
        &text,
        &data(r#"{"members": [{"name": "Kreis Unna", "email": "kein-mail", "member": true}]}"#),
    );
    assert!(p.message.contains("is not a recipient"), "{p}");
    assert!(
        first(&text, &data(r#"{"members": [{"name": "Stadt Hamm"}]}"#))
            .message
            .contains("selects nobody")
    );
    let p = first(
        &text.replacen("title': data.name", "title': data.nope", 1),
        &good,
    );
    assert!(p.message.starts_with("mail data for `ack`"), "{p}");
    let p = first(
        &text.replacen(
            "{ distribute = \"ack\",",
            "{ distribute = \"ack\", to = \"applicant\",",
            1,
        ),
        &good,
    );
    assert!(p.message.contains("not `to`"), "{p}");
}

/// `posted` and `acknowledged` name date fields.
#[test]
fn a_deadline_runs_from_date_fields_that_are_declared() {
    let text = BASE
        .replacen("posts = { type = \"number\" }", "posts = { type = \"number\" }\nposted_on = { type = \"date\" }\nreceipt = { type = \"date\" }", 1)
        .replacen("by_post = true\n", "by_post = true\nposted = \"posted_on\"\nacknowledged = \"receipt\"\n", 1);
    let def = load_text(&text).unwrap();
    assert_eq!(
        def.deadlines["documents"].posted.as_deref(),
        Some("posted_on")
    );
    assert_eq!(
        def.deadlines["documents"].acknowledged.as_deref(),
        Some("receipt")
    );
    let p = problem("by_post = true\n", "by_post = true\nposted = \"posts\"\n");
    assert!(p.message.contains("`posts` must be a date field"), "{p}");
    let p = problem(
        "by_post = true\n",
        "by_post = true\nacknowledged = \"eb\"\n",
    );
    assert!(p.message.contains("unknown field `eb`"), "{p}");
}

/// An entry without `to` keeps the case in its state, also in a final one;
/// a transition that leaves a final state stays refused.
#[test]
fn an_entry_without_to_may_start_in_a_final_state() {
    let entry = "\n[[transitions]]\nname = \"note\"\nfrom = [\"review\", \"approved\"]\nroles = [\"clerk\"]\n";
    let def = load_text(&format!("{BASE}{entry}")).unwrap();
    assert_eq!(def.transition("note").unwrap().to, None);
    let leaving = "\n[[transitions]]\nname = \"reopen\"\nfrom = \"approved\"\nto = \"review\"\nroles = [\"clerk\"]\n";
    let p = load_text(&format!("{BASE}{leaving}")).unwrap_err();
    assert!(
        p.iter().any(|d| d
            .message
            .contains("final state `approved` has transitions leaving it")),
        "{p:?}"
    );
}

/// `electronic` and `when` belong to letter effects.
#[test]
fn a_letter_may_be_electronic_and_conditional() {
    let text = BASE.replacen(
        "{ letter = \"ack\", to = \"applicant\" }",
        "{ letter = \"ack\", to = \"applicant\", electronic = true, when = \"data.posts != null\" }",
        1,
    );
    let def = load_text(&text).unwrap();
    let t = def.transition("start_review").unwrap();
    assert!(matches!(
        &t.effects[0],
        Effect::Letter {
            electronic: true,
            when: Some(_),
            ..
        }
    ));
    let p = problem(
        "{ deadline = \"documents\" }",
        "{ deadline = \"documents\", when = \"true\" }",
    );
    assert!(
        p.message
            .contains("`electronic`, `when` and `enclosures` belong to a letter effect"),
        "{p}"
    );
    let p = problem(
        "{ letter = \"ack\", to = \"applicant\" }",
        "{ letter = \"ack\", to = \"applicant\", when = \"nope.x\" }",
    );
    assert!(p.message.starts_with("condition for `ack`"), "{p}");
}

// ---- the portal: online forms, uploads, notification by retrieval ----

const STATES: &str = "[[states]]\nname = \"received\"";

fn with_section(section: &str) -> String {
    BASE.replacen(STATES, &format!("{section}\n\n{STATES}"), 1)
}

#[test]
fn an_online_form_names_its_party_and_fields() {
    let text = with_section(
        "[forms.antrag]\ntitle = \"Antrag\"\nparty = \"applicant\"\nparty_field = \"name\"\nfields = [\"posts\", \"decision\"]",
    );
    let def = load_text(&text).unwrap();
    let f = &def.forms["antrag"];
    assert_eq!(f.party, "applicant");
    assert_eq!(f.fields, ["posts", "decision"]);
    assert_eq!(f.party_field.as_deref(), Some("name"));
}

#[test]
fn a_form_with_an_unknown_field_is_refused_at_the_field() {
    let text = with_section(
        "[forms.antrag]\ntitle = \"Antrag\"\nparty = \"applicant\"\nfields = [\"posts\", \"pots\"]",
    );
    let p = load_text(&text).unwrap_err().remove(0);
    assert!(p.message.contains("unknown field `pots`"), "{p}");
    assert_eq!(p.line, line_of(&text, "\"pots\""));
}

#[test]
fn a_form_for_an_unknown_party_or_with_a_received_field_that_is_no_date_is_refused() {
    let text = with_section(
        "[forms.antrag]\ntitle = \"Antrag\"\nparty = \"mitglied\"\nfields = [\"posts\"]",
    );
    let p = load_text(&text).unwrap_err().remove(0);
    assert!(p.message.contains("unknown party `mitglied`"), "{p}");
    let text = with_section(
        "[forms.antrag]\ntitle = \"Antrag\"\nparty = \"applicant\"\nfields = [\"posts\"]\nreceived = \"name\"",
    );
    let p = load_text(&text).unwrap_err().remove(0);
    assert!(p.message.contains("must name a date field"), "{p}");
}

#[test]
fn a_form_whose_then_is_not_a_system_step_from_the_start_is_refused() {
    let text = with_section(
        "[forms.antrag]\ntitle = \"Antrag\"\nparty = \"applicant\"\nfields = [\"posts\"]\nthen = \"start_review\"",
    );
    let p = load_text(&text).unwrap_err().remove(0);
    assert!(
        p.message
            .contains("`then` must be a transition from the initial state"),
        "{p}"
    );
}

#[test]
fn an_upload_transition_must_be_a_partys_and_one_per_state() {
    let p = problem(
        "name = \"start_review\"\nfrom = \"received\"",
        "name = \"start_review\"\nupload = true\nfrom = \"received\"",
    );
    assert!(
        p.message.contains("one of its roles must be a party"),
        "{p}"
    );
    let text = BASE.replacen(
        "roles = [\"clerk\"]\nrequires = [\"decision\"]",
        "roles = [\"clerk\", \"applicant\"]\nupload = true\nrequires = [\"decision\"]",
        1,
    ) + "\n[[transitions]]\nname = \"more\"\nfrom = \"review\"\nroles = [\"applicant\"]\nupload = true\n";
    let problems = load_text(&text).unwrap_err();
    assert!(
        problems.iter().any(|p| p
            .message
            .contains("already has the upload transition `propose`")),
        "{problems:?}"
    );
}

#[test]
fn retrieval_steps_must_be_the_systems_alone() {
    let text = with_section(
        "[retrieval]\nletters = [\"ack\"]\nprovided = \"name\"\nretrieved = \"name\"\nposted = \"name\"\ndeadlines = [\"documents\"]\non_retrieval = \"propose\"\non_expiry = \"propose\"",
    );
    let problems = load_text(&text).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("must be a date field")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("only the role `system` may fire")),
        "{problems:?}"
    );
}

/// A workflow with amounts, a computed field and a freeze, for the trust rules.
const TRUST: &str = r#"id = "zuwendung"
version = 1
title = "Zuwendung"
register = "ZW"

[roles]
clerk = "Sachbearbeitung"
approver = "Zeichnung"

[parties]
applicant = { title = "Antragsteller", required = true }

[fields]
name = { type = "string", required = true }
ausgaben = { type = "money" }
posts = { type = "number" }
betrag = { type = "money" }
notice_number = { type = "string" }
posted = { type = "date" }
neuer_betrag = { type = "money" }

[registers.notice]
pattern = "B-{year}-{seq:03}"

[freeze.bescheid]
states = ["approved"]
fields = ["ausgaben", "betrag", "notice_number"]
corrections = ["amend"]

[[states]]
name = "review"
initial = true

[[states]]
name = "approved"
final = true

[[transitions]]
name = "approve"
from = "review"
to = "approved"
roles = ["approver"]
fields = ["ausgaben", "posts"]
effects = [
  { number = "notice", field = "notice_number" },
  { set = "betrag", value = "money_times(data.ausgaben, data.posts)" },
  { set = "posted", value = "today" },
]

[[transitions]]
name = "post"
from = "approved"
roles = ["clerk"]
requires = ["posted"]

[[transitions]]
name = "amend"
from = "approved"
roles = ["approver"]
requires = ["neuer_betrag"]
effects = [{ set = "betrag", value = "data.neuer_betrag" }]
"#;

fn trust() -> Definition {
    load_text(TRUST).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn amounts_are_stored_exactly_and_computed_in_cents() {
    let d = trust();
    let mut f = Fire::new("review", "approve", "approver");
    f.payload = data(json!({"ausgaben": "118450.00", "posts": 0.5}));
    let (_, out) = f.run(&d).unwrap();
    assert_eq!(out["ausgaben"], "118450.00");
    // An exact JSON number is taken and stored as the decimal string.
    f.payload = data(json!({"ausgaben": 54300.5, "posts": 2}));
    assert_eq!(f.run(&d).unwrap().1["ausgaben"], "54300.50");
    // More than two decimals, or a float that is not such a number, is refused.
    for bad in [json!(1.005), json!(0.1 + 0.2), json!("118.450,00")] {
        f.payload = data(json!({"ausgaben": bad, "posts": 1}));
        let e = f.run(&d).unwrap_err();
        assert_eq!(e.field(), Some("ausgaben"), "{e}");
    }
    // CEL sees whole cents.
    let vars = d.expression_data(&data(json!({"ausgaben": "54300.50"})));
    assert_eq!(vars["ausgaben"], 5_430_050);
    // A `set` into an amount takes whole cents or euro(...), never a float.
    let money = FieldKind::Money;
    assert_eq!(
        money.from_expression(json!(5_430_050)).unwrap(),
        json!("54300.50")
    );
    assert_eq!(
        money.from_expression(json!("54300.50")).unwrap(),
        json!("54300.50")
    );
    assert!(money.from_expression(json!(54300.5)).is_err());
}

#[test]
fn a_step_takes_only_its_fields_and_never_a_computed_one() {
    let d = trust();
    let mut f = Fire::new("review", "approve", "approver");
    f.payload = data(json!({"ausgaben": "1.00", "name": "Anders"}));
    let e = f.run(&d).unwrap_err();
    assert!(
        matches!(e, WorkflowError::NotAStepField { ref field, .. } if field == "name"),
        "{e}"
    );
    assert!(e.to_string().contains("gehört nicht zum Schritt"), "{e}");
    f.payload = data(json!({"betrag": "1.00"}));
    assert!(matches!(
        f.run(&d).unwrap_err(),
        WorkflowError::ComputedField { .. }
    ));
    f.payload = data(json!({"notice_number": "FAKE-1"}));
    assert!(matches!(
        f.run(&d).unwrap_err(),
        WorkflowError::ComputedField { .. }
    ));
    // A value a `set` only presets is the input of the step that corrects it.
    assert!(!d.computed("posted"));
    assert!(d.computed("betrag") && d.computed("notice_number"));
    // Opening a case cannot give computed fields either.
    let e = d
        .check_open(
            &mut data(json!({"name": "x", "betrag": "5.00"})),
            ["applicant"],
        )
        .unwrap_err();
    assert!(matches!(e, WorkflowError::ComputedField { .. }), "{e}");
}

#[test]
fn a_frozen_field_changes_only_by_its_correction_step() {
    let d = trust();
    let mut f = Fire::new("approved", "amend", "approver");
    f.data = data(json!({"name": "x", "betrag": "100.00"}));
    f.payload = data(json!({"neuer_betrag": "90.00"}));
    assert!(f.run(&d).is_ok());
    // A step that could write a frozen field without being its correction
    // does not pass `workflow check`, located at the freeze.
    let broken = TRUST.replace(
        "requires = [\"posted\"]",
        "requires = [\"posted\"]\nfields = [\"ausgaben\"]",
    );
    let problems = load_text(&broken).unwrap_err();
    let text = format!("{problems:?}");
    assert!(text.contains("`post` writes `ausgaben`"), "{text}");
    // Writing it by an effect is refused the same way.
    let broken = TRUST.replace(
        "requires = [\"posted\"]",
        "requires = [\"posted\"]\neffects = [{ set = \"betrag\", value = \"0\" }]",
    );
    let text = format!("{:?}", load_text(&broken).unwrap_err());
    assert!(text.contains("`post` writes `betrag`"), "{text}");
    // A number from a register is never a step's input.
    let broken = TRUST.replace(
        "requires = [\"posted\"]",
        "requires = [\"posted\", \"notice_number\"]",
    );
    let text = format!("{:?}", load_text(&broken).unwrap_err());
    assert!(text.contains("allocates"), "{text}");
}

#[test]
fn the_options_say_who_may_do_what_and_why_not() {
    let d = def();
    let rates = Map::new();
    let mut prior = BTreeMap::new();
    prior.insert("propose".to_string(), vec!["bob".to_string()]);
    let case = data(json!({"name": "x", "posts": 2, "decision": "yes"}));
    let ask = |actor: &'static str, roles: &'static [&'static str]| {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        d.options(&AskInput {
            state: "review",
            actor,
            roles: &roles,
            data: &case,
            prior_actors: &prior,
            today: NaiveDate::from_ymd_opt(2012, 3, 19).unwrap(),
            rates: &rates,
        })
    };
    let bob = ask("bob", &["clerk", "approver"]);
    let approve = bob.iter().find(|o| o.transition == "approve").unwrap();
    assert!(!approve.allowed);
    assert_eq!(approve.rule.as_deref(), Some("four_eyes"));
    assert!(
        approve
            .reason
            .as_ref()
            .unwrap()
            .starts_with("Vier-Augen-Prinzip")
    );
    assert_eq!(approve.fields[0].name, "decision");
    assert!(approve.fields[0].required);
    assert_eq!(approve.fields[1].name, "posts");
    assert_eq!(approve.fields[1].value, json!(2));
    let alice = ask("alice", &["approver"]);
    assert!(
        alice
            .iter()
            .find(|o| o.transition == "approve")
            .unwrap()
            .allowed
    );
    let propose = alice.iter().find(|o| o.transition == "propose").unwrap();
    assert_eq!(propose.rule.as_deref(), Some("role"));
    assert_eq!(
        propose.reason.as_deref(),
        Some("Diesen Schritt darf nur „Sachbearbeitung“ ausführen.")
    );
    // A guard on fields the step takes is decided when it fires, not here.
    let many = data(json!({"name": "x", "posts": 9}));
    let opts = d.options(&AskInput {
        state: "review",
        actor: "alice",
        roles: &["approver".to_string()],
        data: &many,
        prior_actors: &BTreeMap::new(),
        today: NaiveDate::from_ymd_opt(2012, 3, 19).unwrap(),
        rates: &rates,
    });
    assert!(
        opts.iter()
            .find(|o| o.transition == "approve")
            .unwrap()
            .allowed
    );
}

#[test]
fn a_guard_on_what_the_step_does_not_take_is_decided_in_the_options() {
    let text = BASE.replace("fields = [\"posts\"]\nguards = [", "guards = [");
    let d = load_text(&text).unwrap();
    let case = data(json!({"name": "x", "posts": 9}));
    let opts = d.options(&AskInput {
        state: "review",
        actor: "alice",
        roles: &["approver".to_string()],
        data: &case,
        prior_actors: &BTreeMap::new(),
        today: NaiveDate::from_ymd_opt(2012, 3, 19).unwrap(),
        rates: &Map::new(),
    });
    let approve = opts.iter().find(|o| o.transition == "approve").unwrap();
    assert!(!approve.allowed);
    assert_eq!(approve.rule.as_deref(), Some("guard"));
    assert_eq!(
        approve.reason.as_deref(),
        Some("at most 3.5 posts are funded")
    );
    assert_eq!(approve.field.as_deref(), Some("posts"));
}

#[test]
fn values_are_bounded_and_control_or_bidi_characters_refused_at_the_field() {
    let d = def();
    let limits = Limits {
        line_bytes: 10,
        text_bytes: 20,
        list_items: 2,
        list_item_bytes: 5,
        object_bytes: 50,
        ..Limits::default()
    };
    let check = |v: Value| d.check_limits(&data(v), &limits);
    assert!(check(json!({"name": "Kreis Unna"})).is_ok());
    let e = check(json!({"name": "Kreis Unna!!"})).unwrap_err();
    assert!(
        matches!(e, WorkflowError::TooLarge { ref field, .. } if field == "name"),
        "{e}"
    );
    assert_eq!(e.field(), Some("name"));
    assert!(e.to_string().contains("höchstens 10 Zeichen"), "{e}");
    for bad in ["a\u{0}b", "a\u{1b}[3", "R\u{202e}fdp", "x\ny"] {
        let e = check(json!({ "name": bad })).unwrap_err();
        assert!(
            matches!(e, WorkflowError::InvalidField { ref field, .. } if field == "name"),
            "{bad:?}: {e}"
        );
    }
    let big = default_limits_text();
    assert!(
        d.check_limits(&data(json!({"name": big})), &Limits::default())
            .is_err()
    );
}

/// A value as large as the one that took the server to 1.29 GB (1.9 MB).
fn default_limits_text() -> String {
    "x".repeat(1_900_000)
}

#[test]
fn an_account_and_its_bookings_name_money_fields_links_and_states_and_exports_compile() {
    let with = |extra: &str| {
        BASE.replacen(
            "notice_number = { type = \"string\" }",
            &format!(
                "notice_number = {{ type = \"string\" }}\ngrant = {{ type = \"money\" }}\nline_a = {{ type = \"money\" }}\nasked = {{ type = \"money\" }}\ngrant_nr = {{ type = \"string\" }}\npaid_on = {{ type = \"date\" }}\n\n[links.grant]\nworkflow = \"other\"\nfield = \"grant_nr\"\naccount = {{ asked = \"available.a\" }}\n{extra}"
            ),
            1,
        )
    };
    let ok = with(
        "[account]\ntitle = \"Mittel\"\ntotal = \"grant\"\nlines = [{ name = \"a\", title = \"A\", approved = \"line_a\" }]\n\n[bookings]\nlink = \"grant\"\namounts = { a = \"asked\" }\ncalled = [\"review\", \"approved\"]\npaid = [\"approved\"]\n\n[exports.kasse]\ntitle = \"Kasse\"\ndate = \"paid_on\"\nstates = [\"approved\"]\ncolumns = [{ title = \"Betrag\", value = \"euro(data.asked)\" }]\n",
    );
    let def = load_text(&ok).unwrap();
    assert_eq!(def.account.as_ref().unwrap().lines[0].approved, "line_a");
    assert_eq!(def.bookings.as_ref().unwrap().paid, ["approved"]);
    assert_eq!(def.links[0].account["asked"], "available.a");
    assert_eq!(def.exports["kasse"].columns[0].title, "Betrag");

    for (from, to, says) in [
        (
            "total = \"grant\"",
            "total = \"grant_nr\"",
            "`grant_nr` must be a money field",
        ),
        (
            "link = \"grant\"",
            "link = \"kasse\"",
            "bookings name no link `kasse`",
        ),
        (
            "paid = [\"approved\"]",
            "paid = [\"closed\"]",
            "unknown state `closed`",
        ),
        (
            "called = [\"review\", \"approved\"]",
            "called = [\"review\"]",
            "counts as paid but not as called",
        ),
        (
            "asked = \"available.a\"",
            "asked = \"owed.a\"",
            "`owed.a` is no figure of an account",
        ),
        (
            "value = \"euro(data.asked)\"",
            "value = \"data.nope\"",
            "column „Betrag“",
        ),
        (
            "date = \"paid_on\"",
            "date = \"grant\"",
            "must be a date field",
        ),
    ] {
        assert!(ok.contains(from), "{from}");
        let broken = ok.replacen(from, to, 1);
        let problems = load_text(&broken).expect_err(says);
        let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(all.iter().any(|p| p.contains(says)), "{says}: {all:?}");
        assert!(
            all.iter().all(|p| p.starts_with("workflows/antrag.toml:")),
            "{all:?}"
        );
    }
}

#[test]
fn open_guards_refuse_a_new_case_naming_the_field_the_requester_gives() {
    let text = BASE.replacen(
        "register = \"AN\"\n",
        "register = \"AN\"\nopen_guards = [{ expr = \"data.posts != null && data.posts <= 3.5\", message = \"höchstens 3,5 Stellen\" }]\n",
        1,
    );
    let def = load_text(&text).unwrap();
    let data: Map<String, Value> = json!({"name": "x", "posts": 4.0})
        .as_object()
        .unwrap()
        .clone();
    let today = NaiveDate::from_ymd_opt(2013, 1, 2).unwrap();
    match def.check_open_guards(&data, "unna", "applicant", today, &Map::new()) {
        Err(WorkflowError::GuardFailed { field, message, .. }) => {
            assert_eq!(field.as_deref(), Some("posts"));
            assert_eq!(message, "höchstens 3,5 Stellen");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let fine: Map<String, Value> = json!({"name": "x", "posts": 2.0})
        .as_object()
        .unwrap()
        .clone();
    def.check_open_guards(&fine, "unna", "applicant", today, &Map::new())
        .unwrap();
}

#[test]
fn interest_of_section_49a_is_a_workflow_function_in_cents() {
    let fields = BTreeMap::new();
    let vars = super::guard::GuardVars::new(&fields);
    let e = super::guard::DataExpr::compile(
        "zinsen_49a(1000000, '2013-01-01', '2014-07-15', 5)",
        &vars,
    )
    .unwrap_or_else(|p| panic!("{}", p.message));
    // 241,50 + 232,90 + 216,70 + 17,55 (Python decimal, by hand).
    assert_eq!(e.eval_any(&Map::new()).unwrap(), json!(70865));
    let e = super::guard::DataExpr::compile("betrag(17000000)", &vars)
        .unwrap_or_else(|p| panic!("{}", p.message));
    assert_eq!(e.eval_any(&Map::new()).unwrap(), json!("170.000,00"));
}

#[test]
fn a_link_start_names_a_party_of_its_own_workflow() {
    let link = r#"
[links.grant]
workflow = "grant"
field = "name"

[links.grant.start]
after = "period_end"
states = ["granted"]
parties = { applicant = "applicant" }
"#;
    let text = BASE.replacen(
        "[registers.notice]",
        &format!("{link}\n[registers.notice]"),
        1,
    );
    let def = load_text(&text).unwrap();
    let start = def.links[0].start.as_ref().expect("a start");
    assert_eq!(start.after, "period_end");
    assert_eq!(start.states, ["granted"]);
    assert_eq!(start.parties["applicant"], "applicant");

    let wrong = text.replacen("parties = { applicant", "parties = { recipient", 1);
    let problems = load_text(&wrong).expect_err("an unknown party here");
    assert!(
        problems[0].message.contains("no party `recipient` here"),
        "{:?}",
        problems[0]
    );
    assert_eq!(problems[0].line, line_of(&wrong, "parties = { recipient"));
    let unknown = text.replacen("after = ", "later = ", 1);
    let problems = load_text(&unknown).expect_err("an unknown key");
    assert!(problems[0].message.contains("later"), "{:?}", problems[0]);
}
