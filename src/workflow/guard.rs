//! Guards: conditions on a transition, written in CEL (the Common Expression
//! Language, via the `cel` crate) so that authors get a real, documented
//! language instead of a home-made one.
//!
//! A guard sees `data` (the case data with the event's payload applied, every
//! declared field present, absent ones as `null`), `payload` (the event's own
//! fields), `actor`, `role`, `state` and `today` (`"YYYY-MM-DD"`, Berlin time).
//!
//! Expressions have the CEL standard library and the CEL strings extension
//! (`substring`, `replace`, `split`, `join`, `format`, …), so that a
//! workflow can, for instance, take the year of a date field
//! (`data.von.substring(0, 4)`) or print a German decimal comma.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr};
use cel::common::types::{CelDouble, CelInt, CelString};
use cel::parser::Expression;
use cel::{Context, Env, Program, Value, extensions};
use serde::Serialize;

use super::definition::Field;
use crate::money::Money;

/// The CEL environment: the standard library, the strings extension and
/// the two money functions (amounts are whole cents in expressions):
/// - `money_times(amount, factor)`: an amount times a number (e.g. posts),
///   exact, rounded half up to the cent;
/// - `euro(amount)`: the amount as the decimal string a letter prints
///   (`19028050` → `"190280.50"`);
/// - `betrag(amount)`: the amount in German notation for running text
///   (`17000000` → `"170.000,00"`), where no template formats it;
/// - `zinsen_49a(amount, from, to, points)`: the interest of § 49a Abs. 3
///   VwVfG on `amount` from `from` to `to` (dates, both counted) at
///   `points` percentage points above the Basiszinssatz, in cents, by
///   [`crate::interest`] on the built-in table (`basiszinssatz.json`).
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    env.add_extension(extensions::strings)
        .expect("the CEL strings extension registers");
    cel::add_overload!(env, fn money_times_double: (CelInt, CelDouble) -> Result<CelInt>, name = "money_times")
        .expect("money_times(int, double) registers");
    cel::add_overload!(env, fn money_times_int: (CelInt, CelInt) -> Result<CelInt>, name = "money_times")
        .expect("money_times(int, int) registers");
    cel::add_overload!(env, fn euro: (CelInt) -> Result<CelString>).expect("euro(int) registers");
    cel::add_overload!(env, fn betrag: (CelInt) -> Result<CelString>)
        .expect("betrag(int) registers");
    cel::add_overload!(env, fn zinsen_49a: (CelInt, CelString, CelString, CelInt) -> Result<CelInt>, name = "zinsen_49a")
        .expect("zinsen_49a registers");
    Arc::new(env)
});

fn money_fault(function: &str, e: impl fmt::Display) -> cel::ExecutionError {
    cel::ExecutionError::function_error(function, e.to_string())
}

fn money_times(cents: i64, factor: rust_decimal::Decimal) -> Result<CelInt, cel::ExecutionError> {
    let amount = Money::from_cents(cents).map_err(|e| money_fault("money_times", e))?;
    let product = amount
        .times(factor)
        .map_err(|e| money_fault("money_times", e))?;
    Ok(CelInt::from(product.cents()))
}

fn money_times_double(cents: &CelInt, factor: &CelDouble) -> Result<CelInt, cel::ExecutionError> {
    let f = crate::money::factor_of_f64(*factor.inner())
        .ok_or_else(|| money_fault("money_times", "the factor is not a finite number"))?;
    money_times(*cents.inner(), f)
}

fn money_times_int(cents: &CelInt, factor: &CelInt) -> Result<CelInt, cel::ExecutionError> {
    money_times(*cents.inner(), rust_decimal::Decimal::from(*factor.inner()))
}

/// The Basiszinssatz table built into the binary, read once.
static RATES: LazyLock<Result<crate::interest::RateTable, String>> =
    LazyLock::new(|| crate::interest::RateTable::built_in().map_err(|e| e.to_string()));

fn zinsen_49a(
    cents: &CelInt,
    from: &CelString<'_>,
    to: &CelString<'_>,
    points: &CelInt,
) -> Result<CelInt, cel::ExecutionError> {
    let fault = |e: String| money_fault("zinsen_49a", e);
    let day = |s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| fault(format!("„{s}“ ist kein Datum JJJJ-MM-TT")))
    };
    let table = RATES.as_ref().map_err(|e| fault(e.clone()))?;
    let amount = Money::from_cents(*cents.inner()).map_err(|e| fault(e.to_string()))?;
    let interest = crate::interest::compute(
        table,
        amount,
        day(from.inner())?,
        day(to.inner())?,
        rust_decimal::Decimal::from(*points.inner()),
    )
    .map_err(|e| fault(e.to_string()))?;
    Ok(CelInt::from(interest.total.cents()))
}

fn betrag(cents: &CelInt) -> Result<CelString<'static>, cel::ExecutionError> {
    let amount = Money::from_cents(*cents.inner()).map_err(|e| money_fault("betrag", e))?;
    Ok(CelString::from(amount.german()))
}

fn euro(cents: &CelInt) -> Result<CelString<'static>, cel::ExecutionError> {
    let amount = Money::from_cents(*cents.inner()).map_err(|e| money_fault("euro", e))?;
    Ok(CelString::from(amount.to_string()))
}

/// A context that knows the functions of [`ENV`].
fn context() -> Context<'static, 'static> {
    Context::with_env(ENV.clone())
}

/// A JSON value as CEL sees it. Whole numbers are CEL `int`s (as CEL's
/// own literals are), also when positive: going through serde would make
/// them `uint`, and `uint + int` has no overload, so that a sum of cents
/// and a literal `0` would fail.
fn cel_value(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(Arc::new(s.clone())),
        J::Array(items) => Value::List(Arc::new(items.iter().map(cel_value).collect())),
        J::Object(map) => {
            let m: std::collections::HashMap<cel::objects::Key, Value> = map
                .iter()
                .map(|(k, v)| (cel::objects::Key::from(k.clone()), cel_value(v)))
                .collect();
            Value::Map(cel::objects::Map::from(m))
        }
    }
}

/// Names a guard may use at the top level.
const ROOTS: &[&str] = &[
    "data", "payload", "actor", "role", "state", "today", "rates",
];

/// Names a letter's data expression may use: the case data, the file
/// number, today, the recipient party and the deadlines running on the case.
pub const LETTER_ROOTS: &[&str] = &[
    "data",
    "file_number",
    "today",
    "party",
    "deadlines",
    "rates",
];

/// A compiled guard with the message shown when it refuses.
#[derive(Clone, Serialize)]
pub struct Guard {
    pub expr: String,
    pub message: String,
    /// The case fields it reads (`data.x`, `payload.x`), in order: the
    /// field a refusal is about is the first of them a step takes.
    pub fields: Vec<String>,
    #[serde(skip)]
    program: Arc<Program>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("expr", &self.expr)
            .field("message", &self.message)
            .finish()
    }
}

/// What a guard may refer to.
pub(crate) struct GuardVars {
    fields: BTreeSet<String>,
}

impl GuardVars {
    pub(crate) fn new(fields: &BTreeMap<String, Field>) -> Self {
        Self {
            fields: fields.keys().cloned().collect(),
        }
    }
}

/// Why a guard did not compile; `offset` is a byte offset into the expression.
pub(crate) struct GuardProblem {
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// The values a guard is evaluated against.
pub struct GuardInput<'a> {
    pub data: &'a serde_json::Map<String, serde_json::Value>,
    pub payload: &'a serde_json::Map<String, serde_json::Value>,
    pub actor: &'a str,
    pub role: &'a str,
    pub state: &'a str,
    pub today: chrono::NaiveDate,
    /// `rates` from the configuration (e.g. Festbeträge), by name.
    pub rates: &'a serde_json::Map<String, serde_json::Value>,
}

/// A guard that could not be evaluated at all (as opposed to one that said no).
#[derive(Debug, Clone)]
pub struct GuardFault(pub String);

impl Guard {
    pub(crate) fn compile(
        expr: &str,
        message: Option<String>,
        vars: &GuardVars,
    ) -> Result<Guard, GuardProblem> {
        let program = compile_checked(expr, vars, ROOTS)?;
        let cost = Cost::of(program.expression());
        if let Some(problem) = cost.over_budget() {
            return Err(GuardProblem {
                offset: 0,
                message: problem,
                hint: Some(
                    "a guard decides one condition on the case; split it into several guards, or compute a field with a `set` effect".into(),
                ),
            });
        }
        let mut fields = Vec::new();
        fields_read(program.expression(), &mut BTreeSet::new(), &mut fields);
        Ok(Guard {
            message: message.unwrap_or_else(|| format!("the condition `{expr}` is not met")),
            expr: expr.to_string(),
            fields,
            program: Arc::new(program),
        })
    }

    /// `Ok(true)` if the guard lets the transition fire.
    pub fn allows(&self, input: &GuardInput<'_>) -> Result<bool, GuardFault> {
        let mut ctx = context();
        let object = |m: &serde_json::Map<String, serde_json::Value>| {
            cel_value(&serde_json::Value::Object(m.clone()))
        };
        ctx.add_variable_from_value("data", object(input.data));
        ctx.add_variable_from_value("payload", object(input.payload));
        ctx.add_variable_from_value("rates", object(input.rates));
        ctx.add_variable_from_value("actor", input.actor.to_string());
        ctx.add_variable_from_value("role", input.role.to_string());
        ctx.add_variable_from_value("state", input.state.to_string());
        ctx.add_variable_from_value("today", input.today.format("%Y-%m-%d").to_string());
        match self.program.execute(&ctx) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(GuardFault(format!(
                "guard `{}` gave {other:?}, not true or false",
                self.expr
            ))),
            Err(e) => Err(GuardFault(format!("guard `{}` failed: {e}", self.expr))),
        }
    }
}

/// Parses a CEL expression and checks the names it uses against `roots`
/// and the declared fields.
fn compile_checked(expr: &str, vars: &GuardVars, roots: &[&str]) -> Result<Program, GuardProblem> {
    let program = ENV.compile(expr).map_err(|errors| {
        let first = errors.errors.first();
        let (line, col) = first.map(|e| e.pos).unwrap_or((1, 0));
        GuardProblem {
            offset: offset_of(expr, line, col),
            message: format!(
                "expression does not parse: {}",
                first.map(|e| e.msg.as_str()).unwrap_or("syntax error")
            ),
            hint: Some("expressions are CEL, e.g. data.amount > 0 && data.konzept != null".into()),
        }
    })?;
    let mut bound = BTreeSet::new();
    let mut problems = Vec::new();
    check(program.expression(), vars, roots, &mut bound, &mut problems);
    if let Some((id, message, hint)) = problems.into_iter().next() {
        let offset = program
            .source_info()
            .offset_for(id)
            .map(|(start, _)| start as usize)
            .unwrap_or(0);
        return Err(GuardProblem {
            offset: char_to_byte(expr, offset),
            message,
            hint: Some(hint),
        });
    }
    Ok(program)
}

/// A CEL expression that builds a letter's template data from the case:
/// a map such as `{"grant": {"amount": data.foerderbetrag}}`.
#[derive(Clone, Serialize)]
pub struct DataExpr {
    pub expr: String,
    #[serde(skip)]
    program: Arc<Program>,
}

impl fmt::Debug for DataExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DataExpr").field(&self.expr).finish()
    }
}

impl DataExpr {
    pub(crate) fn compile(expr: &str, vars: &GuardVars) -> Result<DataExpr, GuardProblem> {
        Ok(DataExpr {
            expr: expr.to_string(),
            program: Arc::new(compile_checked(expr, vars, LETTER_ROOTS)?),
        })
    }

    /// Evaluates to a JSON object; `vars` binds the [`LETTER_ROOTS`].
    pub fn eval(
        &self,
        vars: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, GuardFault> {
        let json = self.eval_any(vars)?;
        if json.is_object() {
            Ok(json)
        } else {
            Err(GuardFault(format!(
                "letter data `{}` must build a map {{...}}",
                self.expr
            )))
        }
    }

    /// Evaluates to any JSON value.
    pub fn eval_any(
        &self,
        vars: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, GuardFault> {
        let mut ctx = context();
        for (k, v) in vars {
            ctx.add_variable_from_value(k.as_str(), cel_value(v));
        }
        let value = self
            .program
            .execute(&ctx)
            .map_err(|e| GuardFault(format!("`{}` failed: {e}", self.expr)))?;
        value
            .json()
            .map_err(|e| GuardFault(format!("`{}` is not JSON: {e:?}", self.expr)))
    }
}

type Problem = (u64, String, String);

/// What evaluating a guard can cost, from its syntax tree: CEL has no
/// loops but its macros (`all`, `exists`, `map`, `filter`), so a guard's
/// work is bounded by its size and by how deeply those macros nest over
/// the case's lists. `workflow check` refuses a guard above the budget, so
/// that no guard can hold a fire (and the server) for long.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    nodes: usize,
    depth: usize,
    comprehensions: usize,
}

impl Cost {
    /// The budget: generous for the conditions of a funding guideline (the
    /// largest shipped guard has some 80 nodes), far below what would take
    /// noticeable time.
    const MAX_NODES: usize = 400;
    const MAX_DEPTH: usize = 40;
    /// A macro over a list inside a macro over a list: quadratic in the
    /// lists' lengths, which the field limits bound.
    const MAX_COMPREHENSIONS: usize = 2;

    pub(crate) fn of(e: &Expression) -> Cost {
        let mut c = Cost::default();
        c.walk(e, 1, 0);
        c
    }

    fn walk(&mut self, e: &Expression, depth: usize, nested: usize) {
        self.nodes += 1;
        self.depth = self.depth.max(depth);
        self.comprehensions = self.comprehensions.max(nested);
        let d = depth + 1;
        match &e.expr {
            Expr::Select(sel) => self.walk(&sel.operand, d, nested),
            Expr::Call(call) => {
                if let Some(t) = &call.target {
                    self.walk(t, d, nested);
                }
                for a in &call.args {
                    self.walk(a, d, nested);
                }
            }
            Expr::Comprehension(c) => {
                self.walk(&c.iter_range, d, nested);
                for part in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                    self.walk(part, d, nested + 1);
                }
            }
            Expr::List(list) => {
                for el in &list.elements {
                    self.walk(el, d, nested);
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(me) = &entry.expr {
                        self.walk(&me.key, d, nested);
                        self.walk(&me.value, d, nested);
                    }
                }
            }
            Expr::Struct(st) => {
                for entry in &st.entries {
                    if let EntryExpr::StructField(f) = &entry.expr {
                        self.walk(&f.value, d, nested);
                    }
                }
            }
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    fn over_budget(&self) -> Option<String> {
        if self.nodes > Self::MAX_NODES {
            Some(format!(
                "the guard is too large ({} parts; at most {})",
                self.nodes,
                Self::MAX_NODES
            ))
        } else if self.depth > Self::MAX_DEPTH {
            Some(format!(
                "the guard nests too deeply ({} levels; at most {})",
                self.depth,
                Self::MAX_DEPTH
            ))
        } else if self.comprehensions > Self::MAX_COMPREHENSIONS {
            Some(format!(
                "the guard nests {} list macros (all, exists, map, filter) inside each other; at most {}",
                self.comprehensions,
                Self::MAX_COMPREHENSIONS
            ))
        } else {
            None
        }
    }
}

/// The case fields an expression reads (`data.x`, `payload.x`), in order
/// of appearance, from the parsed expression (never from its text).
fn fields_read(e: &Expression, bound: &mut BTreeSet<String>, out: &mut Vec<String>) {
    let push = |f: &String, out: &mut Vec<String>| {
        if !out.contains(f) {
            out.push(f.clone());
        }
    };
    match &e.expr {
        Expr::Select(sel) => {
            if let Expr::Ident(root) = &sel.operand.expr
                && (root == "data" || root == "payload")
                && !bound.contains(root)
            {
                push(&sel.field, out);
                return;
            }
            fields_read(&sel.operand, bound, out);
        }
        Expr::Call(call) => {
            if let Some(t) = &call.target {
                fields_read(t, bound, out);
            }
            for a in &call.args {
                fields_read(a, bound, out);
            }
        }
        Expr::Comprehension(c) => {
            fields_read(&c.iter_range, bound, out);
            let mut names = vec![c.iter_var.clone(), c.accu_var.clone()];
            names.extend(c.iter_var2.clone());
            let added: Vec<String> = names
                .into_iter()
                .filter(|n| bound.insert(n.clone()))
                .collect();
            for part in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                fields_read(part, bound, out);
            }
            for n in added {
                bound.remove(&n);
            }
        }
        Expr::List(list) => {
            for el in &list.elements {
                fields_read(el, bound, out);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    fields_read(&me.key, bound, out);
                    fields_read(&me.value, bound, out);
                }
            }
        }
        Expr::Struct(st) => {
            for entry in &st.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    fields_read(&f.value, bound, out);
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// Walks the expression: `data.x` and `payload.x` must name declared fields,
/// and every other identifier must be a known root or a macro's variable.
fn check(
    e: &Expression,
    vars: &GuardVars,
    roots: &[&str],
    bound: &mut BTreeSet<String>,
    out: &mut Vec<Problem>,
) {
    match &e.expr {
        Expr::Select(sel) => {
            if let Expr::Ident(root) = &sel.operand.expr
                && (root == "data" || root == "payload")
                && !bound.contains(root)
            {
                if !vars.fields.contains(&sel.field) {
                    let known: Vec<&str> = vars.fields.iter().map(String::as_str).collect();
                    out.push((
                        sel.operand.id,
                        format!(
                            "`{root}.{}` names a field the workflow does not declare",
                            sel.field
                        ),
                        format!("declared fields: {}", known.join(", ")),
                    ));
                }
                return;
            }
            check(&sel.operand, vars, roots, bound, out);
        }
        Expr::Ident(name) => {
            if !roots.contains(&name.as_str()) && !bound.contains(name) {
                out.push((
                    e.id,
                    format!("unknown name `{name}` in the expression"),
                    format!("it can use {}", roots.join(", ")),
                ));
            }
        }
        Expr::Call(call) => {
            if let Some(t) = &call.target {
                check(t, vars, roots, bound, out);
            }
            for a in &call.args {
                check(a, vars, roots, bound, out);
            }
        }
        Expr::Comprehension(c) => {
            check(&c.iter_range, vars, roots, bound, out);
            let mut names = vec![c.iter_var.clone(), c.accu_var.clone()];
            names.extend(c.iter_var2.clone());
            let added: Vec<String> = names
                .into_iter()
                .filter(|n| bound.insert(n.clone()))
                .collect();
            for part in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                check(part, vars, roots, bound, out);
            }
            for n in added {
                bound.remove(&n);
            }
        }
        Expr::List(list) => {
            for el in &list.elements {
                check(el, vars, roots, bound, out);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    check(&me.key, vars, roots, bound, out);
                    check(&me.value, vars, roots, bound, out);
                }
            }
        }
        Expr::Struct(st) => {
            for entry in &st.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    check(&f.value, vars, roots, bound, out);
                }
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// Byte offset of a 1-based line and 0-based column in the expression.
fn offset_of(expr: &str, line: isize, col: isize) -> usize {
    let mut offset = 0;
    for (i, l) in expr.split_inclusive('\n').enumerate() {
        if i as isize + 1 == line {
            return offset + char_to_byte(l, col.max(0) as usize);
        }
        offset += l.len();
    }
    0
}

fn char_to_byte(s: &str, chars: usize) -> usize {
    s.char_indices()
        .nth(chars)
        .map(|(i, _)| i)
        .unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::definition::FieldKind;

    fn vars(names: &[&str]) -> GuardVars {
        let fields = names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    Field {
                        name: n.to_string(),
                        kind: FieldKind::Number,
                        title: None,
                        required: false,
                        position: 0,
                    },
                )
            })
            .collect();
        GuardVars::new(&fields)
    }

    fn input<'a>(data: &'a serde_json::Map<String, serde_json::Value>) -> GuardInput<'a> {
        static EMPTY: std::sync::LazyLock<serde_json::Map<String, serde_json::Value>> =
            std::sync::LazyLock::new(serde_json::Map::new);
        GuardInput {
            data,
            payload: &EMPTY,
            actor: "alice",
            role: "clerk",
            state: "open",
            today: chrono::NaiveDate::from_ymd_opt(2012, 3, 19).unwrap(),
            rates: &EMPTY,
        }
    }

    #[test]
    fn a_guard_over_declared_fields_compiles_and_decides() {
        let g = Guard::compile(
            "data.posts >= 2 && data.posts <= 3.5",
            None,
            &vars(&["posts"]),
        )
        .ok()
        .unwrap();
        let mut data = serde_json::Map::new();
        data.insert("posts".into(), serde_json::json!(2));
        assert!(g.allows(&input(&data)).unwrap());
        data.insert("posts".into(), serde_json::json!(4.5));
        assert!(!g.allows(&input(&data)).unwrap());
    }

    #[test]
    fn a_guard_naming_an_undeclared_field_is_refused_at_the_field() {
        let Err(p) = Guard::compile("data.posts > 1 && data.postz < 3", None, &vars(&["posts"]))
        else {
            panic!("must not compile")
        };
        assert!(p.message.contains("`data.postz`"), "{}", p.message);
        assert_eq!(p.offset, "data.posts > 1 && ".len());
    }

    #[test]
    fn macros_bind_their_own_variables() {
        let g = Guard::compile("data.partners.all(p, p != '')", None, &vars(&["partners"]));
        assert!(g.is_ok());
        let g = Guard::compile("x > 1", None, &vars(&[]));
        assert!(g.is_err());
    }

    #[test]
    fn a_syntax_error_points_into_the_expression() {
        let Err(p) = Guard::compile("data.posts >", None, &vars(&["posts"])) else {
            panic!("must not parse")
        };
        assert!(
            p.message.starts_with("expression does not parse"),
            "{}",
            p.message
        );
    }

    #[test]
    fn a_guard_knows_the_fields_it_reads_from_its_syntax_tree() {
        let g = Guard::compile(
            "data.b > 1 && data.partners.all(p, p != data.a) && 'data.c' != ''",
            None,
            &vars(&["a", "b", "partners"]),
        )
        .ok()
        .unwrap();
        assert_eq!(g.fields, ["b", "partners", "a"]);
    }

    #[test]
    fn money_functions_compute_in_cents_and_round_half_up() {
        let e = DataExpr::compile(
            "{'half': money_times(data.a, 0.5), 'two': money_times(data.a, 2), 'text': euro(data.a), 'sum': euro(data.a + data.b)}",
            &vars(&["a", "b"]),
        )
        .ok()
        .unwrap();
        let mut v = serde_json::Map::new();
        v.insert(
            "data".into(),
            serde_json::json!({"a": 5_700_005, "b": 4_995}),
        );
        let out = e.eval(&v).unwrap();
        assert_eq!(out["half"], 2_850_003);
        assert_eq!(out["two"], 11_400_010);
        assert_eq!(out["text"], "57000.05");
        assert_eq!(out["sum"], "57050.00");
    }

    #[test]
    fn a_guard_above_the_cost_budget_is_refused_by_workflow_check() {
        let v = vars(&["posts", "partners"]);
        assert!(
            Guard::compile(
                "data.partners.all(p, data.partners.exists(q, q == p))",
                None,
                &v
            )
            .is_ok()
        );
        let nested =
            "data.partners.all(a, data.partners.all(b, data.partners.all(c, a == b || b == c)))";
        let Err(p) = Guard::compile(nested, None, &v) else {
            panic!("three nested list macros must be refused")
        };
        assert!(p.message.contains("list macros"), "{}", p.message);
        let long = vec!["data.posts > 1"; 150].join(" && ");
        let Err(p) = Guard::compile(&long, None, &v) else {
            panic!("a huge guard must be refused")
        };
        assert!(p.message.contains("too large"), "{}", p.message);
        let deep = format!("{}data.posts{}", "(".repeat(60), " + 1)".repeat(60));
        let deep = format!("{deep} > 0");
        assert!(Guard::compile(&deep, None, &v).is_err());
    }

    #[test]
    fn null_fields_can_be_tested() {
        let g = Guard::compile("data.posts != null", None, &vars(&["posts"]))
            .ok()
            .unwrap();
        let mut data = serde_json::Map::new();
        data.insert("posts".into(), serde_json::Value::Null);
        assert!(!g.allows(&input(&data)).unwrap());
    }
}
