//! Trust in the record, on SQLite and PostgreSQL: amounts are exact through
//! every door (API, the office's step forms sent back unchanged, the
//! portal), a signed notice's content is fixed (only an Änderungsbescheid
//! by two people changes it), and the workflow's answer to "what may this
//! person do here now, and why not" is what the API shows.

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use crate::http::{Web, web};
use crate::on_both_databases;
use crate::portal::application_fields;
use crate::seed::vorschlag;

/// The seed's amounts as a municipality types them, and as they are stored.
const AMOUNTS: [(&str, &str, &str); 3] = [
    ("ausgaben_paedagogik", "118.450,00", "118450.00"),
    ("ausgaben_verwaltung", "54.300,50", "54300.50"),
    ("ausgaben_assistenz", "21.980,00", "21980.00"),
];

/// One step form of a page: its action and the values it holds, as a
/// browser would send them (inputs, textareas, the selected option).
#[derive(Debug)]
struct PageForm {
    action: String,
    fields: Vec<(String, String)>,
    disabled: bool,
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')? + i;
    Some(unescape(&tag[i..j]))
}

/// The step forms (`…/schritte/…`) of a page.
fn step_forms(page: &str) -> Vec<PageForm> {
    let mut out = Vec::new();
    for chunk in page.split("<form").skip(1) {
        let Some(end) = chunk.find("</form>") else {
            continue;
        };
        let body = &chunk[..end];
        let head = &body[..body.find('>').unwrap_or(0)];
        let Some(action) = attr(head, "action") else {
            continue;
        };
        if !action.contains("/schritte/") {
            continue;
        }
        let mut fields = Vec::new();
        for tag in body.split('<').skip(1) {
            let tag_end = tag.find('>').unwrap_or(tag.len());
            let t = &tag[..tag_end];
            if let Some(rest) = t.strip_prefix("input") {
                if let (Some(n), v) = (attr(rest, "name"), attr(rest, "value")) {
                    fields.push((n, v.unwrap_or_default()));
                }
            } else if let Some(rest) = t.strip_prefix("textarea") {
                if let Some(n) = attr(rest, "name") {
                    let content = &tag[tag_end + 1..];
                    fields.push((n, unescape(content)));
                }
            } else if let Some(rest) = t.strip_prefix("select") {
                if let Some(n) = attr(rest, "name") {
                    // The selected option follows in the next tags.
                    let after = &body[body.find(t).unwrap_or(0)..];
                    let select = &after[..after.find("</select>").unwrap_or(after.len())];
                    let chosen = select
                        .split("<option")
                        .skip(1)
                        .find(|o| o.starts_with(" selected"))
                        .map(|o| {
                            unescape(&o[o.find('>').unwrap() + 1..o.find("</option>").unwrap()])
                        })
                        .unwrap_or_default();
                    fields.push((n, chosen));
                }
            }
        }
        let disabled = body.contains("type=\"submit\" disabled");
        out.push(PageForm {
            action,
            fields,
            disabled,
        });
    }
    out
}

impl Web {
    async fn case_json(&self, cookie: &str, n: &str) -> Value {
        let r = self
            .json("GET", &format!("/api/v1/cases/{n}"), Some(cookie), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }

    /// Sends the page's form for `transition` back as the browser has it,
    /// with `extra` filled in over it.
    async fn send_back(
        &self,
        cookie: &str,
        csrf: &str,
        n: &str,
        transition: &str,
        extra: &[(&str, &str)],
    ) -> axum::http::StatusCode {
        let page = self
            .json("GET", &format!("/faelle/{n}"), Some(cookie), None)
            .await
            .text();
        let form = step_forms(&page)
            .into_iter()
            .find(|f| f.action.ends_with(&format!("/schritte/{transition}")))
            .unwrap_or_else(|| panic!("no form for {transition} on {page}"));
        let mut fields: Vec<(String, String)> = form
            .fields
            .into_iter()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k) && k != "csrf")
            .collect();
        fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        fields.push(("csrf".into(), csrf.into()));
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = self
            .form(
                &format!("/faelle/{n}/schritte/{transition}"),
                cookie,
                &pairs,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "{transition} with {pairs:?}: {}",
            r.text()
        );
        r.status
    }
}

/// Every amount the case holds is the seed's, exactly, and every step form
/// on the office's page shows it so that sending it back changes nothing.
async fn assert_amounts(w: &Web, cookie: &str, n: &str, when: &str) {
    let case = w.case_json(cookie, n).await;
    for (field, typed, stored) in AMOUNTS {
        assert_eq!(case["data"][field], stored, "{when}: {field}");
        let page = w
            .json("GET", &format!("/faelle/{n}"), Some(cookie), None)
            .await
            .text();
        for form in step_forms(&page) {
            if let Some((_, v)) = form.fields.iter().find(|(k, _)| k == field) {
                assert_eq!(v, typed, "{when}: the form {} shows {field}", form.action);
            }
        }
    }
}

on_both_databases! {
    async fn the_seed_amounts_survive_the_portal_every_step_form_and_the_api(db) {
        let w = web(&db).await;
        // The municipality files online, typing amounts the German way.
        let (unna, unna_csrf) = w.login("unna").await;
        let mut fields = application_fields();
        for (field, typed, _) in AMOUNTS {
            fields.retain(|(k, _)| k != field);
            fields.push((field.into(), typed.into()));
        }
        fields.push(("csrf".into(), unna_csrf.clone()));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = w.form("/portal/antraege/ki-foerderantrag/antrag", &unna, &pairs).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let n = r.headers[header::LOCATION].to_str().unwrap().split('?').next().unwrap().rsplit('/').next().unwrap().to_string();

        let (becker, csrf) = w.login("becker").await;
        let (schulte, schulte_csrf) = w.login("schulte").await;
        // The API gives amounts as decimal strings.
        let case = w.case_json(&becker, &n).await;
        assert_eq!(case["data"]["ausgaben_paedagogik"], "118450.00");
        assert_amounts(&w, &becker, &n, "after the online application").await;

        // Each step form sent back as the browser has it, adding only what
        // the step needs.
        w.send_back(&becker, &csrf, &n, "eingang_bestaetigen", &[("bearbeiter_name", "Anna Becker")]).await;
        assert_amounts(&w, &becker, &n, "after eingang_bestaetigen").await;
        w.send_back(&becker, &csrf, &n, "bewilligung_vorschlagen", &[
            ("bewilligungszeitraum_von", "2013-01-01"),
            ("bewilligungszeitraum_bis", "2013-12-31"),
            ("verwendungsnachweis_bis", "2014-06-30"),
            // Kreis Unna's RAA is linked in its own test (notification.rs).
            ("raa_vorhanden", "nein"),
        ]).await;
        assert_amounts(&w, &becker, &n, "after bewilligung_vorschlagen").await;
        let case = w.case_json(&becker, &n).await;
        // 2 × 50.000 + 1 × 50.000 = 150.000 Festbeträge (2013) + 20.000 for
        // the half post; the expenses 194.730,50 exceed them, so the grant
        // is the sum of the Festbeträge: 170.000,00.
        assert_eq!(case["data"]["zuwendungsfaehige_ausgaben"], "194730.50");
        assert_eq!(case["data"]["foerderhoechstbetraege"], "170000.00");
        assert_eq!(case["data"]["foerderbetrag"], "170000.00");
        w.send_back(&schulte, &schulte_csrf, &n, "bewilligen", &[("zeichnung_name", "Dr. Schulte")]).await;
        assert_amounts(&w, &becker, &n, "after bewilligen").await;
        let case = w.case_json(&becker, &n).await;
        assert_eq!(case["state"], "bewilligt");
        assert_eq!(case["data"]["foerderbetrag"], "170000.00");
        let docs = w.json("GET", &format!("/api/v1/cases/{n}/documents"), Some(&becker), None).await.json();
        let sha = docs.as_array().unwrap().iter().find(|d| d["template"] == "zuwendungsbescheid").unwrap()["sha256"].as_str().unwrap().to_string();
        let pdf = w.json("GET", &format!("/api/v1/documents/{sha}"), Some(&becker), None).await;
        let text = crate::support::pdftotext(&pdf.body).split_whitespace().collect::<Vec<_>>().join(" ");
        for printed in ["118.450,00 EUR", "54.300,50 EUR", "21.980,00 EUR", "194.730,50 EUR", "170.000,00 EUR"] {
            assert!(text.contains(printed), "{printed} in {text}");
        }
    }

    async fn an_english_decimal_point_is_refused_at_its_field_in_every_door(db) {
        let w = web(&db).await;
        let (becker, csrf) = w.login("becker").await;
        let n = w.open_unna(&becker).await;
        w.fire(&becker, &n, "eingang_bestaetigen", None, json!({})).await;
        // The office's form.
        let uri = format!("/faelle/{n}/schritte/bewilligung_vorschlagen");
        let r = w.form(&uri, &becker, &[("csrf", &csrf), ("ausgaben_paedagogik", "1.5")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text();
        assert!(page.contains("Bitte Beträge mit Komma schreiben: 1,50"), "{page}");
        assert!(page.contains("id=\"bewilligung_vorschlagen-ausgaben_paedagogik-fehler\""), "at its field: {page}");
        // The portal's form.
        let (unna, unna_csrf) = w.login("unna").await;
        let mut fields = application_fields();
        fields.retain(|(k, _)| k != "ausgaben_verwaltung");
        fields.push(("ausgaben_verwaltung".into(), "1.50".into()));
        fields.push(("csrf".into(), unna_csrf));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = w.form("/portal/antraege/ki-foerderantrag/antrag", &unna, &pairs).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("Bitte Beträge mit Komma schreiben: 1,50"), "{}", r.text());
        // The API: a number with more than two decimals, at its field.
        let r = w.fire(&becker, &n, "bewilligung_vorschlagen", None, json!({"ausgaben_assistenz": 1.005})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(r.json()["field"], "ausgaben_assistenz", "{}", r.text());
        // Bounded input: an oversized text and a control character are
        // refused at their field, before anything is planned or stored.
        let huge = "x".repeat(1_900_000);
        let r = w.fire(&becker, &n, "zuruecknehmen", None, json!({"vermerk": huge})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", &r.text()[..200.min(r.text().len())]);
        assert_eq!(r.json()["field"], "vermerk");
        assert_eq!(r.json()["rule"], "too_large");
        let r = w.fire(&becker, &n, "zuruecknehmen", None, json!({"vermerk": "Rücknahme\u{0}"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(r.json()["field"], "vermerk");
        let case = w.case_json(&becker, &n).await;
        assert_eq!(case["version"], 2, "nothing was stored");
    }

    async fn a_signed_notice_cannot_be_rewritten_and_only_an_aenderungsbescheid_by_two_changes_it(db) {
        let w = web(&db).await;
        let (becker, _) = w.login("becker").await;
        let (meier, _) = w.login("meier").await;
        let (schulte, _) = w.login("schulte").await;
        let n = w.open_unna(&becker).await;
        assert_eq!(w.fire(&becker, &n, "eingang_bestaetigen", None, json!({})).await.status, StatusCode::OK);
        assert_eq!(w.fire(&becker, &n, "bewilligung_vorschlagen", None, vorschlag()).await.status, StatusCode::OK);
        let r = w.fire(&schulte, &n, "bewilligen", None, json!({"zeichnung_name": "Dr. Schulte"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let signed = w.case_json(&becker, &n).await;
        let amount = signed["data"]["foerderbetrag"].clone();
        let number = signed["data"]["bescheid_nr"].clone();

        // The security review's D8: a Nachtrag step carrying the amount and
        // the notice number is refused at the field, and nothing changes.
        let r = w.fire(&becker, &n, "ab_vermerk_eintragen", None,
            json!({"ab_vermerk_bescheid": "2012-03-19", "foerderbetrag": 1.0, "bescheid_nr": "FAKE-1"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(["foerderbetrag", "bescheid_nr"].contains(&r.json()["field"].as_str().unwrap()), "{}", r.text());
        // Computed fields are nobody's to type, in any step: each refused by itself.
        for (field, value) in [("foerderbetrag", json!(1.0)), ("bescheid_nr", json!("FAKE-1"))] {
            let mut data = json!({"ab_vermerk_bescheid": "2012-03-19"});
            data[field] = value;
            let r = w.fire(&becker, &n, "ab_vermerk_eintragen", None, data).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
            assert_eq!(r.json()["rule"], "computed_field", "{}", r.text());
            assert_eq!(r.json()["field"], field, "{}", r.text());
        }
        // A field the step does not take is refused the same way.
        let r = w.fire(&becker, &n, "ab_vermerk_eintragen", None, json!({"ab_vermerk_bescheid": "2012-03-19", "kommune": "Stadt Hamm"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(r.json()["field"], "kommune", "{}", r.text());
        let after = w.case_json(&becker, &n).await;
        assert_eq!(after["version"], signed["version"]);
        assert_eq!(after["data"], signed["data"]);

        // The Änderungsbescheid: proposed by a clerk, signed by another person.
        let r = w.fire(&meier, &n, "aenderung_vorschlagen", None,
            json!({"aenderung_foerderbetrag": "150000.00", "aenderung_grund": "Eine Stelle bleibt unbesetzt."})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(w.case_json(&becker, &n).await["data"]["foerderbetrag"], amount, "a proposal changes nothing yet");
        // The proposer may not sign it, though he holds the approver role.
        let r = w.fire(&meier, &n, "aenderungsbescheid_zeichnen", None, json!({"aenderung_zeichnung_name": "Jan Meier"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(r.json()["rule"], "four_eyes");
        let r = w.fire(&schulte, &n, "aenderungsbescheid_zeichnen", None, json!({"aenderung_zeichnung_name": "Dr. Schulte"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let changed = w.case_json(&becker, &n).await;
        assert_eq!(changed["data"]["foerderbetrag"], "150000.00");
        assert_eq!(changed["data"]["aenderung_bisheriger_betrag"], amount);
        assert_eq!(changed["data"]["bescheid_nr"], number, "the original notice keeps its number");
        let docs = w.json("GET", &format!("/api/v1/cases/{n}/documents"), Some(&becker), None).await.json();
        let letter = docs.as_array().unwrap().iter().find(|d| d["template"] == "aenderungsbescheid")
            .unwrap_or_else(|| panic!("no Änderungsbescheid in {docs}"));
        let pdf = w.json("GET", &format!("/api/v1/documents/{}", letter["sha256"].as_str().unwrap()), Some(&becker), None).await;
        let text = crate::support::pdftotext(&pdf.body).split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("150.000,00 EUR"), "{text}");
        assert!(text.contains("bisher 170.000,00 EUR"), "{text}");
        assert!(text.contains(number.as_str().unwrap()), "{text}");
        // Signing again without a new proposal is refused.
        let r = w.fire(&schulte, &n, "aenderungsbescheid_zeichnen", None, json!({"aenderung_zeichnung_name": "Dr. Schulte"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    }

    async fn the_api_tells_each_person_which_steps_they_may_take_and_why_not(db) {
        let w = web(&db).await;
        let (becker, _) = w.login("becker").await;
        let (meier, _) = w.login("meier").await;
        let (schulte, _) = w.login("schulte").await;
        let n = w.open_unna(&becker).await;
        w.fire(&meier, &n, "eingang_bestaetigen", None, json!({})).await;
        assert_eq!(w.fire(&meier, &n, "bewilligung_vorschlagen", None, vorschlag()).await.status, StatusCode::OK);
        let step = |case: &Value, t: &str| case["steps"].as_array().unwrap().iter()
            .find(|s| s["transition"] == t).cloned().unwrap_or_else(|| panic!("{t} not in {case}"));

        let for_meier = w.case_json(&meier, &n).await;
        let s = step(&for_meier, "bewilligen");
        assert_eq!(s["allowed"], false, "{s}");
        assert_eq!(s["rule"], "four_eyes");
        let reason = s["reason"].as_str().unwrap();
        assert!(reason.contains("Vier-Augen-Prinzip") && reason.contains("Bewilligung vorschlagen"), "{reason}");
        assert_eq!(s["title"], "Zuwendungsbescheid zeichnen");
        assert_eq!(s["fields"][0]["name"], "zeichnung_name");
        assert_eq!(s["fields"][0]["required"], true);

        let for_schulte = w.case_json(&schulte, &n).await;
        let s = step(&for_schulte, "bewilligen");
        assert_eq!(s["allowed"], true, "{s}");
        assert!(s["reason"].is_null());

        // A clerk's role does not sign.
        let for_becker = w.case_json(&becker, &n).await;
        let s = step(&for_becker, "bewilligen");
        assert_eq!(s["allowed"], false);
        assert_eq!(s["rule"], "role");
        assert!(s["reason"].as_str().unwrap().contains("Zeichnungsbefugte Person"), "{s}");

        // The office page renders the same answer: disabled, with the reason.
        let page = w.json("GET", &format!("/faelle/{n}"), Some(&meier), None).await.text();
        let form = step_forms(&page).into_iter().find(|f| f.action.ends_with("/bewilligen")).unwrap();
        assert!(form.disabled, "{page}");
        assert!(page.contains("Vier-Augen-Prinzip"), "{page}");
    }
}
