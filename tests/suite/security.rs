//! The security review's fixes (SECURITY-REVIEW.md), each with a test that
//! fails without it, on SQLite and PostgreSQL where storage is involved.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::http::{PASSWORD, Web, web};
use crate::on_both_databases;

impl Web {
    /// Logs in through the login page as a browser does, with `next`;
    /// returns the answer to the form post.
    async fn login_with_next(&self, user: &str, password: &str, next: &str) -> crate::http::Resp {
        let page = self.json("GET", "/login", None, None).await;
        let cookie = page.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let text = page.text();
        let at = text
            .find("name=\"csrf\" value=\"")
            .expect("the login form has a token")
            + 19;
        let token = &text[at..at + text[at..].find('"').unwrap()];
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("user", user),
                ("password", password),
                ("csrf", token),
                ("next", next),
            ])
            .finish();
        self.send(
            Request::builder()
                .method("POST")
                .uri("/login")
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }
}

on_both_databases! {
    async fn every_answer_carries_the_security_headers(db) {
        // D7: no CSP, framing, sniffing or caching headers on any answer.
        let w = web(&db).await;
        let (becker, _) = w.login("becker").await;
        let n = w.open_unna(&becker).await;
        w.fire(&becker, &n, "eingang_bestaetigen", None, serde_json::json!({})).await;
        let docs = w.json("GET", &format!("/api/v1/cases/{n}/documents"), Some(&becker), None).await.json();
        let pdf = format!("/api/v1/documents/{}", docs[0]["sha256"].as_str().unwrap());
        for (uri, cookie) in [
            ("/login", None),
            ("/healthz", None),
            ("/arbeitskorb", Some(becker.as_str())),
            (&format!("/faelle/{n}") as &str, Some(becker.as_str())),
            (&format!("/api/v1/cases/{n}") as &str, Some(becker.as_str())),
            ("/api/v1/cases/KI-1999-9999", Some(becker.as_str())),
            (pdf.as_str(), Some(becker.as_str())),
        ] {
            let r = w.json("GET", uri, cookie, None).await;
            let h = |name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            assert_eq!(h("x-content-type-options"), "nosniff", "{uri}");
            assert_eq!(h("referrer-policy"), "same-origin", "{uri}");
            assert_eq!(h("cache-control"), "no-store", "{uri}");
            let csp = h("content-security-policy");
            if uri == pdf {
                // The Fallseite shows its own PDFs in a frame; nobody else may.
                assert_eq!(csp, "frame-ancestors 'self'", "{uri}");
            } else {
                assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{uri}: {csp}");
                assert!(!csp.contains("unsafe-inline"), "{uri}: {csp}");
            }
            assert!(r.headers.get("strict-transport-security").is_none(), "no HSTS without https: {uri}");
        }
        // Static assets may be cached.
        let r = w.json("GET", "/static/htmx.min.js", None, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.headers.get("cache-control").is_none_or(|v| v != "no-store"));
    }

    async fn after_the_login_only_a_path_on_this_server_is_followed(db) {
        let w = web(&db).await;
        // D4: Chromium drops the tab and went to http://evil.example/phish.
        for bad in ["/\t/evil.example/phish", "//evil.example", "/\\evil.example", "https://evil.example/"] {
            let r = w.login_with_next("becker", PASSWORD, bad).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{bad:?}: {}", r.text());
            assert_eq!(r.headers[header::LOCATION], "/", "{bad:?}");
        }
        let r = w.login_with_next("becker", PASSWORD, "/fristen").await;
        assert_eq!(r.headers[header::LOCATION], "/fristen");
    }

    async fn an_unknown_user_costs_a_password_verification_like_a_known_one(db) {
        let w = web(&db).await;
        // D6: a short password used to return at once for an unknown user
        // (no hash was computed), so the time told which names exist. Both
        // now cost one Argon2 verification; compare the faster of two
        // attempts each (four failures stay below the failure limit) with a
        // generous factor.
        let time = |user: &'static str| {
            let w = &w;
            async move {
                let mut ms = Vec::new();
                for _ in 0..2 {
                    let start = std::time::Instant::now();
                    let r = w.login_with_next(user, "kurz", "/").await;
                    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
                    ms.push(start.elapsed().as_secs_f64());
                }
                ms.into_iter().fold(f64::MAX, f64::min)
            }
        };
        let known = time("schulte").await;
        let unknown = time("niemand").await;
        assert!(unknown > known / 3.0, "unknown {unknown:.4}s vs known {known:.4}s");
    }
}
