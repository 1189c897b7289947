//! The municipalities' portal on SQLite and PostgreSQL: an online
//! application, uploads (and the bad ones that store nothing), notification
//! by retrieval (§ 41 Abs. 2a VwVfG NRW) in simulated time, the electronic
//! Empfangsbekenntnis, circulars with read receipts, consent, and a walk
//! over every route that checks who may see what.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::http::{Resp, Web, web};
use crate::on_both_databases;
use crate::seed::{antrag_kreis_unna, kommune, party_of, vorschlag};
use crate::support::{TestDb, pdftotext};

/// A one-page PDF, as a scanner or an office suite would make it.
pub(crate) fn pdf(text: &str) -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let content = format!("BT /F1 12 Tf 72 760 Td ({text}) Tj ET");
    let content = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
    let page = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => content,
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// The same PDF, encrypted with a user password.
fn encrypted_pdf() -> Vec<u8> {
    let mut doc = lopdf::Document::load_mem(&pdf("geheim")).unwrap();
    let id = lopdf::Object::string_literal(b"0123456789abcdef".to_vec());
    doc.trailer
        .set("ID", lopdf::Object::Array(vec![id.clone(), id]));
    let state = lopdf::EncryptionState::try_from(lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "eigentuemer",
        user_password: "geheim",
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    })
    .unwrap();
    doc.encrypt(&state).unwrap();
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A multipart/form-data body with one file field, after a `csrf` field
/// when given (as the portal's form sends it).
fn multipart(field: &str, file_name: &str, bytes: &[u8], csrf: Option<&str>) -> (String, Vec<u8>) {
    let boundary = "----amtspost-test-boundary";
    let mut body = Vec::new();
    if let Some(t) = csrf {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{t}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Web {
    /// Posts one file as multipart/form-data with the session cookie (and
    /// the CSRF token as a header, if given; or as the form's field).
    async fn post_file(
        &self,
        uri: &str,
        cookie: &str,
        csrf: Option<&str>,
        name: &str,
        bytes: &[u8],
    ) -> Resp {
        self.post_multipart(uri, cookie, csrf, None, name, bytes)
            .await
    }

    pub(crate) async fn post_multipart(
        &self,
        uri: &str,
        cookie: &str,
        csrf_header: Option<&str>,
        csrf_field: Option<&str>,
        name: &str,
        bytes: &[u8],
    ) -> Resp {
        let csrf = csrf_header;
        let (ct, body) = multipart("file", name, bytes, csrf_field);
        let mut b = Request::builder()
            .method("POST")
            .uri(uri)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, ct);
        if let Some(t) = csrf {
            b = b.header("x-csrf-token", t);
        }
        self.send(b.body(Body::from(body)).unwrap()).await
    }

    /// Uploads through the API with the session cookie and its CSRF token.
    pub(crate) async fn upload(
        &self,
        (cookie, csrf): (&str, &str),
        n: &str,
        name: &str,
        bytes: &[u8],
    ) -> Resp {
        self.post_file(
            &format!("/api/v1/cases/{n}/uploads"),
            cookie,
            Some(csrf),
            name,
            bytes,
        )
        .await
    }

    /// Uploads through the portal page's form (CSRF token a field of the
    /// form's body, before the file).
    pub(crate) async fn upload_page(
        &self,
        cookie: &str,
        csrf: &str,
        n: &str,
        name: &str,
        bytes: &[u8],
    ) -> Resp {
        self.post_multipart(
            &format!("/portal/faelle/{n}/hochladen"),
            cookie,
            None,
            Some(csrf),
            name,
            bytes,
        )
        .await
    }

    pub(crate) async fn get(&self, uri: &str, cookie: &str) -> Resp {
        self.json("GET", uri, Some(cookie), None).await
    }
}

/// The application form's fields as a browser submits them.
pub(crate) fn application_fields() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in antrag_kreis_unna() {
        let text = match v {
            Value::String(s) => s,
            Value::Bool(b) => if b { "ja" } else { "nein" }.to_string(),
            Value::Number(n) => n.to_string().replace('.', ","),
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => continue,
        };
        out.push((k, text));
    }
    out
}

/// Kreis Unna applies online; returns the file number.
pub(crate) async fn apply(w: &Web, cookie: &str, csrf: &str) -> String {
    let mut fields = application_fields();
    fields.push(("csrf".into(), csrf.into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = w
        .form("/portal/antraege/ki-foerderantrag/antrag", cookie, &pairs)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let to = r.headers[header::LOCATION].to_str().unwrap();
    assert!(to.ends_with("?hinweis=eingereicht"), "{to}");
    to.split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

/// A Kreis Soest case, opened by the office.
async fn soest_case(w: &Web, becker: &str) -> String {
    let k = kommune("Kreis Soest");
    let mut data = antrag_kreis_unna();
    data.insert("kommune".into(), k["name"].clone());
    data.insert("kommune_genitiv".into(), k["genitiv"].clone());
    data.insert("verwaltungsgericht".into(), k["verwaltungsgericht"].clone());
    let party = serde_json::to_value(party_of(&k)).unwrap();
    let r = w
        .json(
            "POST",
            "/api/v1/cases",
            Some(becker),
            Some(json!({"workflow": "ki-foerderantrag", "data": data, "parties": {"applicant": party}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["file_number"].as_str().unwrap().to_string()
}

fn ok(r: &Resp) {
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{} {}",
        r.status,
        r.text()
    );
}

/// Takes an online application through Eingangsbestätigung and proposal
/// to the signed Zuwendungsbescheid (payload added to the proposal).
async fn grant(w: &Web, n: &str, extra: Value) {
    let (becker, _) = w.login("becker").await;
    let (schulte, _) = w.login("schulte").await;
    let case = w.get(&format!("/api/v1/cases/{n}"), &becker).await.json();
    if case["state"] == "eingegangen" {
        ok(&w
            .fire(
                &becker,
                n,
                "eingang_bestaetigen",
                None,
                json!({"bearbeiter_name": "Anna Becker"}),
            )
            .await);
    }
    let mut v = vorschlag();
    // Kreis Unna has an RAA (kommunen.json); its link has its own test.
    v["raa_vorhanden"] = json!(false);
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    ok(&w.fire(&becker, n, "bewilligung_vorschlagen", None, v).await);
    ok(&w
        .fire(
            &schulte,
            n,
            "bewilligen",
            None,
            json!({"zeichnung_name": "Dr. Schulte"}),
        )
        .await);
}

async fn events_of(w: &Web, cookie: &str, n: &str) -> Vec<Value> {
    events(&w.get(&format!("/api/v1/cases/{n}/history"), cookie).await)
}

fn events(w: &Resp) -> Vec<Value> {
    w.json().as_array().unwrap().clone()
}

/// The open Klagefrist's end and explanation, if one is running.
async fn klagefrist(w: &Web, cookie: &str, n: &str) -> Option<(String, String)> {
    let ds = w
        .get(&format!("/api/v1/cases/{n}/deadlines"), cookie)
        .await
        .json();
    ds.as_array()
        .unwrap_or_else(|| panic!("deadlines of {n}: {ds}"))
        .iter()
        .find(|d| d["name"] == "klagefrist" && d["status"] == "open")
        .map(|d| {
            (
                d["due_date"].as_str().unwrap().to_string(),
                d["explanation"].to_string(),
            )
        })
}

on_both_databases! {
    async fn a_municipality_applies_online_answers_the_nachforderung_by_upload_and_bad_files_store_nothing(db) {
        let w = web(&db).await;
        let (unna, unna_csrf) = w.login("unna").await;
        let (soest, soest_csrf) = w.login("soest").await;
        let (becker, becker_csrf) = w.login("becker").await;

        let page = w.get("/portal/antraege/ki-foerderantrag/antrag", &unna).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("Antrag absenden") && page.text().contains("Kreis Unna"), "{}", page.text());
        // A wrong value is refused at its field, and nothing is opened.
        let r = w.form("/portal/antraege/ki-foerderantrag/antrag", &unna,
            &[("csrf", &unna_csrf), ("antrag_datum", "gestern")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().contains("Bitte ein Datum angeben"), "{}", r.text());

        let n = apply(&w, &unna, &unna_csrf).await;
        let case = w.get(&format!("/api/v1/cases/{n}"), &becker).await.json();
        assert_eq!(case["state"], "eingegangen");
        assert_eq!(case["data"]["kommune"], "Kreis Unna");
        assert_eq!(case["data"]["kommune_art"], "Kreis", "taken from kommunen.json");
        assert_eq!(case["data"]["antrag_eingang"], "2012-03-19", "the day it arrived online");
        assert!(case["data"].get("bearbeiter_name").is_none(), "office fields are not the applicant's");
        assert_eq!(case["parties"]["applicant"]["name"], "Kreis Unna");
        let h = events(&w.get(&format!("/api/v1/cases/{n}/history"), &becker).await);
        assert_eq!((h[0]["actor"].as_str(), h[0]["role"].as_str()), (Some("unna"), Some("applicant")));

        // Kreis Soest sees none of it.
        assert_eq!(w.get(&format!("/portal/faelle/{n}"), &soest).await.status, StatusCode::NOT_FOUND);
        assert_eq!(w.get(&format!("/api/v1/cases/{n}"), &soest).await.status, StatusCode::NOT_FOUND);
        assert!(!w.get("/portal", &soest).await.text().contains(&n));
        assert!(w.get("/portal", &unna).await.text().contains(&n));

        ok(&w.fire(&becker, &n, "eingang_bestaetigen", None, json!({"bearbeiter_name": "Anna Becker"})).await);
        ok(&w.fire(&becker, &n, "nachfordern", None, json!({"fehlende_unterlagen": ["Beschluss des Kreistages"]})).await);
        let page = w.get(&format!("/portal/faelle/{n}"), &unna).await.text();
        assert!(page.contains("Eingangsbestätigung") && page.contains("Nachforderung von Unterlagen"), "{page}");
        assert!(page.contains("Frist zur Nachreichung"), "{page}");
        assert!(page.contains("Läuft die Frist ungenutzt ab"), "what happens when it runs out: {page}");

        // Bad uploads: a clear message each, nothing stored.
        let before = events(&w.get(&format!("/api/v1/cases/{n}/history"), &becker).await).len();
        let big = vec![b'%'; 20 * 1024 * 1024 + 1];
        for (name, bytes, status, says) in [
            ("brief.pdf", b"GIF89a\x01\x00".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "keine PDF-Datei"),
            ("geheim.pdf", encrypted_pdf(), StatusCode::UNPROCESSABLE_ENTITY, "verschlüsselt"),
            ("leer.pdf", Vec::new(), StatusCode::UNPROCESSABLE_ENTITY, "leer"),
            ("gross.pdf", big, StatusCode::PAYLOAD_TOO_LARGE, "zu groß"),
            ("../../etc/passwd.pdf", pdf("x"), StatusCode::UNPROCESSABLE_ENTITY, "Pfadangaben"),
            ("zeile\t.pdf", pdf("x"), StatusCode::UNPROCESSABLE_ENTITY, "Steuerzeichen"),
            ("polyglott.pdf", [b"<html><script>alert(1)</script><!--".to_vec(), pdf("x")].concat(), StatusCode::UNPROCESSABLE_ENTITY, "keine PDF-Datei"),
        ] {
            let r = w.upload((&unna, &unna_csrf), &n, name, &bytes).await;
            assert_eq!(r.status, status, "{name}: {}", r.text());
            assert!(r.text().contains(says), "{name}: {}", r.text());
        }
        // The page shows the message at the file field.
        let r = w.upload_page(&unna, &unna_csrf, &n, "brief.pdf", b"kein pdf").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().contains("datei-fehler") && r.text().contains("keine PDF-Datei"), "{}", r.text());
        assert_eq!(w.get(&format!("/api/v1/cases/{n}/uploads"), &becker).await.json(), json!([]));
        assert_eq!(events(&w.get(&format!("/api/v1/cases/{n}/history"), &becker).await).len(), before);
        // Soest cannot upload to Unna's case; the office does not upload here.
        assert_eq!(w.upload((&soest, &soest_csrf), &n, "a.pdf", &pdf("x")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(w.upload((&becker, &becker_csrf), &n, "a.pdf", &pdf("x")).await.status, StatusCode::FORBIDDEN);

        // The good one: stored, journaled, and it answers the Nachforderung.
        let doc = pdf("Beschluss des Kreistages vom 26.06.2012");
        let r = w.upload_page(&unna, &unna_csrf, &n, "Beschluss Kreistag.pdf", &doc).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let uploads = w.get(&format!("/api/v1/cases/{n}/uploads"), &becker).await.json();
        assert_eq!(uploads[0]["file_name"], "Beschluss Kreistag.pdf");
        assert_eq!(uploads[0]["uploaded_by"], "unna");
        assert_eq!(uploads[0]["pages"], 1);
        let id = uploads[0]["id"].as_i64().unwrap();
        let back = w.get(&format!("/api/v1/cases/{n}/uploads/{id}"), &becker).await;
        assert_eq!(back.body, doc, "stored byte for byte");
        // Served as a download, its name encoded (SECURITY-REVIEW D5), not sniffed.
        assert_eq!(
            back.headers[header::CONTENT_DISPOSITION],
            "attachment; filename=\"Beschluss_Kreistag.pdf\"; filename*=UTF-8''Beschluss%20Kreistag.pdf"
        );
        assert_eq!(back.headers["x-content-type-options"], "nosniff");
        let case = w.get(&format!("/api/v1/cases/{n}"), &becker).await.json();
        assert_eq!(case["state"], "in_pruefung");
        let ds = w.get(&format!("/api/v1/cases/{n}/deadlines"), &becker).await.json();
        assert!(ds.as_array().unwrap().iter().any(|d| d["name"] == "nachreichung" && d["status"] == "met"), "{ds}");
        let h = events(&w.get(&format!("/api/v1/cases/{n}/history"), &becker).await);
        assert!(h.iter().any(|e| e["kind"] == "upload_received" && e["actor"] == "unna"
            && e["payload"]["sha256"] == uploads[0]["sha256"]), "{h:?}");
        assert!(h.iter().any(|e| e["transition"] == "unterlagen_nachgereicht" && e["role"] == "applicant"));
        // The clerk sees it on the Fallseite.
        let page = w.get(&format!("/faelle/{n}"), &becker).await.text();
        assert!(page.contains("Beschluss Kreistag.pdf") && page.contains("unna"), "{page}");
        assert_eq!(w.get(&format!("/api/v1/cases/{n}/uploads/{id}"), &soest).await.status, StatusCode::NOT_FOUND);

        // An office step cannot be fired by the municipality.
        assert_eq!(w.fire(&unna, &n, "bewilligung_vorschlagen", None, vorschlag()).await.status, StatusCode::FORBIDDEN);
        // A closed case takes no uploads.
        grant(&w, &n, json!({})).await;
        let r = w.upload((&unna, &unna_csrf), &n, "spaet.pdf", &pdf("x")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().contains("abgeschlossen"), "{}", r.text());
    }

    async fn a_notice_is_shown_in_the_portal_with_its_enclosures_which_the_municipality_can_fetch(db) {
        let w = web(&db).await;
        let (unna, csrf) = w.login("unna").await;
        let n = apply(&w, &unna, &csrf).await;
        grant(&w, &n, json!({})).await;
        let page = w.get(&format!("/portal/faelle/{n}"), &unna).await.text();
        for title in [
            "Zuwendungsbescheid",
            "Allgemeine Nebenbestimmungen für Zuwendungen zur Projektförderung an Gemeinden (GV) (ANBest-G)",
            "Vordruck Mittelanforderung",
            "Vordruck Verwendungsnachweis",
            "Vordruck Rechtsbehelfsverzichtserklärung",
        ] {
            assert!(page.contains(title), "{title} missing in:\n{page}");
        }
        // The ANBest-G itself is the municipality's to fetch.
        let docs = w.app.engine.case_documents(&n).await.unwrap();
        let anbest = docs.iter().find(|d| d.template == "anbest-g").expect("the ANBest-G is a document of the case");
        assert!(page.contains(&anbest.sha256), "no link to the ANBest-G in:\n{page}");
        let r = w.get(&format!("/api/v1/documents/{}", anbest.sha256), &unna).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(crate::support::pdftotext(&r.body).contains("Nachweis der Verwendung"));
    }

    async fn a_notice_provided_for_retrieval_counts_as_notified_the_day_after_the_first_retrieval(db) {
        let w = crate::http::web_on(&db, &crate::http::retrieval_any_date()).await;
        let (unna, csrf) = w.login("unna").await;
        let (becker, _) = w.login("becker").await;
        // Consent, given and recorded with who and when.
        let r = w.form("/portal/einwilligung", &unna, &[("csrf", &csrf), ("aktion", "erteilen")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let page = w.get("/portal/einwilligung", &unna).await.text();
        assert!(page.contains("eingewilligt") && page.contains("19.03.2012, 09:00 Uhr von unna"), "{page}");

        let n = apply(&w, &unna, &csrf).await;
        grant(&w, &n, json!({})).await;
        // Provided, not posted: no Ab-Vermerk, no Klagefrist yet, a mail without attachment.
        let case = w.get(&format!("/api/v1/cases/{n}"), &becker).await.json();
        assert_eq!(case["data"]["bereitstellung_bescheid"], "2012-03-19");
        assert!(case["data"].get("ab_vermerk_bescheid").is_none_or(Value::is_null), "{case}");
        assert!(klagefrist(&w, &becker, &n).await.is_none());
        let mails = w.app.engine.case_mail(&n).await.unwrap();
        let m = mails.iter().find(|m| m.kind == "provision").expect("a notification mail");
        assert!(m.attachments.is_empty(), "no attachment, a link");
        assert!(m.body.contains(&format!("/portal/faelle/{n}")) && m.body.contains("29.03.2012"), "{}", m.body);
        let h = events(&w.get(&format!("/api/v1/cases/{n}/history"), &becker).await);
        let issued = h.iter().find(|e| e["kind"] == "letter_issued" && e["payload"]["template"] == "zuwendungsbescheid").unwrap();
        assert_eq!(issued["payload"]["channel"]["notification"], "Abruf im Portal (§ 41 Abs. 2a VwVfG NRW)");
        // The start page and the case page say a notice waits, and until
        // when it can be retrieved (the day the mail names).
        let start = w.get("/portal", &unna).await.text();
        assert!(start.contains("Schreiben zum Abruf bereit"), "{start}");
        assert!(start.contains(&format!("<a href=\"/portal/faelle/{n}\">Zuwendungsbescheid ({n})</a>: abrufbar bis 29.03.2012.")), "{start}");
        let page = w.get(&format!("/portal/faelle/{n}"), &unna).await.text();
        assert!(page.contains("abrufbar bis 29.03.2012; danach geht es Ihnen mit der Post zu."), "{page}");
        // Kreis Soest has nothing waiting.
        let (soest, _) = w.login("soest").await;
        assert!(!w.get("/portal", &soest).await.text().contains("zum Abruf bereit"));

        // Retrieved on day 3 (Thursday, 22.03.2012): notified Friday 23.03, Klagefrist to 23.04.2012.
        w.app.clock.advance(chrono::Duration::days(3));
        let (unna, _) = w.login("unna").await;
        let (becker, _) = w.login("becker").await;
        let docs = w.get(&format!("/api/v1/cases/{n}/documents"), &unna).await.json();
        let sha = docs.as_array().unwrap().iter().find(|d| d["template"] == "zuwendungsbescheid").unwrap()["sha256"].as_str().unwrap().to_string();
        // The office looking at it does not count.
        ok(&w.get(&format!("/api/v1/documents/{sha}"), &becker).await);
        assert!(klagefrist(&w, &becker, &n).await.is_none());
        let pdf_resp = w.get(&format!("/api/v1/documents/{sha}"), &unna).await;
        assert_eq!(pdf_resp.content_type(), "application/pdf");
        assert!(pdftotext(&pdf_resp.body).contains("Zuwendungsbescheid"));
        let (due, why) = klagefrist(&w, &becker, &n).await.expect("the Klagefrist runs");
        assert_eq!(due, "2012-04-23");
        assert!(why.contains("§ 41 Abs. 2a Satz 3 VwVfG NRW") && why.contains("22.03.2012") && why.contains("23.03.2012"), "{why}");
        let h = events(&w.get(&format!("/api/v1/cases/{n}/history"), &becker).await);
        assert!(h.iter().any(|e| e["kind"] == "document_retrieved" && e["actor"] == "unna"
            && e["payload"]["retrieved_on"] == "2012-03-22"), "{h:?}");
        // A second retrieval changes nothing.
        w.app.clock.advance(chrono::Duration::days(1));
        let (unna, _) = w.login("unna").await;
        let (becker, _) = w.login("becker").await;
        ok(&w.get(&format!("/api/v1/documents/{sha}"), &unna).await);
        assert_eq!(klagefrist(&w, &becker, &n).await.unwrap().0, "2012-04-23");
        let page = w.get(&format!("/portal/faelle/{n}"), &unna).await.text();
        assert!(page.contains("Abgerufen am 22.03.2012"), "{page}");
        assert!(!w.get("/portal", &unna).await.text().contains("zum Abruf bereit"), "retrieved: nothing waits");
        assert!(!page.contains("Empfang bestätigen"), "not sent against an Empfangsbekenntnis: {page}");
    }

    async fn a_retrieval_recorded_just_before_a_crash_gets_its_step_in_the_next_reminder_pass(db) {
        let w = crate::http::web_on(&db, &crate::http::retrieval_any_date()).await;
        let (unna, csrf) = w.login("unna").await;
        let r = w.form("/portal/einwilligung", &unna, &[("csrf", &csrf), ("aktion", "erteilen")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let n = apply(&w, &unna, &csrf).await;
        grant(&w, &n, json!({})).await;
        // Thursday 22.03.2012, 10:00: the retrieval's first transaction
        // commits (provision retrieved, journal event), then the process
        // dies before it fires the step. Written here as that transaction
        // writes it; `audit verify` below shows the chain is a true one.
        w.app.clock.set(crate::support::at("2012-03-22T09:00:00Z"));
        let at = crate::support::at("2012-03-22T09:00:00Z");
        let row = db.texts(&format!(
            "SELECT CAST(id AS TEXT) || ' ' || CAST(last_seq AS TEXT) || ' ' || head_hash FROM cases WHERE file_number = '{n}'"
        )).await;
        let parts: Vec<&str> = row[0].split(' ').collect();
        let (case_id, last_seq, head) = (parts[0].parse::<i64>().unwrap(), parts[1].parse::<i64>().unwrap(), parts[2]);
        let prov = db.texts(&format!(
            "SELECT CAST(id AS TEXT) || ' ' || sha256 FROM provisions WHERE case_id = {case_id} AND template = 'zuwendungsbescheid'"
        )).await;
        let (prov_id, sha) = prov[0].split_once(' ').unwrap();
        let events = amtspost::journal::chain(case_id, last_seq, head, at, vec![amtspost::journal::NewEvent {
            actor: "unna".into(),
            role: "municipality".into(),
            kind: amtspost::journal::EventKind::DocumentRetrieved,
            transition: None,
            payload: json!({
                "sha256": sha, "template": "zuwendungsbescheid", "retrieved_on": "2012-03-22",
                "notified_on": "2012-03-23",
                "rule": "§ 41 Abs. 2a Satz 3 VwVfG NRW: bekannt gegeben am Tag nach dem Abruf",
            }),
        }]);
        let e = &events[0];
        let ts = amtspost::journal::timestamp(at);
        db.execute_raw(&format!(
            "UPDATE provisions SET status = 'abgerufen', retrieved_at = '{ts}', retrieved_by = 'unna' WHERE id = {prov_id};
             INSERT INTO journal (case_id, seq, recorded_at, actor, role, kind, transition, payload, prev_hash, hash)
               VALUES ({case_id}, {}, '{}', 'unna', 'municipality', 'document_retrieved', NULL, '{}', '{}', '{}');
             UPDATE cases SET version = version + 1, last_seq = {}, head_hash = '{}', updated_at = '{ts}' WHERE id = {case_id}",
            e.seq, e.recorded_at, e.payload.to_string().replace('\'', "''"), e.prev_hash, e.hash, e.seq, e.hash
        )).await.unwrap();
        assert!(w.app.engine.audit(Some(&n)).await.unwrap().broken.is_empty());
        let (becker, _) = w.login("becker").await;
        assert!(klagefrist(&w, &becker, &n).await.is_none(), "the step was not fired");

        // The next morning's pass fires it, with the day of the retrieval.
        w.app.clock.set(crate::support::at("2012-03-23T06:00:00Z"));
        let r = w.app.engine.remind(false).await.unwrap();
        assert_eq!(r.provisions_completed, 1);
        let (becker, _) = w.login("becker").await;
        let (due, why) = klagefrist(&w, &becker, &n).await.expect("the Klagefrist runs");
        assert_eq!(due, "2012-04-23");
        assert!(why.contains("22.03.2012") && why.contains("23.03.2012"), "{why}");
        assert!(w.app.engine.audit(Some(&n)).await.unwrap().broken.is_empty());
        // Once: the next pass finds nothing to repair.
        w.app.clock.set(crate::support::at("2012-03-26T06:00:00Z"));
        assert_eq!(w.app.engine.remind(false).await.unwrap().provisions_completed, 0);
        let (becker, _) = w.login("becker").await;
        let h = events_of(&w, &becker, &n).await;
        assert_eq!(h.iter().filter(|e| e["kind"] == "fired" && e["transition"] == "bescheid_abgerufen").count(), 1);
    }

    async fn a_notice_retrieved_on_a_saturday_is_notified_on_the_sunday(db) {
        let w = crate::http::web_on(&db, &crate::http::retrieval_any_date()).await;
        let (unna, csrf) = w.login("unna").await;
        w.form("/portal/einwilligung", &unna, &[("csrf", &csrf), ("aktion", "erteilen")]).await;
        let n = apply(&w, &unna, &csrf).await;
        grant(&w, &n, json!({})).await;
        // Saturday 24.03.2012: notified Sunday 25.03 (the rule does not move it), to 25.04.2012.
        w.app.clock.advance(chrono::Duration::days(5));
        let (unna, _) = w.login("unna").await;
        let (becker, _) = w.login("becker").await;
        let docs = w.get(&format!("/api/v1/cases/{n}/documents"), &unna).await.json();
        let sha = docs.as_array().unwrap().iter().find(|d| d["template"] == "zuwendungsbescheid").unwrap()["sha256"].as_str().unwrap().to_string();
        ok(&w.get(&format!("/api/v1/documents/{sha}"), &unna).await);
        let (due, why) = klagefrist(&w, &becker, &n).await.unwrap();
        assert_eq!(due, "2012-04-25");
        assert!(why.contains("24.03.2012") && why.contains("25.03.2012"), "{why}");
    }

    async fn a_notice_not_retrieved_within_ten_days_goes_by_post_with_the_postal_fiction(db) {
        let w = crate::http::web_on(&db, &crate::http::retrieval_any_date()).await;
        let (unna, csrf) = w.login("unna").await;
        w.form("/portal/einwilligung", &unna, &[("csrf", &csrf), ("aktion", "erteilen")]).await;
        let n = apply(&w, &unna, &csrf).await;
        grant(&w, &n, json!({})).await;
        // Day 10 (29.03.2012): still provided.
        w.app.clock.advance(chrono::Duration::days(10));
        let (becker, _) = w.login("becker").await;
        assert_eq!(w.app.engine.remind(false).await.unwrap().provisions_ended, 0);
        assert!(klagefrist(&w, &becker, &n).await.is_none());
        // Day 11 (30.03.2012): the provision ends; posted that day, notified
        // on the third day (02.04.2012, § 41 Abs. 2), Klagefrist to 02.05.2012.
        w.app.clock.advance(chrono::Duration::days(1));
        let (unna, csrf) = w.login("unna").await;
        let (becker, _) = w.login("becker").await;
        assert_eq!(w.app.engine.remind(false).await.unwrap().provisions_ended, 1);
        let case = w.get(&format!("/api/v1/cases/{n}"), &becker).await.json();
        assert_eq!(case["data"]["ab_vermerk_bescheid"], "2012-03-30");
        let (due, why) = klagefrist(&w, &becker, &n).await.unwrap();
        assert_eq!(due, "2012-05-02");
        assert!(why.contains("§ 41 Abs. 2a Satz 4") && why.contains("nicht innerhalb von zehn Tagen"), "{why}");
        let h = events(&w.get(&format!("/api/v1/cases/{n}/history"), &becker).await);
        assert!(h.iter().any(|e| e["kind"] == "provision_ended"));
        assert!(h.iter().any(|e| e["transition"] == "bereitstellung_beendet" && e["actor"] == "amtspost"));
        // A retrieval now is no notification any more.
        let docs = w.get(&format!("/api/v1/cases/{n}/documents"), &unna).await.json();
        let sha = docs.as_array().unwrap().iter().find(|d| d["template"] == "zuwendungsbescheid").unwrap()["sha256"].as_str().unwrap().to_string();
        ok(&w.get(&format!("/api/v1/documents/{sha}"), &unna).await);
        assert_eq!(klagefrist(&w, &becker, &n).await.unwrap().0, "2012-05-02");
        assert_eq!(w.app.engine.remind(false).await.unwrap().provisions_ended, 0, "once");
        // Withdrawn consent: the next notice is posted again.
        let r = w.form("/portal/einwilligung", &unna, &[("csrf", &csrf), ("aktion", "widerrufen")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let n2 = apply(&w, &unna, &csrf).await;
        grant(&w, &n2, json!({})).await;
        let case = w.get(&format!("/api/v1/cases/{n2}"), &becker).await.json();
        assert!(case["data"].get("bereitstellung_bescheid").is_none_or(Value::is_null));
        assert!(klagefrist(&w, &becker, &n2).await.is_some(), "posted: the Klagefrist runs from the Ab-Vermerk");
        let page = w.get("/portal/einwilligung", &unna).await.text();
        assert!(page.contains("widerrufen am") && page.contains("keine Einwilligung"), "{page}");
    }

    async fn the_empfangsbekenntnis_is_given_in_the_portal_and_its_date_starts_the_klagefrist(db) {
        let w = web(&db).await;
        let (unna, csrf) = w.login("unna").await;
        let (becker, _) = w.login("becker").await;
        let n = apply(&w, &unna, &csrf).await;
        grant(&w, &n, json!({"gegen_eb": true})).await;
        assert!(klagefrist(&w, &becker, &n).await.is_none(), "waits for the Empfangsbekenntnis");
        let page = w.get(&format!("/portal/faelle/{n}"), &unna).await.text();
        assert!(page.contains("Empfang bestätigen"), "{page}");
        w.app.clock.advance(chrono::Duration::days(2));
        let (unna, csrf) = w.login("unna").await;
        let (becker, _) = w.login("becker").await;
        // A date in the future is refused at its field.
        let r = w.form(&format!("/portal/faelle/{n}/schritte/empfang_bestaetigen"), &unna,
            &[("csrf", &csrf), ("eb_datum", "2012-03-30")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().contains("nicht in der Zukunft"), "{}", r.text());
        // Only the step's own field: no other value of the case.
        let r = w.form(&format!("/portal/faelle/{n}/schritte/empfang_bestaetigen"), &unna,
            &[("csrf", &csrf), ("eb_datum", "2012-03-21"), ("foerderbetrag", "1000000")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().contains("kann nicht eingegeben werden"), "{}", r.text());
        let r = w.form(&format!("/portal/faelle/{n}/schritte/empfang_bestaetigen"), &unna,
            &[("csrf", &csrf), ("eb_datum", "2012-03-21"), ("ihr_zeichen", "anders")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().contains("gehört nicht zum Schritt „Empfang bestätigen (Empfangsbekenntnis)“"), "{}", r.text());
        let r = w.form(&format!("/portal/faelle/{n}/schritte/empfang_bestaetigen"), &unna,
            &[("csrf", &csrf), ("eb_datum", "2012-03-21")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        // 21.03.2012 + 1 month = Saturday 21.04.2012, moved to Monday 23.04.2012.
        let (due, why) = klagefrist(&w, &becker, &n).await.unwrap();
        assert_eq!(due, "2012-04-23");
        assert!(why.contains("Empfangsbekenntnis"), "{why}");
        let h = events(&w.get(&format!("/api/v1/cases/{n}/history"), &becker).await);
        assert!(h.iter().any(|e| e["transition"] == "empfang_bestaetigen" && e["actor"] == "unna"));
    }

    async fn a_circular_is_read_in_the_portal_and_its_author_sees_the_read_receipts(db) {
        let w = web(&db).await;
        let n = send_circular(&w).await;
        let (unna, _) = w.login("unna").await;
        let (soest, _) = w.login("soest").await;
        let (roth, _) = w.login("roth").await;
        let portal = w.get("/portal", &unna).await.text();
        assert!(portal.contains(&format!("/portal/rundschreiben/{n}")) && portal.contains("neu"), "{portal}");
        let page = w.get(&format!("/portal/rundschreiben/{n}"), &unna).await;
        assert_eq!(page.status, StatusCode::OK);
        let sha = page.text().split("/api/v1/documents/").nth(1).unwrap()[..64].to_string();
        let pdf_resp = w.get(&format!("/api/v1/documents/{sha}"), &unna).await;
        assert!(pdftotext(&pdf_resp.body).contains("Kommunale Integrationszentren"));
        // The author's page: Unna has read it, Soest not yet.
        let page = w.get(&format!("/rundschreiben/{n}"), &roth).await.text();
        assert!(page.contains("1 von 31 Mitgliedern gelesen"), "{page}");
        let unna_row = page.split("<td>Kreis Unna</td>").nth(1).unwrap().split("</tr>").next().unwrap();
        assert!(unna_row.contains("19.03.2012") && unna_row.contains("unna"), "{unna_row}");
        let soest_row = page.split("<td>Kreis Soest</td>").nth(1).unwrap().split("</tr>").next().unwrap();
        assert!(soest_row.contains("noch nicht"), "{soest_row}");
        // Read twice, counted once; a non-member (Stadt Hamm) gets 404.
        ok(&w.get(&format!("/portal/rundschreiben/{n}"), &unna).await);
        ok(&w.get(&format!("/portal/rundschreiben/{n}"), &soest).await);
        let page = w.get(&format!("/rundschreiben/{n}"), &roth).await.text();
        assert!(page.contains("2 von 31 Mitgliedern gelesen"), "{page}");
        let h = events(&w.get(&format!("/api/v1/cases/{n}/history"), &roth).await);
        assert_eq!(h.iter().filter(|e| e["kind"] == "circular_read").count(), 2);
    }
}

/// Writes, releases and sends a circular to all members; its file number.
pub(crate) async fn send_circular(w: &Web) -> String {
    let (roth, csrf) = w.login("roth").await;
    let (klein, klein_csrf) = w.login("lkt_leitung").await;
    let r = w
        .form(
            "/rundschreiben",
            &roth,
            &[
                ("csrf", &csrf),
                ("betreff", "Kommunale Integrationszentren"),
                ("aktenzeichen", "50.50.00/33.60.01 Li/Sü"),
            ],
        )
        .await;
    let url = r.headers[header::LOCATION].to_str().unwrap().to_string();
    let n = url.rsplit('/').next().unwrap().to_string();
    let fields = [
        ("csrf", csrf.as_str()),
        ("betreff", "Kommunale Integrationszentren"),
        ("aktenzeichen", "50.50.00/33.60.01 Li/Sü"),
        (
            "text",
            "Der Landtag hat das Teilhabe- und Integrationsgesetz beschlossen.",
        ),
        ("unterzeichner", "Dr. Klein"),
        ("zeichnungsvermerk", "In Vertretung"),
    ];
    ok(&w.form(&format!("{url}/vorlegen"), &roth, &fields).await);
    ok(&w
        .form(
            &format!("/faelle/{n}/schritte/freigeben"),
            &klein,
            &[("csrf", &klein_csrf)],
        )
        .await);
    ok(&w
        .form(
            &format!("{url}/versenden"),
            &klein,
            &[("csrf", &klein_csrf)],
        )
        .await);
    n
}

/// Every (method, path) the server answers, from the route table the
/// router itself is built from (nested and merged routers included): a
/// route added anywhere shows up here.
fn served_routes() -> std::collections::BTreeSet<(String, String)> {
    amtspost::http::route_table()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect()
}

/// Who gets what. Each row: method, route, the answer for Kreis Unna (the
/// case's party), for Kreis Soest (another municipality) and for a clerk,
/// on Kreis Unna's case, letter and upload. 404 is the answer for what one
/// may not see, exactly as for what does not exist.
const TABLE: &[(&str, &str, u16, u16, u16)] = &[
    ("GET", "/healthz", 200, 200, 200),
    ("GET", "/readyz", 200, 200, 200),
    ("POST", "/api/v1/session", 401, 401, 401),
    ("GET", "/api/v1/session", 200, 200, 200),
    ("DELETE", "/api/v1/session", 204, 204, 204),
    ("GET", "/api/v1/openapi.json", 200, 200, 200),
    ("GET", "/api/v1/workflows", 200, 200, 200),
    ("GET", "/api/v1/workflows/{id}", 200, 200, 200),
    ("GET", "/api/v1/workflows/{id}/graph", 200, 200, 200),
    ("GET", "/api/v1/cases", 200, 200, 200),
    ("POST", "/api/v1/cases", 403, 403, 201),
    ("POST", "/api/v1/cases/assign", 403, 403, 403),
    ("GET", "/api/v1/absences", 200, 200, 200),
    ("POST", "/api/v1/absences", 403, 403, 201),
    ("GET", "/api/v1/cases/{file_number}", 200, 404, 200),
    ("GET", "/api/v1/cases/{file_number}/history", 200, 404, 200),
    (
        "GET",
        "/api/v1/cases/{file_number}/deadlines",
        200,
        404,
        200,
    ),
    (
        "GET",
        "/api/v1/cases/{file_number}/documents",
        200,
        404,
        200,
    ),
    ("GET", "/api/v1/cases/{file_number}/uploads", 200, 404, 200),
    ("POST", "/api/v1/cases/{file_number}/uploads", 201, 404, 403),
    (
        "GET",
        "/api/v1/cases/{file_number}/uploads/{id}",
        200,
        404,
        200,
    ),
    (
        "POST",
        "/api/v1/cases/{file_number}/fire/{transition}",
        403,
        404,
        422,
    ),
    (
        "POST",
        "/api/v1/cases/{file_number}/preview/{transition}",
        403,
        404,
        200,
    ),
    ("GET", "/api/v1/documents/{sha256}", 200, 404, 200),
    ("GET", "/api/v1/outbox", 403, 403, 200),
    ("POST", "/api/v1/outbox/{id}/retry", 403, 403, 409),
    ("GET", "/api/v1/audit/verify", 403, 403, 200),
    ("GET", "/api/v1/deadlines/compute", 200, 200, 200),
    ("GET", "/", 303, 303, 303),
    ("GET", "/login", 200, 200, 200),
    ("POST", "/login", 403, 403, 403),
    ("POST", "/logout", 303, 303, 303),
    ("GET", "/arbeitskorb", 303, 303, 200),
    ("GET", "/arbeitskorb/anzahl", 200, 200, 200),
    ("POST", "/arbeitskorb/zuweisen", 403, 403, 403),
    ("GET", "/faelle/{file_number}", 303, 404, 200),
    (
        "POST",
        "/faelle/{file_number}/schritte/{transition}",
        403,
        404,
        422,
    ),
    (
        "POST",
        "/faelle/{file_number}/vorschau/{transition}",
        403,
        404,
        200,
    ),
    ("GET", "/vertretung", 303, 303, 200),
    ("GET", "/faelle/neu", 303, 303, 200),
    ("GET", "/faelle/neu/{workflow}/{form}", 303, 303, 200),
    // An empty form is refused at its first field.
    ("POST", "/faelle/neu/{workflow}/{form}", 403, 403, 422),
    ("GET", "/controlling", 303, 303, 200),
    ("GET", "/controlling.csv", 303, 303, 200),
    ("POST", "/vertretung", 403, 403, 422),
    ("GET", "/fristen", 303, 303, 200),
    ("GET", "/postausgang", 403, 403, 200),
    ("POST", "/postausgang/{id}/erneut", 403, 403, 409),
    ("GET", "/rundschreiben", 303, 303, 200),
    ("POST", "/rundschreiben", 403, 403, 403),
    ("GET", "/rundschreiben/vorschau/{id}", 404, 404, 404),
    ("GET", "/rundschreiben/{circular}", 404, 404, 200),
    // A preview writes nothing; any office user may look.
    ("POST", "/rundschreiben/{circular}/vorschau", 404, 404, 200),
    ("POST", "/rundschreiben/{circular}/vorlegen", 404, 404, 403),
    ("POST", "/rundschreiben/{circular}/versenden", 404, 404, 403),
    ("GET", "/static/{name}", 200, 200, 200),
    ("GET", "/portal", 200, 200, 404),
    ("GET", "/portal/antraege/{workflow}/{form}", 200, 200, 404),
    ("POST", "/portal/antraege/{workflow}/{form}", 422, 422, 404),
    ("GET", "/portal/faelle/{file_number}", 200, 404, 404),
    (
        "POST",
        "/portal/faelle/{file_number}/hochladen",
        303,
        404,
        404,
    ),
    (
        "POST",
        "/portal/faelle/{file_number}/schritte/{transition}",
        403,
        404,
        404,
    ),
    ("GET", "/portal/rundschreiben/{circular}", 200, 200, 404),
    ("GET", "/portal/einwilligung", 200, 200, 404),
    ("POST", "/portal/einwilligung", 303, 303, 404),
    // The legal pages are open to everybody; an empty report is refused
    // at its field.
    ("GET", "/impressum", 200, 200, 200),
    ("GET", "/datenschutz", 200, 200, 200),
    ("GET", "/barrierefreiheit", 200, 200, 200),
    ("POST", "/barrierefreiheit", 422, 422, 422),
];

/// The world the walk runs in: Kreis Unna's case with a letter and an
/// upload, Kreis Soest's case, a circular sent to both.
pub(crate) struct World {
    pub(crate) unna_case: String,
    soest_case: String,
    circular: String,
    pub(crate) letter: String,
    upload: i64,
    mail: i64,
}

pub(crate) async fn world(w: &Web) -> World {
    let (unna, csrf) = w.login("unna").await;
    let (becker, _) = w.login("becker").await;
    let unna_case = apply(w, &unna, &csrf).await;
    ok(&w
        .fire(
            &becker,
            &unna_case,
            "eingang_bestaetigen",
            None,
            json!({"bearbeiter_name": "Anna Becker"}),
        )
        .await);
    let docs = w
        .get(&format!("/api/v1/cases/{unna_case}/documents"), &becker)
        .await
        .json();
    let letter = docs[0]["sha256"].as_str().unwrap().to_string();
    let up = w
        .upload((&unna, &csrf), &unna_case, "Anlage.pdf", &pdf("Anlage"))
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text());
    let soest_case = soest_case(w, &becker).await;
    let circular = send_circular(w).await;
    let mail = w.app.engine.case_mail(&unna_case).await.unwrap()[0].id;
    World {
        unna_case,
        soest_case,
        circular,
        letter,
        upload: up.json()["id"].as_i64().unwrap(),
        mail,
    }
}

/// Sends one row's request as `user`.
async fn call(w: &Web, world: &World, user: &str, method: &str, route: &str) -> Resp {
    let (cookie, csrf) = w.login(user).await;
    let uri = route
        .replace("/workflows/{id}", "/workflows/ki-foerderantrag")
        .replace("{file_number}", &world.unna_case)
        .replace("{circular}", &world.circular)
        .replace("{sha256}", &world.letter)
        .replace("{workflow}", "ki-foerderantrag")
        .replace("{form}", "antrag")
        .replace("{name}", "amtspost.css")
        .replace(
            "{transition}",
            if route.contains("vorschau") || route.contains("preview") {
                "nachfordern"
            } else {
                "bewilligung_vorschlagen"
            },
        )
        .replace(
            "{id}",
            &if route.contains("uploads") {
                world.upload.to_string()
            } else if route.contains("vorschau") {
                "0".into()
            } else {
                world.mail.to_string()
            },
        );
    let uri = match route {
        "/api/v1/deadlines/compute" => format!("{uri}?from=2012-03-19&period=1M"),
        _ => uri,
    };
    let json_body = |v: Value| Some(v);
    match (method, route) {
        ("POST", "/api/v1/session") => {
            w.json(
                "POST",
                &uri,
                None,
                json_body(json!({"user": user, "password": "falsch"})),
            )
            .await
        }
        ("POST", r) if r.ends_with("/uploads") => {
            w.upload(
                (&cookie, &csrf),
                &world.unna_case,
                "Nachtrag.pdf",
                &pdf("Nachtrag"),
            )
            .await
        }
        ("POST", r) if r.ends_with("/hochladen") => {
            w.upload_page(
                &cookie,
                &csrf,
                &world.unna_case,
                "Nachtrag.pdf",
                &pdf("Nachtrag"),
            )
            .await
        }
        ("POST", "/api/v1/cases") => {
            let k = kommune("Kreis Unna");
            w.json("POST", &uri, Some(&cookie), json_body(json!({"workflow": "ki-foerderantrag",
                "data": antrag_kreis_unna(), "parties": {"applicant": serde_json::to_value(party_of(&k)).unwrap()}}))).await
        }
        ("POST", "/api/v1/cases/assign") => {
            w.json(
                "POST",
                &uri,
                Some(&cookie),
                json_body(json!({"file_numbers": [world.unna_case], "user": "wagner"})),
            )
            .await
        }
        ("POST", "/api/v1/absences") => {
            w.json(
                "POST",
                &uri,
                Some(&cookie),
                json_body(
                    json!({"substitute": "wagner", "from": "2012-03-20", "until": "2012-03-21"}),
                ),
            )
            .await
        }
        ("POST", r) if r.ends_with("/preview/{transition}") => {
            w.json(
                "POST",
                &uri,
                Some(&cookie),
                json_body(json!({"data": {"fehlende_unterlagen": ["Stellenplan"]}})),
            )
            .await
        }
        ("POST", r) if r.starts_with("/api/") => {
            w.json("POST", &uri, Some(&cookie), json_body(json!({"data": {}})))
                .await
        }
        ("POST", "/login") => {
            w.form(&uri, "", &[("user", user), ("password", "falsch")])
                .await
        }
        ("POST", "/portal/einwilligung") => {
            w.form(&uri, &cookie, &[("csrf", &csrf), ("aktion", "erteilen")])
                .await
        }
        ("POST", "/vertretung") => {
            w.form(
                &uri,
                &cookie,
                &[
                    ("csrf", &csrf),
                    ("substitute", ""),
                    ("from", ""),
                    ("until", ""),
                ],
            )
            .await
        }
        ("POST", "/arbeitskorb/zuweisen") => {
            w.form(
                &uri,
                &cookie,
                &[
                    ("csrf", &csrf),
                    ("user", "wagner"),
                    ("case", &world.unna_case),
                ],
            )
            .await
        }
        ("POST", r) if r.contains("vorschau") => {
            w.form(
                &uri,
                &cookie,
                &[("csrf", &csrf), ("fehlende_unterlagen", "Stellenplan")],
            )
            .await
        }
        ("POST", _) => w.form(&uri, &cookie, &[("csrf", &csrf)]).await,
        (m, _) => w.json(m, &uri, Some(&cookie), None).await,
    }
}

mod separation {
    use super::*;

    on_both_databases! {
        async fn every_route_and_page_answers_each_municipality_only_with_its_own_affairs(db) {
            let w = web(&db).await;
            // The table covers exactly the routes the router serves (the OpenAPI
            // document's are the same: see the OpenAPI coverage test).
            let wanted = served_routes();
            assert!(wanted.len() > 50, "{wanted:?}");
            let table: std::collections::BTreeSet<(String, String)> = TABLE.iter()
                .map(|(m, r, ..)| (m.to_string(), r.replace("{circular}", "{file_number}"))).collect();
            let missing: Vec<_> = wanted.difference(&table).collect();
            assert!(missing.is_empty(), "routes without an entry in the separation table: {missing:?}");
            let stale: Vec<_> = table.difference(&wanted).collect();
            assert!(stale.is_empty(), "entries for routes that do not exist: {stale:?}");

            let world = world(&w).await;
            let mut wrong = Vec::new();
            for (method, route, unna, soest, office) in TABLE {
                for (user, want) in [("unna", unna), ("soest", soest), ("becker", office)] {
                    let r = call(&w, &world, user, method, route).await;
                    if r.status.as_u16() != *want {
                        wrong.push(format!("{method} {route} as {user}: {} (expected {want}) {}", r.status, r.text().chars().take(200).collect::<String>()));
                    }
                    // Whatever Soest gets never names Kreis Unna's letter, nor
                    // its case where the request did not name it.
                    if user == "soest" {
                        let text = r.text();
                        if text.contains(&world.letter)
                            || !route.contains("{file_number}")
                                && *route != "/api/v1/openapi.json"
                                && text.contains(&world.unna_case)
                        {
                            wrong.push(format!("{method} {route} as soest shows Kreis Unna's affairs"));
                        }
                    }
                }
            }
            assert!(wrong.is_empty(), "{}", wrong.join("\n"));

            // Lists and searches: each sees its own only.
            let (unna, _) = w.login("unna").await;
            let (soest, _) = w.login("soest").await;
            // Another's case answers exactly as one that does not exist.
            for route in ["/api/v1/cases/{n}", "/api/v1/cases/{n}/uploads", "/portal/faelle/{n}"] {
                let theirs = w.get(&route.replace("{n}", &world.unna_case), &soest).await;
                let none = w.get(&route.replace("{n}", "KI-2012-9999"), &soest).await;
                assert_eq!(theirs.status, none.status, "{route}");
                assert_eq!(theirs.text().replace(&world.unna_case, "KI-2012-9999"), none.text(), "{route}");
            }
            let theirs = w.get(&format!("/api/v1/documents/{}", world.letter), &soest).await;
            let none = w.get(&format!("/api/v1/documents/{}", "0".repeat(64)), &soest).await;
            assert_eq!((theirs.status, theirs.text()), (none.status, none.text()));
            let list = |v: Value| v["items"].as_array().unwrap().iter().map(|i| i["file_number"].as_str().unwrap().to_string()).collect::<Vec<_>>();
            let mine = list(w.get("/api/v1/cases?limit=500", &unna).await.json());
            assert!(mine.contains(&world.unna_case) && !mine.contains(&world.soest_case), "{mine:?}");
            let theirs = list(w.get("/api/v1/cases?limit=500", &soest).await.json());
            assert!(theirs.contains(&world.soest_case) && !theirs.contains(&world.unna_case), "{theirs:?}");
            assert!(list(w.get(&format!("/api/v1/cases?q={}", world.unna_case), &soest).await.json()).is_empty());
            assert!(list(w.get("/api/v1/cases?party=Kreis%20Unna", &soest).await.json()).iter().all(|n| n != &world.unna_case));
            let portal = w.get("/portal", &soest).await.text();
            assert!(portal.contains(&world.soest_case) && !portal.contains(&world.unna_case), "{portal}");
        }
    }
}

/// A workflow whose online form sends the Eingangsbestätigung at once
/// (`then`), where ki-foerderantrag waits for a clerk.
const AT_ONCE: &str = r#"id = "online"
version = 1
title = "Online-Antrag (Testverfahren)"
register = "ON"

[roles]
clerk = "Sachbearbeitung"
system = "amtspost (automatisch)"

[parties]
applicant = { title = "Antragsteller", required = true }

[fields]
name = { type = "string", required = true }
eingang = { type = "date" }
posts = { type = "number", required = true }

[forms.antrag]
title = "Online-Antrag"
party = "applicant"
party_field = "name"
received = "eingang"
fields = ["posts"]
then = "bestaetigen"

[[states]]
name = "eingegangen"
initial = true

[[states]]
name = "in_pruefung"
final = true

[[transitions]]
name = "bestaetigen"
from = "eingegangen"
to = "in_pruefung"
roles = ["system", "clerk"]
effects = [
  { letter = "eingangsbestaetigung", to = "applicant", data = """
    {
      "subject": ["Ihr Online-Antrag", "Eingangsbestätigung"],
      "application": {"date": data.eingang, "received": data.eingang, "subject": "Förderung für " + data.name},
      "signature": {"note": "Im Auftrag", "name": "Meier"}
    }""" },
]
"#;

mod at_once {
    use super::*;

    on_both_databases! {
        async fn a_form_with_then_sends_the_eingangsbestaetigung_at_once_and_refuses_a_missing_field(db) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("online.toml"), AT_ONCE).unwrap();
            let app = crate::support::TestApp::with_workflows(&db, dir.path()).await;
            let unna = party_of(&kommune("Kreis Unna"));
            // Checked like any case: the required field is missing.
            let e = app.engine.apply_online("online", "antrag", serde_json::Map::new(), unna.clone(), "unna").await.unwrap_err();
            assert!(e.to_string().contains("posts"), "{e}");
            // Fields outside the form are not taken.
            let data = crate::seed::obj(json!({"posts": 2, "name": "Kreis Soest"}));
            let view = app.engine.apply_online("online", "antrag", data, unna, "unna").await.unwrap();
            assert_eq!(view.state.as_str(), "in_pruefung");
            assert_eq!(view.data["name"], "Kreis Unna");
            assert_eq!(view.data["eingang"], "2012-03-19");
            let docs = app.engine.case_documents(view.file_number.as_str()).await.unwrap();
            assert_eq!(docs.len(), 1);
            assert_eq!(docs[0].template, "eingangsbestaetigung");
            let h = app.engine.history(view.file_number.as_str()).await.unwrap();
            assert_eq!((h[0].actor.as_str(), h[0].role.as_str()), ("unna", "applicant"));
            let fired = h.iter().find(|e| e.transition.as_deref() == Some("bestaetigen")).unwrap();
            assert_eq!((fired.actor.as_str(), fired.role.as_str()), ("amtspost", "system"));
        }
    }
}

#[tokio::test]
async fn a_municipality_user_is_bound_to_a_municipality_of_the_directory() {
    let db = TestDb::sqlite().await;
    let bin = crate::support::Bin {
        db: &db,
        workflows: crate::seed::shipped(),
    };
    let err = bin
        .run(&[
            "user",
            "add",
            "unna",
            "--role",
            "municipality",
            "--party",
            "Kreis Unnna",
        ])
        .fails();
    assert!(
        err.contains("kommunen.json") && err.contains("Kreis Unnna"),
        "{err}"
    );
    bin.run(&[
        "user",
        "add",
        "unna",
        "--role",
        "municipality",
        "--party",
        "Kreis Unna",
    ])
    .ok();
}
