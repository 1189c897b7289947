//! The web UI in a real browser: Debian's Chromium, driven over WebDriver
//! (chromedriver, started here) with fantoccini, against the HTTP server on a
//! real socket. axe-core checks every page the test visits. The test fails,
//! never skips, when Chromium, chromedriver or axe-core are missing:
//! `bash .ci/run` installs them (`apt-get install chromium chromium-driver`,
//! `npm install --prefix target/npm axe-core@4`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amtspost::identity::UserSpec;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::http::{PASSWORD, Web, web};
use crate::seed::{antrag_kreis_unna, kommune, party_of};
use crate::support::smtp::SmtpSink;
use crate::support::{TestDb, at};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page may take to show what the test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// axe-core's browser bundle: `AMTSPOST_AXE_JS`, or where `.ci/run` puts it.
fn axe_source() -> String {
    let path = std::env::var_os("AMTSPOST_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/npm/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing ({}: {e}). The browser tests need it: \
             `npm install --prefix \"$PWD/target/npm\" axe-core@4` (bash .ci/run does this), \
             or point AMTSPOST_AXE_JS at axe.min.js",
            path.display()
        )
    })
}

/// chromedriver on a free port, in its own process group; the group (it and
/// the Chromium it started) is killed when this is dropped, also after a
/// failed assertion.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    fn start() -> Chromedriver {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the browser tests need Debian's `{package}` \
                 (apt-get install chromium chromium-driver; bash .ci/run does this)"
            );
        }
        let port = free_port();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"))
        };
        let mut driver = Chromedriver { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = driver.child.try_wait().unwrap() {
                panic!("{CHROMEDRIVER} exited at start with {status}");
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{CHROMEDRIVER} did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole process group: chromedriver and the browser it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session against the server at `base`.
struct Browser {
    client: Client,
    base: String,
    axe: String,
    /// Pages axe-core checked, for the summary.
    checked: std::cell::RefCell<Vec<String>>,
    _profile: tempfile::TempDir,
    // Dropped last: kills chromedriver and Chromium.
    _driver: Chromedriver,
}

impl Browser {
    async fn start(base: String) -> Browser {
        let axe = axe_source();
        let driver = Chromedriver::start();
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--lang=de-DE", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": { "intl.accept_languages": "de-DE,de" },
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|e| panic!("Chromium did not start through chromedriver: {e}"));
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await
            .unwrap();
        Browser {
            client,
            base,
            axe,
            checked: Default::default(),
            _profile: profile,
            _driver: driver,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
        self.check_accessibility().await;
    }

    /// The path of the page shown now.
    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!(
                "{css} not found on {} ({e}):\n{}",
                self.path().await,
                self.text().await
            ),
        }
    }

    async fn text(&self) -> String {
        match self.client.find(Locator::Css("main")).await {
            Ok(m) => m.text().await.unwrap_or_default(),
            Err(_) => self.client.source().await.unwrap_or_default(),
        }
    }

    /// Once, on the first page: axe-core really runs and reports (an image
    /// without alternative text, added for the moment, is a violation).
    async fn axe_reports(&self) {
        self.client
            .execute("const i = document.createElement('img'); i.id = 'axe-probe'; i.src = 'data:,'; document.body.append(i);", vec![])
            .await
            .unwrap();
        let result = self.axe_run().await;
        self.client
            .execute("document.getElementById('axe-probe').remove()", vec![])
            .await
            .unwrap();
        let ids: Vec<&str> = result["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["id"].as_str())
            .collect();
        assert!(
            ids.contains(&"image-alt"),
            "axe-core did not report an image without alt text: {result}"
        );
    }

    /// Runs axe-core on the page shown now; panics listing every violation.
    async fn check_accessibility(&self) {
        let page = self.path().await;
        if self.checked.borrow().is_empty() {
            self.axe_reports().await;
        }
        let result = self.axe_run().await;
        if let Some(e) = result.get("error") {
            panic!("axe-core failed on {page}: {e}");
        }
        let violations = result["violations"].as_array().unwrap();
        if !violations.is_empty() {
            let mut report = format!(
                "axe-core found {} violation(s) on {page}:\n",
                violations.len()
            );
            for v in violations {
                report += &format!(
                    "\n- {} ({}): {}\n  {}\n",
                    v["id"].as_str().unwrap_or(""),
                    v["impact"].as_str().unwrap_or(""),
                    v["help"].as_str().unwrap_or(""),
                    v["url"].as_str().unwrap_or("")
                );
                for n in v["nodes"].as_array().into_iter().flatten() {
                    report += &format!(
                        "    at {}\n      {}\n      {}\n",
                        n["target"].as_str().unwrap_or(""),
                        n["html"].as_str().unwrap_or(""),
                        n["why"].as_str().unwrap_or("").replace('\n', "\n      ")
                    );
                }
            }
            panic!("{report}");
        }
        self.checked.borrow_mut().push(page);
    }

    /// axe-core (injected unless the page has it) on the whole document.
    async fn axe_run(&self) -> Value {
        let loaded = self
            .client
            .execute("return typeof window.axe", vec![])
            .await
            .unwrap();
        if loaded != json!("object") {
            self.client.execute(&self.axe, vec![]).await.unwrap();
        }
        self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   // The only frames are PDF previews: nothing for axe to check inside.
                   axe.run(document, { iframes: false, resultTypes: ["violations"] })
                     .then(r => done({ violations: r.violations.map(v => ({
                         id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
                         nodes: v.nodes.map(n => ({ target: n.target.join(" "), html: n.html, why: n.failureSummary })),
                     })) }))
                     .catch(e => done({ error: String(e) }));"#,
                vec![],
            )
            .await
            .unwrap()
    }

    /// Logs in through the login form, as a person does.
    async fn login(&self, user: &str) {
        self.login_to(user, "/arbeitskorb").await;
    }

    /// Logs in and waits for the start page `home`.
    async fn login_to(&self, user: &str, home: &str) {
        self.goto("/login").await;
        self.find("#user").await.send_keys(user).await.unwrap();
        self.find("#password")
            .await
            .send_keys(PASSWORD)
            .await
            .unwrap();
        self.find("form[action='/login'] button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        self.wait_for_path(home).await;
        self.check_accessibility().await;
    }

    async fn logout(&self) {
        self.find("form.abmelden button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        self.wait_for_path("/login").await;
    }

    async fn wait_for_path(&self, want: &str) {
        let start = Instant::now();
        loop {
            let now = self.path().await;
            if now == want {
                return;
            }
            if start.elapsed() > PATIENCE {
                panic!("expected {want}, still on {now}:\n{}", self.text().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The form of a step on the Fallseite.
    async fn step(&self, transition: &str) -> Element {
        self.find(&format!("form[action$='/schritte/{transition}']"))
            .await
    }

    /// Types into a step's field (clearing what is there).
    async fn fill(&self, transition: &str, field: &str, text: &str) {
        let input = self.find(&format!("#{transition}-{field}")).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// A date field (`<input type="date">`). Chromium's date widget takes
    /// typed digits segment by segment, and where typing starts depends on
    /// earlier focus; so the value is set as the widget sets it, with the
    /// events it fires. `iso` is what the form then sends.
    async fn fill_date(&self, transition: &str, field: &str, iso: &str) {
        let input = self.find(&format!("#{transition}-{field}")).await;
        assert_eq!(input.attr("type").await.unwrap().as_deref(), Some("date"));
        let arg = serde_json::to_value(&input).unwrap();
        self.client
            .execute(
                "const [el, v] = arguments; el.value = v; \
                 el.dispatchEvent(new Event('input', { bubbles: true })); \
                 el.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![arg, json!(iso)],
            )
            .await
            .unwrap();
        let value = input.prop("value").await.unwrap().unwrap_or_default();
        assert_eq!(
            value, iso,
            "the date field {transition}-{field} holds {value:?}"
        );
    }

    /// Presses a step's button and waits for the Fallseite to show `state`.
    async fn fire(&self, transition: &str, state: &str) {
        let form = self.step(transition).await;
        form.find(Locator::Css("button[type=submit]:not([formaction])"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for_state(state).await;
        self.check_accessibility().await;
    }

    async fn wait_for_state(&self, state: &str) {
        let start = Instant::now();
        loop {
            if let Ok(e) = self.client.find(Locator::Css("p.stand strong")).await
                && e.text().await.unwrap_or_default() == state
                && self
                    .client
                    .find_all(Locator::Css(".fehler"))
                    .await
                    .map(|v| v.is_empty())
                    .unwrap_or(false)
            {
                return;
            }
            if start.elapsed() > PATIENCE {
                panic!(
                    "the case did not reach „{state}“; the page says:\n{}",
                    self.text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A screenshot of the whole page (the window grown to its height).
    async fn screenshot(&self, name: &str) {
        // No focus ring or caret in the picture.
        self.client
            .execute(
                "document.activeElement && document.activeElement.blur()",
                vec![],
            )
            .await
            .unwrap();
        let height = self
            .client
            .execute(
                "return Math.ceil(document.documentElement.scrollHeight)",
                vec![],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(900)
            .clamp(600, 4000) as u32;
        self.client
            .set_window_size(1280, height + 100)
            .await
            .unwrap();
        // The window's inner height is what the page gets; grow until it fits.
        let inner = self
            .client
            .execute("return window.innerHeight", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(0) as u32;
        if inner < height {
            self.client
                .set_window_size(1280, height + 100 + (height - inner))
                .await
                .unwrap();
        }
        let png = self.client.screenshot().await.unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
        self.client.set_window_size(1280, 900).await.unwrap();
    }
}

/// The server on a real socket, in this process: its base URL and task.
async fn serve(w: &Web) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = amtspost::http::router(w.app.app.clone()).unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    (format!("http://{addr}"), server)
}

/// Another application, for a fuller Arbeitskorb (opened over the API as `cookie`).
async fn open_application(w: &Web, cookie: &str, name: &str) -> String {
    let k = kommune(name);
    let mut data = antrag_kreis_unna();
    data.insert("kommune".into(), k["name"].clone());
    data.insert("kommune_art".into(), k["art"].clone());
    data.insert("kommune_genitiv".into(), k["genitiv"].clone());
    data.insert(
        "konzept_gremium".into(),
        json!(if k["art"] == "Kreis" {
            "Kreistag"
        } else {
            "Rat"
        }),
    );
    data.insert("verwaltungsgericht".into(), k["verwaltungsgericht"].clone());
    let r = w
        .json(
            "POST",
            "/api/v1/cases",
            Some(cookie),
            Some(json!({"workflow": "ki-foerderantrag", "data": data, "parties": {"applicant": party_of(&k)}})),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::CREATED, "{}", r.text());
    r.json()["file_number"].as_str().unwrap().to_string()
}

/// A clerk takes a Kreis Unna application through acknowledgement and
/// Nachforderung to a proposed approval, is refused the approval by the
/// four-eyes rule, and an approver previews and signs the Zuwendungsbescheid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_and_an_approver_take_an_application_to_its_zuwendungsbescheid() {
    let db = TestDb::sqlite().await;
    let w = web(&db).await;
    // The application arrived on 28.09.2012.
    w.app.clock.set(at("2012-09-28T07:30:00Z"));
    // A clerk who also holds the approver role: the person the four-eyes
    // rule stops from signing what she proposed herself.
    w.app
        .app
        .identity()
        .add_user(
            UserSpec {
                name: "becker2".into(),
                display_name: Some("Anna Becker".into()),
                roles: vec!["clerk".into(), "approver".into()],
                party: None,
                password: Some(PASSWORD.into()),
            },
            &w.app.app.known_roles(),
        )
        .await
        .unwrap();
    let (intake, _) = w.login("becker").await;
    let n = w.open_unna(&intake).await;
    open_application(&w, &intake, "Stadt Hamm").await;
    open_application(&w, &intake, "Kreis Soest").await;

    let (base, server) = serve(&w).await;
    let b = Browser::start(base).await;

    // --- the clerk ---
    b.login("becker2").await;
    let row = b.find(&format!("a[href='/faelle/{n}']")).await;
    b.screenshot("arbeitskorb.png").await;
    row.click().await.unwrap();
    b.wait_for_path(&format!("/faelle/{n}")).await;
    b.wait_for_state("Antrag eingegangen").await;
    b.check_accessibility().await;

    b.fire("eingang_bestaetigen", "In Prüfung").await;

    // A required field left empty: the browser itself holds the form back.
    let missing = b.find("#nachfordern-fehlende_unterlagen").await;
    assert_eq!(
        missing.attr("required").await.unwrap().as_deref(),
        Some("true")
    );
    b.fill(
        "nachfordern",
        "fehlende_unterlagen",
        "Stellenplan mit Eingruppierung\nBeschluss des Kreistages zur Einrichtung",
    )
    .await;
    b.fire("nachfordern", "Unterlagen nachgefordert").await;
    let page = b.text().await;
    assert!(
        page.contains("Nachreichung") || page.contains("Frist"),
        "{page}"
    );

    // The Fristen page lists the new deadline.
    b.goto("/fristen").await;
    assert!(
        b.text().await.contains(&n),
        "the Nachreichungsfrist is listed"
    );
    b.goto("/postausgang").await;
    b.goto(&format!("/faelle/{n}")).await;

    b.fire("unterlagen_eingegangen", "In Prüfung").await;

    b.fill_date(
        "bewilligung_vorschlagen",
        "bewilligungszeitraum_von",
        "2013-01-01",
    )
    .await;
    b.fill_date(
        "bewilligung_vorschlagen",
        "bewilligungszeitraum_bis",
        "2013-12-31",
    )
    .await;
    b.fill_date(
        "bewilligung_vorschlagen",
        "verwendungsnachweis_bis",
        "2014-06-30",
    )
    .await;
    let court = b.find("#bewilligung_vorschlagen-verwaltungsgericht").await;
    assert!(
        court
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
            .starts_with("Verwaltungsgericht Gelsenkirchen"),
        "the court is taken over from the application"
    );
    // Amounts are shown the German way, and what is shown is what a form
    // sent back unchanged stores; typed German amounts are stored exactly.
    for (field, shown) in [
        ("ausgaben_paedagogik", "104.410,00"),
        ("ausgaben_verwaltung", "46.210,50"),
        ("ausgaben_assistenz", "19.875,25"),
    ] {
        let input = b.find(&format!("#bewilligung_vorschlagen-{field}")).await;
        assert_eq!(
            input.prop("value").await.unwrap().as_deref(),
            Some(shown),
            "{field}"
        );
    }
    b.fill("bewilligung_vorschlagen", "ausgaben_paedagogik", "118.450")
        .await;
    b.fill(
        "bewilligung_vorschlagen",
        "ausgaben_verwaltung",
        "54.300,50",
    )
    .await;
    b.fire("bewilligung_vorschlagen", "Bewilligung zur Zeichnung")
        .await;
    let case = w
        .json("GET", &format!("/api/v1/cases/{n}"), Some(&intake), None)
        .await
        .json();
    assert_eq!(case["data"]["ausgaben_paedagogik"], "118450.00");
    assert_eq!(case["data"]["ausgaben_verwaltung"], "54300.50");
    assert_eq!(
        case["data"]["ausgaben_assistenz"], "19875.25",
        "sent back unchanged"
    );
    assert!(
        b.text().await.contains("118.450,00 EUR"),
        "the Fallseite shows the amount"
    );

    // Four-eyes: she holds the approver role but proposed it herself.
    let form = b.step("bewilligen").await;
    let button = form
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap();
    assert!(
        !button.is_enabled().await.unwrap(),
        "the approval is disabled for the proposer"
    );
    let reason = b.find("#bewilligen-gesperrt").await.text().await.unwrap();
    assert!(
        reason.contains("Vier-Augen-Prinzip") && reason.contains("Bewilligung vorschlagen"),
        "{reason}"
    );
    assert_eq!(
        button.attr("aria-describedby").await.unwrap().as_deref(),
        Some("bewilligen-gesperrt")
    );
    b.logout().await;
    b.check_accessibility().await;

    // --- the approver ---
    b.login("schulte").await;
    b.find(&format!("a[href='/faelle/{n}']"))
        .await
        .click()
        .await
        .unwrap();
    b.wait_for_state("Bewilligung zur Zeichnung").await;
    b.check_accessibility().await;
    b.fill("bewilligen", "zeichnung_name", "Dr. Schulte").await;

    // The preview button posts the form to its formaction (a new tab for
    // the PDF); the page's own form, sent by fetch, shows what comes back.
    let preview = b
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const form = document.querySelector("form[action$='/schritte/bewilligen']");
               const button = form.querySelector("button[formaction]");
               fetch(button.formAction, { method: "POST", body: new URLSearchParams(new FormData(form)) })
                 .then(async r => {
                   const bytes = new Uint8Array(await r.arrayBuffer());
                   done({ status: r.status, type: r.headers.get("content-type"), target: button.formTarget,
                          magic: String.fromCharCode(...bytes.slice(0, 5)), size: bytes.length });
                 })
                 .catch(e => done({ error: String(e) }));"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(preview["status"], 200, "{preview}");
    assert_eq!(preview["type"], "application/pdf", "{preview}");
    assert_eq!(preview["magic"], "%PDF-", "{preview}");
    assert_eq!(preview["target"], "_blank", "{preview}");
    b.screenshot("fallseite.png").await;

    b.fire("bewilligen", "Zuwendungsbescheid erlassen").await;
    let page = b.text().await;
    assert!(page.contains("abgeschlossen"), "{page}");
    let case = w
        .json("GET", &format!("/api/v1/cases/{n}"), Some(&intake), None)
        .await
        .json();
    assert_eq!(case["state"], "bewilligt");
    let history = w
        .json(
            "GET",
            &format!("/api/v1/cases/{n}/history"),
            Some(&intake),
            None,
        )
        .await
        .json();
    let who = |t: &str| {
        history
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["transition"] == t)
            .map(|e| e["actor"].as_str().unwrap().to_string())
    };
    assert_eq!(who("bewilligung_vorschlagen").as_deref(), Some("becker2"));
    assert_eq!(who("bewilligen").as_deref(), Some("schulte"));

    // The office's Vertretung page.
    b.goto("/vertretung").await;
    assert!(b.text().await.contains("Abwesenheit eintragen"));
    // Opening a case from the web: the forms, and one of them (axe on both).
    b.goto("/faelle/neu").await;
    b.find("a[href='/faelle/neu/ki-foerderantrag/antrag']")
        .await;
    b.goto("/faelle/neu/ki-foerderantrag/antrag").await;
    b.find("#neu-antragsteller").await;
    assert!(b.text().await.contains("Eingegangen am"));
    // The Förderprogrammcontrolling of the year of the grant just signed:
    // chart and table, checked by axe like every page.
    b.goto("/controlling?jahr=2013").await;
    let page = b.text().await;
    assert!(
        page.contains("Förderprogrammcontrolling") && page.contains(&n),
        "{page}"
    );
    b.logout().await;

    // --- the circular's author: compose with the live preview ---
    b.login("roth").await;
    b.goto("/rundschreiben").await;
    b.find("#n-betreff")
        .await
        .send_keys("Kommunale Integrationszentren")
        .await
        .unwrap();
    b.find("#n-az")
        .await
        .send_keys("50.50.00/33.60.01 Li/Sü")
        .await
        .unwrap();
    b.find("form[action='/rundschreiben'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.find("#r-text")
        .await
        .send_keys(
            "Der Landtag hat am 8. Februar 2012 das Teilhabe- und Integrationsgesetz beschlossen.",
        )
        .await
        .unwrap();
    b.find("#r-unterzeichner")
        .await
        .send_keys("Dr. Klein")
        .await
        .unwrap();
    // htmx posts the form as one types and swaps in the PDF's iframe.
    let frame = b
        .find("#vorschau iframe[src^='/rundschreiben/vorschau/']")
        .await;
    assert!(
        frame
            .attr("title")
            .await
            .unwrap()
            .unwrap_or_default()
            .contains("Vorschau")
    );
    b.check_accessibility().await;
    b.screenshot("rundschreiben.png").await;
    b.find("#entwurf button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.find("a[href^='/faelle/RS-']").await;
    assert!(
        b.text().await.contains("zur Freigabe vor"),
        "{}",
        b.text().await
    );
    b.check_accessibility().await;

    // --- anyone: the legal pages from the footer, and a barrier reported ---
    b.logout().await;
    b.goto("/impressum").await;
    b.goto("/datenschutz").await;
    b.find("footer a[href='/barrierefreiheit']")
        .await
        .click()
        .await
        .unwrap();
    b.wait_for_path("/barrierefreiheit").await;
    b.check_accessibility().await;
    b.find("#nachricht")
        .await
        .send_keys("Die Grafik im Controlling hat keine Textfassung für meinen Bildschirmleser.")
        .await
        .unwrap();
    b.find("form[action='/barrierefreiheit'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.find("p.hinweis[role=status]").await;
    assert!(b.text().await.contains("Vielen Dank"), "{}", b.text().await);
    b.check_accessibility().await;

    let checked = b.checked.borrow().clone();
    println!(
        "axe-core found no violations on {} page views: {}",
        checked.len(),
        checked.join(", ")
    );
    b.client.clone().close().await.unwrap();
    drop(b);
    server.abort();
}

/// The first mail at the sink that `pred` accepts (waiting up to 20 s).
async fn mail_like(
    sink: &SmtpSink,
    pred: impl Fn(&crate::support::smtp::Received) -> bool,
) -> crate::support::smtp::Received {
    let start = Instant::now();
    loop {
        if let Some(m) = sink.messages().into_iter().find(|m| pred(m)) {
            return m;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no such mail at the SMTP server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The municipality's side in the browser: Kreis Unna applies online, gets
/// the Eingangsbestätigung and the Nachforderung by mail from a real SMTP
/// server, uploads the missing document, consents to notification by
/// retrieval and retrieves the Zuwendungsbescheid, whose Klagefrist starts
/// the day after; a circular is read. Kreis Soest sees none of it. axe-core
/// checks every portal page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_municipality_applies_uploads_and_retrieves_its_notice_in_the_browser() {
    let db = TestDb::sqlite().await;
    // Retrieval offered for 2012 letters: see crate::http::retrieval_any_date.
    let w = crate::http::web_on(&db, &crate::http::retrieval_any_date()).await;
    let sink = SmtpSink::start().await;
    let courier = w.app.courier(sink.port, 3);
    let circular = crate::portal::send_circular(&w).await;
    let (becker, _) = w.login("becker").await;
    let (schulte, _) = w.login("schulte").await;

    let (base, server) = serve(&w).await;
    let b = Browser::start(base).await;

    // --- Kreis Unna applies online ---
    b.login_to("unna", "/portal").await;
    b.find("a[href='/portal/antraege/ki-foerderantrag/antrag']")
        .await
        .click()
        .await
        .unwrap();
    b.wait_for_path("/portal/antraege/ki-foerderantrag/antrag")
        .await;
    b.check_accessibility().await;
    // The values as a person types them (dates through the date widget's value).
    let fields: serde_json::Map<String, Value> = crate::portal::application_fields()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    b.client
        .execute(
            "for (const [k, v] of Object.entries(arguments[0])) { const el = document.querySelector(`[name='${k}']`); if (!el) continue; el.value = v; el.dispatchEvent(new Event('change', { bubbles: true })); }",
            vec![Value::Object(fields)],
        )
        .await
        .unwrap();
    b.find("form[action='/portal/antraege/ki-foerderantrag/antrag'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_for_state("Antrag eingegangen").await;
    let path = b.path().await;
    let n = path.rsplit('/').next().unwrap().to_string();
    assert!(n.starts_with("KI-2012-"), "{path}");
    b.check_accessibility().await;

    // --- the office acknowledges it and asks for a document ---
    let r = w
        .fire(
            &becker,
            &n,
            "eingang_bestaetigen",
            None,
            json!({"bearbeiter_name": "Anna Becker"}),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.text());
    let r = w
        .fire(
            &becker,
            &n,
            "nachfordern",
            None,
            json!({"fehlende_unterlagen": ["Beschluss des Kreistages zur Einrichtung"]}),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.text());
    courier.deliver_due().await.unwrap();
    let m = mail_like(&sink, |m| {
        m.to.iter().any(|t| t.contains("kreis-unna"))
            && m.attachments
                .iter()
                .any(|(name, _)| name.starts_with("nachforderung"))
    })
    .await;
    assert!(m.subject.contains("Vorab zur Information"), "{}", m.subject);

    // --- Unna sees both letters and uploads the missing document ---
    b.goto(&format!("/portal/faelle/{n}")).await;
    let page = b.text().await;
    assert!(
        page.contains("Eingangsbestätigung") && page.contains("Nachforderung von Unterlagen"),
        "{page}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Beschluss Kreistag.pdf");
    std::fs::write(&file, crate::portal::pdf("Beschluss des Kreistages")).unwrap();
    b.find("#datei")
        .await
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    b.find("form[action*='/hochladen'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.find("p.hinweis").await;
    b.wait_for_state("In Prüfung").await;
    assert!(b.text().await.contains("Beschluss Kreistag.pdf"));
    b.check_accessibility().await;

    // --- consent, then the notice is provided in the portal ---
    b.goto("/portal/einwilligung").await;
    b.find("form[action='/portal/einwilligung'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_for_path("/portal/einwilligung").await;
    // The answer is the same path: wait for the new page, not the old one.
    let start = Instant::now();
    while !b.text().await.contains("Stand: eingewilligt") && start.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        b.text().await.contains("Stand: eingewilligt"),
        "{}",
        b.text().await
    );
    b.check_accessibility().await;
    let mut v = crate::seed::vorschlag();
    v["raa_vorhanden"] = json!(false);
    assert_eq!(
        w.fire(&becker, &n, "bewilligung_vorschlagen", None, v)
            .await
            .status,
        axum::http::StatusCode::OK
    );
    assert_eq!(
        w.fire(
            &schulte,
            &n,
            "bewilligen",
            None,
            json!({"zeichnung_name": "Dr. Schulte"})
        )
        .await
        .status,
        axum::http::StatusCode::OK
    );
    courier.deliver_due().await.unwrap();
    let ready = mail_like(&sink, |m| m.subject.contains("zum Abruf bereit")).await;
    assert!(
        ready.attachments.is_empty() && ready.text.contains(&format!("/portal/faelle/{n}")),
        "{}",
        ready.text
    );

    // Two days later Unna retrieves it: notified the next day.
    w.app.clock.advance(chrono::Duration::days(2));
    b.logout().await;
    b.login_to("unna", "/portal").await;
    b.goto(&format!("/portal/faelle/{n}")).await;
    b.find("a[href^='/api/v1/documents/']").await;
    let links = b
        .client
        .find_all(Locator::Css("li a[href^='/api/v1/documents/']"))
        .await
        .unwrap();
    let mut retrieve = None;
    for l in links {
        if l.text().await.unwrap_or_default().contains("Jetzt abrufen") {
            retrieve = l.attr("href").await.unwrap();
        }
    }
    let href = retrieve.expect("a link to retrieve the notice");
    let got = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(async r => done({status: r.status, type: r.headers.get('content-type')})).catch(e => done({error: String(e)}));",
            vec![json!(href)],
        )
        .await
        .unwrap();
    assert_eq!(got["type"], "application/pdf", "{got}");
    b.goto(&format!("/portal/faelle/{n}")).await;
    let page = b.text().await;
    assert!(page.contains("Abgerufen am 21.03.2012"), "{page}");
    assert!(
        page.contains("Klagefrist") && page.contains("23.04.2012"),
        "notified 22.03.2012, one month: {page}"
    );
    b.screenshot("portal.png").await;

    // A circular in the portal.
    b.goto(&format!("/portal/rundschreiben/{circular}")).await;
    assert!(b.text().await.contains("Kommunale Integrationszentren"));
    b.goto("/portal").await;
    b.logout().await;

    // --- Kreis Soest sees none of it ---
    b.login_to("soest", "/portal").await;
    assert!(!b.text().await.contains(&n));
    b.goto(&format!("/portal/faelle/{n}")).await;
    assert!(
        b.text().await.contains("Nicht gefunden"),
        "{}",
        b.text().await
    );
    b.goto("/portal/einwilligung").await;
    assert!(b.text().await.contains("keine Einwilligung"));

    let checked = b.checked.borrow().clone();
    println!(
        "axe-core found no violations on {} portal page views: {}",
        checked.len(),
        checked.join(", ")
    );
    b.client.clone().close().await.unwrap();
    drop(b);
    server.abort();
}

/// WCAG 2.2.1: before a session ends for lack of use, the page warns and
/// one action extends it on the server. Here a session lasts a minute (54 s
/// as the page counts, one touch interval less) and the warning comes 48 s
/// before the end, so after 6 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_warns_before_the_session_ends_and_one_click_extends_it() {
    let db = TestDb::sqlite().await;
    let mut config = crate::support::test_config(&db, &crate::seed::shipped());
    config.web.session_idle_minutes = 1;
    config.web.session_warning_seconds = 48;
    let w = crate::http::web_with(
        crate::support::TestApp::try_build(config, None)
            .await
            .unwrap(),
    )
    .await;
    let (base, server) = serve(&w).await;
    let b = Browser::start(base).await;
    b.login("becker").await;

    let dialog = b.find("dialog#sitzung-warnung[open]").await;
    let text = dialog.text().await.unwrap();
    assert!(
        text.contains("Ihre Sitzung läuft bald ab") && text.contains("Sekunden"),
        "{text}"
    );
    b.check_accessibility().await;

    // The server's clock moves on 50 s: without the extension the session
    // would end 10 s later.
    w.app.clock.advance(chrono::Duration::seconds(50));
    b.find("#sitzung-verlaengern").await.click().await.unwrap();
    let start = Instant::now();
    while b
        .client
        .find(Locator::Css("dialog#sitzung-warnung[open]"))
        .await
        .is_ok()
    {
        assert!(
            start.elapsed() < PATIENCE,
            "the warning stays open after extending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // 100 s after the login, 50 s after the extension: still logged in.
    w.app.clock.advance(chrono::Duration::seconds(50));
    b.goto("/fristen").await;
    assert_eq!(
        b.path().await,
        "/fristen",
        "the extension did not reach the server"
    );
    // Without use it ends: another 61 s later the login page comes.
    w.app.clock.advance(chrono::Duration::seconds(61));
    b.client.goto(&format!("{}/fristen", b.base)).await.unwrap();
    assert_eq!(b.path().await, "/login");

    b.client.clone().close().await.unwrap();
    drop(b);
    server.abort();
}
