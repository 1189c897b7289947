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
use cel::parser::Expression;
use cel::{Context, Env, Program, Value, extensions};
use serde::Serialize;

use super::definition::Field;

/// The CEL environment: the standard library and the strings extension.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    env.add_extension(extensions::strings)
        .expect("the CEL strings extension registers");
    Arc::new(env)
});

/// A context that knows the functions of [`ENV`].
fn context() -> Context<'static, 'static> {
    Context::with_env(ENV.clone())
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
        Ok(Guard {
            message: message.unwrap_or_else(|| format!("the condition `{expr}` is not met")),
            expr: expr.to_string(),
            program: Arc::new(program),
        })
    }

    /// `Ok(true)` if the guard lets the transition fire.
    pub fn allows(&self, input: &GuardInput<'_>) -> Result<bool, GuardFault> {
        let mut ctx = context();
        let add = |ctx: &mut Context, name: &str, v: serde_json::Value| {
            ctx.add_variable(name, v)
                .map_err(|e| GuardFault(format!("cannot pass `{name}` to the guard: {e}")))
        };
        add(
            &mut ctx,
            "data",
            serde_json::Value::Object(input.data.clone()),
        )?;
        add(
            &mut ctx,
            "payload",
            serde_json::Value::Object(input.payload.clone()),
        )?;
        add(
            &mut ctx,
            "rates",
            serde_json::Value::Object(input.rates.clone()),
        )?;
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
            ctx.add_variable(k.as_str(), v.clone())
                .map_err(|e| GuardFault(format!("cannot pass `{k}` to the letter data: {e}")))?;
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
    fn null_fields_can_be_tested() {
        let g = Guard::compile("data.posts != null", None, &vars(&["posts"]))
            .ok()
            .unwrap();
        let mut data = serde_json::Map::new();
        data.insert("posts".into(), serde_json::Value::Null);
        assert!(!g.allows(&input(&data)).unwrap());
    }
}
