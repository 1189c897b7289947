//! What every page shares: the templates (minijinja, embedded), the German
//! formatting filters (19.03.2012, 09:00 Uhr, 175.000,00), the frame every
//! page fills (who is logged in, the CSRF token, the active tab), forms of
//! a workflow's fields and their parsing back, and the German error page.
//! The office's pages (`web`), the portal and the circular composer take
//! these from here, not from each other.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, NaiveDate};
use chrono_tz::Europe::Berlin;
use minijinja::{Environment, Value as Jv, context};
use serde_json::{Map, Value};

use super::HttpState;
use super::access;
use super::auth::Caller;
use super::error::Problem;
use crate::assets::TEMPLATES;
use crate::workflow::{Definition, FieldKind};

/// The page templates, parsed once.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// The embedded pages, with the legal pages' texts
    /// (`rechtliches/*.html`) of `legal_dir` replacing the embedded ones
    /// where that folder has them, so the office edits its Impressum
    /// without a new build. A broken file fails here, naming it and the line.
    pub fn load(legal_dir: Option<&std::path::Path>) -> Result<Pages, minijinja::Error> {
        let mut env = Environment::new();
        let dir = TEMPLATES.get_dir("web").expect("templates/web is embedded");
        for file in dir.files() {
            let path = file.path();
            if path.extension().and_then(|e| e.to_str()) != Some("html") {
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("template names are UTF-8")
                .to_string();
            let source = file
                .contents_utf8()
                .expect("templates are UTF-8")
                .to_string();
            env.add_template_owned(name, source)?;
        }
        let legal = TEMPLATES
            .get_dir("web/rechtliches")
            .expect("templates/web/rechtliches is embedded");
        for file in legal.files() {
            let Some(name) = file.path().file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let own = legal_dir
                .map(|d| d.join(name))
                .filter(|p| p.is_file())
                .map(|p| {
                    std::fs::read_to_string(&p).map_err(|e| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("{} cannot be read: {e}", p.display()),
                        )
                    })
                })
                .transpose()?;
            let source = match own {
                Some(s) => s,
                None => file
                    .contents_utf8()
                    .expect("templates are UTF-8")
                    .to_string(),
            };
            env.add_template_owned(format!("rechtliches/{name}"), source)?;
        }
        env.add_filter("datum", datum);
        env.add_filter("zeit", zeit);
        env.add_filter("zahl", zahl);
        Ok(Pages { env })
    }

    pub(super) fn render(&self, name: &str, ctx: Jv) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "page template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><html lang=\"de\"><title>Fehler</title><p>Die Seite konnte nicht angezeigt werden. Die Ursache ist protokolliert.</p></html>".to_string()),
                )
                    .into_response()
            }
        }
    }
}

/// A page in the frame every page shares: `ctx` is merged over the
/// caller's frame (`me`, `csrf`, `active`), rendered and sent with `status`.
pub(super) fn render_page(
    state: &HttpState,
    c: &Caller,
    active: &str,
    template: &str,
    ctx: Jv,
    status: StatusCode,
) -> Response {
    let base = base_context(c, active, &state.app.config().web);
    let page = state.pages.render(template, context! { ..base, ..ctx });
    (status, page).into_response()
}

/// What a refusal says, for showing it at a form: the detail, or the
/// title when there is none.
pub(super) fn message(p: &Problem) -> String {
    p.detail.clone().unwrap_or(p.title.clone())
}

/// Shows a problem (404, 403, 422 …) that a page handler answered as a
/// German error page when a browser asked for HTML; API clients and tests
/// that do not ask for HTML keep the problem+json.
pub(super) async fn problem_page(
    State(state): State<HttpState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let back = back_link(req.headers());
    let resp = next.run(req).await;
    // The handler's Problem rides along in the response's extensions, so
    // the page is made from it, not from its JSON read back.
    let Some(problem) = resp.extensions().get::<Problem>().filter(|_| wants_html) else {
        return resp;
    };
    let status = resp.status();
    let page = state.pages.render(
        "fehler.html",
        context! {
            title => problem.title.clone(),
            detail => problem.detail.clone(),
            status => status.as_u16(),
            back => back,
        },
    );
    (status, page).into_response()
}

/// The page the person came from (`Referer`), if it is on this server:
/// the error page's way back to the form, which reloads with a fresh token.
fn back_link(headers: &axum::http::HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let referer: axum::http::Uri = headers.get(header::REFERER)?.to_str().ok()?.parse().ok()?;
    let same = referer
        .authority()
        .is_some_and(|a| a.as_str().eq_ignore_ascii_case(host));
    let path = referer.path_and_query()?.as_str();
    (same && path.starts_with('/') && !path.starts_with("//")).then(|| path.to_string())
}

// ---- formatting (German) ----

/// 2012-03-19 → 19.03.2012 (other text passes through).
pub(super) fn datum(v: String) -> String {
    NaiveDate::parse_from_str(&v, "%Y-%m-%d")
        .map(|d| d.format("%d.%m.%Y").to_string())
        .unwrap_or(v)
}

/// An RFC 3339 UTC time → 19.03.2012, 09:00 Uhr (Europe/Berlin).
fn zeit(v: String) -> String {
    DateTime::parse_from_rfc3339(&v)
        .map(|t| {
            t.with_timezone(&Berlin)
                .format("%d.%m.%Y, %H:%M Uhr")
                .to_string()
        })
        .unwrap_or(v)
}

/// 2.5 → 2,5 (whole numbers without decimals).
pub(super) fn zahl(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        german_number(v, 0)
    } else {
        let s = format!("{v}");
        s.replace('.', ",")
    }
}

fn german_number(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s.clone(), None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped},{f}"),
        None => format!("{sign}{grouped}"),
    }
}

pub(super) fn base_context(c: &Caller, active: &str, web: &crate::config::WebConfig) -> Jv {
    // Token callers have no idle timeout to warn of.
    let sitzung = matches!(c.via, super::auth::Via::Session { .. }).then(|| {
        context! {
            // The session may end up to one touch interval before the
            // last request plus the idle timeout.
            sekunden => web.session_idle_minutes.max(1) * 60
                - crate::identity::touch_interval(web).num_seconds(),
            warnung => web.session_warning_seconds.max(20),
        }
    });
    context! {
        sitzung => sitzung,
        me => context! {
            name => c.user.name.clone(),
            display_name => c.user.display_name.clone(),
            roles => c.user.roles.clone(),
            party => c.user.party.clone(),
            office => access::is_office(&c.user),
        },
        csrf => c.csrf().to_string(),
        active => active,
    }
}

/// The form of one step, as the workflow's answer lists its fields.
pub(super) fn step_form_fields(
    def: &Definition,
    step: &crate::workflow::StepOption,
    data: &Map<String, Value>,
    entered: &BTreeMap<String, String>,
) -> Vec<Jv> {
    let fields: Vec<(String, bool)> = step
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.required))
        .collect();
    form_fields(def, &fields, data, entered)
}

/// A form's fields (the workflow's answer for a step, or an application
/// form's), each with its input kind, title and current value.
/// `fields` are (name, required) pairs in form order.
pub(super) fn form_fields(
    def: &Definition,
    fields: &[(String, bool)],
    data: &Map<String, Value>,
    entered: &BTreeMap<String, String>,
) -> Vec<Jv> {
    fields
        .iter()
        .filter_map(|(name, required)| {
            let f = def.fields.get(name)?;
            let (input, values) = match &f.kind {
                FieldKind::Date => ("date", Vec::new()),
                FieldKind::Integer | FieldKind::Number => ("number", Vec::new()),
                FieldKind::Money => ("money", Vec::new()),
                FieldKind::Boolean => ("boolean", Vec::new()),
                FieldKind::Email => ("email", Vec::new()),
                FieldKind::Text => ("textarea", Vec::new()),
                FieldKind::List => ("list", Vec::new()),
                FieldKind::Choices(v) => ("list", v.clone()),
                FieldKind::Enum(v) => ("enum", v.clone()),
                FieldKind::Object => return None,
                FieldKind::String => ("text", Vec::new()),
            };
            let current = entered
                .get(name)
                .cloned()
                .unwrap_or_else(|| form_value(&f.kind, data.get(name)));
            Some(context! {
                name => name.clone(),
                title => def.field_title(name),
                input => input,
                values => values,
                required => *required,
                value => current,
            })
        })
        .collect()
}

/// A stored value as a form shows it, so that the form sent back
/// unchanged gives the same value: amounts as `118.450,00`, numbers with
/// a decimal comma and no grouping (`1000`, `0,5`), yes/no, one list item
/// a line.
fn form_value(kind: &FieldKind, v: Option<&Value>) -> String {
    match v {
        Some(v) if *kind == FieldKind::Money => crate::money::Money::from_json(v)
            .map(crate::money::Money::german)
            .unwrap_or_default(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string().replace('.', ","),
        Some(Value::Bool(b)) => if *b { "ja" } else { "nein" }.into(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A step that ends the case for good must be confirmed in the form (the
/// checkbox `bestaetigung`); the API's callers decide for themselves.
fn confirmed(
    def: &Definition,
    transition: &str,
    form: &BTreeMap<String, String>,
) -> Result<(), (String, String)> {
    if def.ends_case(transition) && form.get("bestaetigung").map(String::as_str) != Some("ja") {
        return Err((
            "bestaetigung".to_string(),
            "Bitte bestätigen Sie, dass dieser Schritt den Vorgang abschließt und nicht rückgängig gemacht werden kann."
                .to_string(),
        ));
    }
    Ok(())
}

/// Fires a step from a page's form (the office's Fallseite or the portal):
/// the confirmation of a step that ends the case, the form's values typed,
/// then the engine. Both doors take their steps this one way.
pub(super) async fn fire_form(
    state: &HttpState,
    c: &Caller,
    case: &crate::case::CaseView,
    def: &Definition,
    transition: &str,
    form: &BTreeMap<String, String>,
) -> Result<(), Problem> {
    let data = confirmed(def, transition, form)
        .and_then(|()| parse_form(def, form))
        .map_err(|(field, message)| Problem::invalid(field, message))?;
    let body = super::service::FireBody {
        expected_version: form.get("expected_version").and_then(|v| v.parse().ok()),
        data,
    };
    let req = super::service::fire_request(state, c, case, def, transition, body).await?;
    state.app.engine().fire(req).await.map_err(Problem::from)?;
    Ok(())
}

/// Turns the submitted form into typed field values; errors name the field.
pub(super) fn parse_form(
    def: &Definition,
    form: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, (String, String)> {
    let mut out = Map::new();
    for (name, raw) in form {
        let Some(f) = def.fields.get(name) else {
            continue;
        };
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let v = match &f.kind {
            FieldKind::Integer => raw
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| (name.clone(), "Bitte eine ganze Zahl eingeben.".to_string()))?,
            FieldKind::Number => crate::money::parse_german_number(raw)
                .map(Value::from)
                .map_err(|e| (name.clone(), e.to_string()))?,
            FieldKind::Money => crate::money::Money::parse_german(raw)
                .map(crate::money::Money::to_json)
                .map_err(|e| (name.clone(), e.to_string()))?,
            FieldKind::Boolean => Value::Bool(matches!(raw, "ja" | "true" | "on")),
            FieldKind::Date => {
                let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .or_else(|_| NaiveDate::parse_from_str(raw, "%d.%m.%Y"))
                    .map_err(|_| {
                        (
                            name.clone(),
                            "Bitte ein Datum angeben (TT.MM.JJJJ).".to_string(),
                        )
                    })?;
                Value::String(d.format("%Y-%m-%d").to_string())
            }
            FieldKind::List | FieldKind::Choices(_) => Value::Array(
                raw.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect(),
            ),
            _ => Value::String(raw.to_string()),
        };
        out.insert(name.clone(), v);
    }
    Ok(out)
}

/// The explanation's steps as lines of German text.
pub(super) fn explanation_lines(v: &Value) -> Vec<String> {
    match v.get("steps").and_then(|s| s.as_array()) {
        Some(steps) => steps
            .iter()
            .map(|s| {
                let text = s
                    .get("text")
                    .or(s.get("reason"))
                    .and_then(|t| t.as_str())
                    .unwrap_or("");
                let rule = s.get("rule").and_then(|t| t.as_str()).unwrap_or("");
                if rule.is_empty() {
                    text.to_string()
                } else {
                    format!("{text} ({rule})")
                }
            })
            .filter(|l| !l.is_empty())
            .collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_numbers_read_the_german_way() {
        assert_eq!(zahl(2.5), "2,5");
        assert_eq!(zahl(1000.0), "1.000");
        assert_eq!(datum("2012-03-19".into()), "19.03.2012");
        assert_eq!(zeit("2012-03-19T08:00:00Z".into()), "19.03.2012, 09:00 Uhr");
    }

    #[test]
    fn a_form_shows_values_so_that_sending_it_back_changes_nothing() {
        use serde_json::json;
        let cases = [
            (FieldKind::Money, json!("118450.00")),
            (FieldKind::Money, json!("54300.50")),
            (FieldKind::Money, json!("21980.00")),
            (FieldKind::Money, json!("0.05")),
            (FieldKind::Number, json!(1000.0)),
            (FieldKind::Number, json!(0.5)),
            (FieldKind::Number, json!(2)),
        ];
        for (kind, v) in cases {
            let shown = form_value(&kind, Some(&v));
            let back = match kind {
                FieldKind::Money => crate::money::Money::parse_german(&shown).unwrap().to_json(),
                _ => json!(crate::money::parse_german_number(&shown).unwrap()),
            };
            let same = match kind {
                FieldKind::Money => back == v,
                _ => back.as_f64() == v.as_f64(),
            };
            assert!(same, "{v} shown as {shown} reads back as {back}");
        }
        assert_eq!(
            form_value(&FieldKind::Money, Some(&json!("118450.00"))),
            "118.450,00"
        );
    }
}

/// A grant's account for the Fallseite and the portal: amounts in German
/// notation, per line and in total.
pub fn account_view(account: Option<&crate::account::Account>) -> Jv {
    let Some(a) = account else {
        return Jv::from(());
    };
    let eur = |m: crate::money::Money| format!("{} EUR", m.german());
    let lines: Vec<Jv> = a
        .lines
        .iter()
        .map(|l| {
            context! {
                title => l.title.clone(),
                approved => eur(l.figures.approved),
                called => eur(l.figures.called),
                paid => eur(l.figures.paid),
                available => eur(l.available),
            }
        })
        .collect();
    context! {
        title => a.title.clone(),
        lines => lines,
        approved => eur(a.total.approved),
        called => eur(a.total.called),
        paid => eur(a.total.paid),
        available => eur(a.available),
    }
}
