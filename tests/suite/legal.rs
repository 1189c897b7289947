//! The pages a German authority's web offer must have (SECURITY-REVIEW §5,
//! RESEARCH §6): Impressum, Datenschutzerklärung and Erklärung zur
//! Barrierefreiheit, linked from every page's footer, open without login,
//! their text the office's own; and the statement's form, whose reports
//! reach the office by mail.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::http::{Resp, Web, web, web_with};
use crate::on_both_databases;
use crate::seed::shipped;
use crate::support::smtp::SmtpSink;
use crate::support::{TestApp, test_config};

const FOOTER: [&str; 3] = [
    "<a href=\"/impressum\"",
    "<a href=\"/datenschutz\"",
    "<a href=\"/barrierefreiheit\"",
];

impl Web {
    /// A report from the accessibility statement's form, as a browser
    /// without login sends it.
    async fn report(&self, fields: &[(&str, &str)]) -> Resp {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            Request::builder()
                .method("POST")
                .uri("/barrierefreiheit")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }
}

on_both_databases! {
    async fn the_three_pages_are_open_without_login_and_linked_from_every_page(db) {
        let w = web(&db).await;
        for (path, musts) in [
            ("/impressum", &["<h1>Impressum</h1>", "Bezirksregierung Arnsberg", "Seibertzstraße 1", "poststelle@bra.example.org", "§ 18 Abs. 2 Medienstaatsvertrag", "Bitte ergänzen"][..]),
            ("/datenschutz", &["<h1>Datenschutzerklärung</h1>", "Art. 6 Abs. 1 Buchst. e DSGVO", "LDI NRW", "nach 15 Minuten", "nach 30 Minuten ohne Nutzung", "Art. 21 DSGVO"][..]),
            ("/barrierefreiheit", &["<h1>Erklärung zur Barrierefreiheit</h1>", "§ 10d BGG NRW", "ombudsstelle-barrierefreie-it@mags.nrw.de", "<form method=\"post\" action=\"/barrierefreiheit\"", "<label for=\"nachricht\">"][..]),
        ] {
            let r = w.json("GET", path, None, None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            let html = r.text();
            for m in musts {
                assert!(html.contains(m), "{path} lacks {m}:\n{html}");
            }
            assert!(html.contains(&format!("<a href=\"{path}\" aria-current=\"page\">")), "{path}");
            assert!(!html.contains("{{") && !html.contains("{#"), "{path}: template syntax shown");
        }
        // Every page's footer links them: the login page, the office's
        // Arbeitskorb, the municipality's portal, an error page.
        let (becker, _) = w.login("becker").await;
        let (unna, _) = w.login("unna").await;
        for (path, cookie) in [("/login", None), ("/arbeitskorb", Some(&becker)), ("/portal", Some(&unna)), ("/faelle/GIBT-ES-NICHT", Some(&becker))] {
            let mut b = Request::builder().uri(path).header(header::ACCEPT, "text/html");
            if let Some(c) = cookie {
                b = b.header(header::COOKIE, c.as_str());
            }
            let html = w.send(b.body(Body::empty()).unwrap()).await.text();
            for link in FOOTER {
                assert!(html.contains(link), "{path} lacks {link}");
            }
        }
        // Logged in, the pages keep the person's frame.
        let r = w.json("GET", "/impressum", Some(&becker), None).await;
        assert!(r.text().contains("Anna Becker") && r.text().contains("Abmelden"));
    }

    async fn a_reported_barrier_reaches_the_office_by_mail(db) {
        let sink = SmtpSink::start().await;
        let w = web(&db).await;
        let outbox = "SELECT COUNT(*) FROM outbox WHERE kind = 'barrierefreiheit'";

        // Mistakes come back at their fields, with a summary linking them,
        // and nothing is queued.
        let r = w.report(&[("nachricht", "  "), ("seite", "/arbeitskorb\u{0}"), ("kontakt", "")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text();
        assert!(html.contains("<a href=\"#nachricht\">Bitte beschreiben Sie die Barriere"), "{html}");
        assert!(html.contains("<a href=\"#seite\">Die Angabe der Seite enthält ein Steuerzeichen"), "{html}");
        assert!(html.contains("id=\"nachricht\" name=\"nachricht\" rows=\"6\" required maxlength=\"20000\" aria-invalid=\"true\""), "{html}");
        assert_eq!(db.count(outbox).await, 0);

        let r = w.report(&[
            ("nachricht", "Die Fristenliste lässt sich mit dem Bildschirmleser nicht sortieren."),
            ("seite", "/fristen"),
            ("kontakt", "m.muster@kreis-unna.example.org"),
        ]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let to = r.headers[header::LOCATION].to_str().unwrap().to_string();
        assert!(to.starts_with("/barrierefreiheit?gesendet=1"), "{to}");
        let page = w.json("GET", &to, None, None).await.text();
        assert!(page.contains("Vielen Dank. Ihre Meldung ist bei uns eingegangen"), "{page}");
        assert_eq!(db.count(outbox).await, 1);

        let report = w.app.courier(sink.port, 3).deliver_due().await.unwrap();
        assert_eq!(report.sent, 1, "{:?}", report.errors);
        let mails = sink.wait_for(1, Duration::from_secs(10)).await;
        let m = &mails[0];
        assert_eq!(m.envelope_to, ["poststelle@bra.example.org"]);
        assert_eq!(m.subject, "Meldung einer Barriere über die Erklärung zur Barrierefreiheit");
        for part in ["Die Fristenliste lässt sich", "Betroffene Seite: /fristen", "Kontakt für die Antwort: m.muster@kreis-unna.example.org", "am 19.03.2012", "§ 10d BGG NRW"] {
            assert!(m.text.contains(part), "{part}:\n{}", m.text);
        }

        // A logged-in person's form carries the session's CSRF token.
        let (becker, csrf) = w.login("becker").await;
        let r = w.form("/barrierefreiheit", &becker, &[("nachricht", "Ohne Token")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = w.form("/barrierefreiheit", &becker, &[("nachricht", "Mit Token"), ("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(db.count(outbox).await, 2);

        // One address cannot flood the office's mailbox: five an hour.
        for i in 0..3 {
            let r = w.report(&[("nachricht", &format!("Meldung {i}"))]).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER);
        }
        let r = w.report(&[("nachricht", "Meldung 6")]).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.text().contains("Bitte schreiben Sie uns per E-Mail an poststelle@bra.example.org"), "{}", r.text());
        assert_eq!(db.count(outbox).await, 5);
        w.app.clock.advance(chrono::Duration::minutes(61));
        assert_eq!(w.report(&[("nachricht", "Meldung 7")]).await.status, StatusCode::SEE_OTHER);
    }

    async fn the_office_edits_its_texts_without_a_new_build(db) {
        let templates = db.dir.path().join("vorlagen");
        crate::letters::copy_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"), &templates);
        std::fs::write(
            templates.join("web/rechtliches/impressum.html"),
            "<p>Vertreten durch den Regierungspräsidenten {{ office.city }}.</p>",
        )
        .unwrap();
        let mut config = test_config(&db, &shipped());
        config.templates_dir = templates.clone();
        config.office.accessibility_email = "barrierefrei@bra.example.org".into();
        let w = web_with(TestApp::try_build(config.clone(), None).await.unwrap()).await;
        let html = w.json("GET", "/impressum", None, None).await.text();
        assert!(html.contains("Vertreten durch den Regierungspräsidenten Arnsberg."), "{html}");
        assert!(!html.contains("Bitte ergänzen"), "{html}");
        // The others keep the shipped text; reports go to the own address.
        let html = w.json("GET", "/barrierefreiheit", None, None).await.text();
        assert!(html.contains("mailto:barrierefrei@bra.example.org"), "{html}");

        // A broken text stops the server at start-up, naming the file.
        std::fs::write(templates.join("web/rechtliches/datenschutz.html"), "{% if %}").unwrap();
        let app = TestApp::try_build(config, None).await.unwrap();
        let err = amtspost::http::router(app.app.clone()).err().expect("a broken page is refused").to_string();
        assert!(err.contains("rechtliches/datenschutz.html"), "{err}");
    }
}
