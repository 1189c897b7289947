//! Sealed letters (issue 26): a Zuwendungsbescheid issued with the office's
//! seal is valid and trusted for poppler's `pdfsig`, pyHanko and amtspost
//! itself, at B-B, B-T and B-LT; a flipped byte breaks it for all three;
//! it stays PDF/A; a CSC service seals it; a signing service or TSA that is
//! down leaves the step unfired. The test PKI is made here: keys by rcgen,
//! certificates, TSA, OCSP and CRLs by `certomancer` on loopback, a CSC
//! service by `certomancer-csc-dummy`. Every tool is required (`.ci/run`
//! installs them): a missing one fails the test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amtspost::case::CaseError;
use amtspost::seal::{Level, SealConfig, SealMode};
use serde_json::json;
use sha2::Digest;

use crate::on_both_databases;
use crate::seed::shipped;
use crate::support::{TestApp, TestDb, test_config};

/// The environment variable the tests name as `password_env`: cargo sets it
/// for every test process, so the PKCS#12 password ("amtspost") comes from
/// the environment as in production, without a test changing the environment.
const PASSWORD_ENV: &str = "CARGO_PKG_NAME";
const PASSWORD: &str = "amtspost";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a tool the tests need; a missing tool fails the test.
fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{name} is not installed (.ci/run installs it)");
    Command::new(name)
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// The test PKI: a root CA, a seal certificate (digitalSignature,
/// nonRepudiation) with CRL and OCSP pointers, a TSA and an OCSP responder,
/// all under one root, described for certomancer with keys made here.
pub struct Pki {
    pub dir: tempfile::TempDir,
    port: u16,
    children: Vec<Child>,
}

impl Drop for Pki {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        for k in ["root", "signer", "tsa", "ocsp"] {
            let key = rcgen::KeyPair::generate().unwrap();
            std::fs::write(dir.path().join(format!("{k}.key.pem")), key.serialize_pem()).unwrap();
        }
        let validity =
            r#"{valid-from: "2000-01-01T00:00:00+0000", valid-to: "2100-01-01T00:00:00+0000"}"#;
        let config = format!(
            r#"external-url-prefix: "http://127.0.0.1:{port}"
keysets:
  amtspost:
    path-prefix: "."
    keys:
      root: {{path: root.key.pem}}
      signer: {{path: signer.key.pem}}
      tsa: {{path: tsa.key.pem}}
      ocsp: {{path: ocsp.key.pem}}
pki-architectures:
  amtspost:
    keyset: amtspost
    entity-defaults: {{country-name: DE, organization-name: Bezirksregierung Arnsberg}}
    entities:
      root: {{common-name: "Test-Wurzel-CA amtspost"}}
      signer: {{common-name: "Testsiegel Bezirksregierung Arnsberg"}}
      tsa: {{common-name: "Test-Zeitstempeldienst"}}
      ocsp: {{common-name: "Test-OCSP-Responder"}}
    certs:
      root:
        subject: root
        issuer: root
        validity: {validity}
        extensions:
          - {{id: basic_constraints, critical: true, value: {{ca: true}}}}
          - {{id: key_usage, critical: true, smart-value: {{schema: key-usage, params: [digital_signature, key_cert_sign, crl_sign]}}}}
      signer:
        issuer: root
        validity: {validity}
        extensions:
          - {{id: key_usage, critical: true, smart-value: {{schema: key-usage, params: [digital_signature, non_repudiation]}}}}
          - {{id: crl_distribution_points, smart-value: {{schema: crl-dist-url, params: {{crl-repo-names: [root]}}}}}}
          - {{id: authority_information_access, smart-value: {{schema: aia-urls, params: {{ocsp-responder-names: [root], ca-issuer-links: [{{repo: root}}]}}}}}}
      tsa:
        issuer: root
        validity: {validity}
        extensions:
          - {{id: key_usage, critical: true, smart-value: {{schema: key-usage, params: [digital_signature]}}}}
          - {{id: extended_key_usage, critical: true, value: [time_stamping]}}
          - {{id: crl_distribution_points, smart-value: {{schema: crl-dist-url, params: {{crl-repo-names: [root]}}}}}}
      ocsp:
        issuer: root
        validity: {validity}
        extensions:
          - {{id: key_usage, critical: true, smart-value: {{schema: key-usage, params: [digital_signature]}}}}
          - {{id: extended_key_usage, critical: true, value: [ocsp_signing]}}
          - {{id: ocsp_no_check}}
    services:
      ocsp:
        root: {{for-issuer: root, responder-cert: ocsp, signing-key: ocsp}}
      crl-repo:
        root: {{for-issuer: root, signing-key: root, simulated-update-schedule: "P90D"}}
      cert-repo:
        root: {{for-issuer: root, publish-issued-certs: yes}}
      time-stamping:
        tsa: {{signing-key: tsa, signing-cert: tsa}}
"#
        );
        std::fs::write(dir.path().join("certomancer.yml"), config).unwrap();
        let pki = Pki {
            dir,
            port,
            children: Vec::new(),
        };
        run_ok(
            pki.certomancer()
                .args(["summon", "amtspost", "root"])
                .arg(pki.root()),
        );
        run_ok(
            pki.certomancer()
                .args(["summon", "amtspost", "signer"])
                .arg(pki.pfx())
                .args(["--as-pfx", "--pfx-pass", PASSWORD]),
        );
        pki
    }

    /// Stops the services this PKI started.
    pub fn stop(&mut self) {
        for mut c in self.children.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn certomancer(&self) -> Command {
        let mut c = tool("certomancer");
        c.current_dir(self.dir.path())
            .args(["--config", "certomancer.yml"]);
        c
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root.pem")
    }

    pub fn pfx(&self) -> PathBuf {
        self.dir.path().join("signer.pfx")
    }

    pub fn tsa_url(&self) -> String {
        format!("http://127.0.0.1:{}/amtspost/tsa/tsa", self.port)
    }

    /// Serves TSA, OCSP and CRLs on loopback (`certomancer animate`), with
    /// the clock of its responses cut to whole seconds.
    ///
    /// Why: certomancer's animator stamps OCSP responses with the current
    /// time including microseconds (`producedAt`/`thisUpdate`
    /// "20261204212529.181454Z"). NSS, and so poppler's `pdfsig`, rejects
    /// such a GeneralizedTime (SEC_ERROR_INVALID_TIME, then
    /// SEC_ERROR_OCSP_FUTURE_RESPONSE); its OCSP check is "soft-fail", so
    /// the chain still verifies, but poppler 22 reads NSS's last error code
    /// instead of the verification result and reports "Unknown issue with
    /// Certificate". Real responders write whole seconds, as RFC 5280
    /// (4.1.2.5.2) profiles GeneralizedTime. With whole seconds NSS accepts
    /// the response and pdfsig reports the certificate as trusted after a
    /// real OCSP check; nothing in the check is switched off.
    pub fn animate(&mut self) {
        let mut cmd = tool("python3");
        cmd.current_dir(self.dir.path())
            .arg("-c")
            .arg(
                "import sys\n\
                 from datetime import datetime, timezone\n\
                 import certomancer.integrations.animator as animator\n\
                 animator._now = lambda: datetime.now(tz=timezone.utc).replace(microsecond=0)\n\
                 from certomancer.cli import cli\n\
                 cli(sys.argv[1:])\n",
            )
            .args(["--config", "certomancer.yml"])
            .args(["animate", "--no-web-ui", "--port", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().unwrap();
        self.children.push(child);
        wait_for_port(self.port);
    }

    /// Whether the TSA, OCSP and CRL services answer.
    pub fn serving(&self) -> bool {
        std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }

    /// Serves the CSC API (`certomancer-csc-dummy`, with hash pinning);
    /// returns its base URL.
    pub fn csc(&mut self) -> String {
        let port = free_port();
        let child = tool("certomancer-csc")
            .current_dir(self.dir.path())
            .args(["certomancer.yml", &port.to_string(), "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
        wait_for_port(port);
        format!("http://localhost:{port}/csc/v1")
    }

    /// `[seal]` for a PKCS#12 seal at `level`, trusting the test root.
    pub fn pkcs12_config(&self, level: Level) -> SealConfig {
        SealConfig {
            mode: SealMode::Pkcs12,
            letters: vec!["zuwendungsbescheid".into()],
            level,
            pkcs12: Some(self.pfx()),
            password_env: Some(PASSWORD_ENV.into()),
            tsa_url: (level >= Level::BT).then(|| self.tsa_url()),
            trust_anchors: vec![self.root()],
            timeout_seconds: 10,
            ..SealConfig::default()
        }
    }
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing listens on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An NSS database trusting `root`, for `pdfsig`.
fn nss_db(root: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sql:{}", dir.path().display());
    run_ok(tool("certutil").args(["-N", "-d", &db, "--empty-password"]));
    run_ok(
        tool("certutil")
            .args([
                "-A",
                "-d",
                &db,
                "-n",
                "amtspost-test-root",
                "-t",
                "CT,C,C",
                "-i",
            ])
            .arg(root),
    );
    dir
}

/// What `pdfsig` says about `pdf` with `root` trusted.
pub fn pdfsig(pdf: &Path, root: &Path) -> String {
    let nss = nss_db(root);
    let out = tool("pdfsig")
        .arg("-nssdir")
        .arg(format!("sql:{}", nss.path().display()))
        .arg(pdf)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A tool's verdict: (exit success, stdout and stderr).
fn verdict(out: &std::process::Output) -> (bool, String) {
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// pyHanko's verdict: (exit success, output).
fn pyhanko(pdf: &Path, root: &Path, lt: bool) -> (bool, String) {
    let mut cmd = tool("pyhanko");
    cmd.args([
        "sign",
        "validate",
        "--pretty-print",
        "--trust-replace",
        "--trust",
    ])
    .arg(root);
    if lt {
        cmd.args(["--retroactive-revinfo"]);
    }
    let out = cmd.arg(pdf).output().unwrap();
    verdict(&out)
}

/// pyHanko's AdES validation (`sign adesverify`, ETSI EN 319 102-1 with
/// long-term validation): it takes certificates, CRLs and OCSP responses
/// from the file's DSS; `sign validate` would fetch them online.
fn pyhanko_ades(pdf: &Path, root: &Path) -> (bool, String) {
    let out = tool("pyhanko")
        .args([
            "sign",
            "adesverify",
            "--pretty-print",
            "--trust-replace",
            "--trust",
        ])
        .arg(root)
        .arg(pdf)
        .output()
        .unwrap();
    verdict(&out)
}

/// `amtspost document verify --file`: (exit success, German report).
fn amtspost_verify(pdf: &Path, root: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_amtspost"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(pdf.parent().unwrap())
        .args(["document", "verify", "--file"])
        .arg(pdf)
        .arg("--trust")
        .arg(root)
        .output()
        .unwrap();
    verdict(&out)
}

/// The app on the shipped workflows with `seal` as `[seal]`.
async fn sealed_app(db: &TestDb, seal: SealConfig) -> TestApp {
    let mut config = test_config(db, &shipped());
    config.seal = seal;
    TestApp::try_build(config, None).await.unwrap()
}

/// The Zuwendungsbescheid of a granted case, as stored.
async fn bescheid(app: &TestApp, n: &str) -> Vec<u8> {
    let docs = app.engine.case_documents(n).await.unwrap();
    let doc = docs
        .iter()
        .find(|d| d.template == "zuwendungsbescheid")
        .expect("the notice is issued");
    let pdf = app.app.documents().bytes(&doc.sha256).await.unwrap();
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&pdf)),
        doc.sha256,
        "the stored hash is that of the sealed bytes"
    );
    pdf
}

/// Flips one byte inside the first signed range: the binary-marker comment
/// on the PDF's second line, so the file stays readable and validators get
/// as far as the signature.
fn tampered(pdf: &[u8]) -> Vec<u8> {
    let mut copy = pdf.to_vec();
    let at = copy.iter().position(|b| *b == b'\n').unwrap() + 2;
    assert!(
        copy[at] >= 0x80,
        "a binary marker byte: {:?}",
        &copy[..at + 4]
    );
    copy[at] ^= 0x01;
    copy
}

/// Issues a sealed Zuwendungsbescheid at `level` and checks it with every
/// validator, whole and with one byte flipped.
async fn sealed_at(db: &TestDb, level: Level) {
    let mut pki = Pki::new();
    // The seal certificate names its CRL and OCSP responder: validators ask them.
    pki.animate();
    let app = sealed_app(db, pki.pkcs12_config(level)).await;
    let n = crate::notification::granted(&app, json!({})).await;
    let pdf = bescheid(&app, &n).await;
    // Only the configured letters are sealed.
    for doc in app.engine.case_documents(&n).await.unwrap() {
        let bytes = app.app.documents().bytes(&doc.sha256).await.unwrap();
        let sealed = !amtspost::seal::verify::verify_pdf(&bytes, &[]).is_empty();
        assert_eq!(
            sealed,
            doc.template == "zuwendungsbescheid",
            "{}",
            doc.template
        );
    }
    let anchors = amtspost::seal::load_certificates(&[pki.root()]).unwrap();
    let report = app.app.documents().verify(&anchors).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.sealed, 1);

    // The Akte keeps the sealed bytes, with the validation data (the DSS)
    // they carry: the seal still verifies from the archive.
    let zip = app.app.export_case(&n).await.unwrap();
    let akte = amtspost::akte::read(&zip, "akte.zip").unwrap();
    let archived = akte
        .documents
        .iter()
        .find(|d| d.template == "zuwendungsbescheid")
        .unwrap();
    assert_eq!(akte.blobs[&archived.sha256], pdf);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zuwendungsbescheid.pdf");
    std::fs::write(&file, &pdf).unwrap();
    // Kept for inspection, like the Preflight files.
    let keep = std::env::temp_dir().join("amtspost-seal");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::write(
        keep.join(format!("zuwendungsbescheid-{}.pdf", level.name())),
        &pdf,
    )
    .unwrap();
    std::fs::copy(pki.root(), keep.join("root.pem")).unwrap();

    let seals = amtspost::seal::verify::verify_pdf(&pdf, &anchors);
    assert_eq!(seals.len(), 1);
    let seal = &seals[0];
    assert!(seal.valid(), "{seal:?}");
    assert_eq!(seal.level, level.name());
    assert_eq!(
        seal.signer.as_deref(),
        Some("Testsiegel Bezirksregierung Arnsberg")
    );
    assert_eq!(
        seal.signed_at.as_deref(),
        Some("2012-11-14T08:00:00+00:00"),
        "/M is the issuing time"
    );
    assert_eq!(seal.timestamp.is_some(), level >= Level::BT);

    let sig = pdfsig(&file, &pki.root());
    // pdfsig checks the signature and, with NSS, the chain to the trusted
    // root, asking the OCSP responder the seal certificate names.
    for needle in [
        "Signature Validation: Signature is Valid.",
        "Certificate Validation: Certificate is Trusted.",
        "Signature Type: ETSI.CAdES.detached",
        "Testsiegel Bezirksregierung Arnsberg",
        "Signing Time: Nov 14 2012",
    ] {
        assert!(sig.contains(needle), "pdfsig: {needle:?} missing:\n{sig}");
    }
    if level < Level::BLt {
        assert!(sig.contains("Total document signed"), "{sig}");
    }
    run_ok(tool("qpdf").arg("--check").arg(&file));
    let (ok, hanko) = pyhanko(&file, &pki.root(), level == Level::BLt);
    assert!(ok, "pyhanko: {hanko}");
    for needle in [
        "The signer's certificate is trusted.",
        "The signature is cryptographically sound.",
    ] {
        assert!(
            hanko.contains(needle),
            "pyhanko: {needle} missing:\n{hanko}"
        );
    }
    if level >= Level::BT {
        assert!(
            hanko.contains("This timestamp is backed by a time stamping authority."),
            "pyhanko sees the time-stamp:\n{hanko}"
        );
    }
    let (ok, text) = amtspost_verify(&file, &pki.root());
    assert!(ok, "{text}");
    assert!(text.contains("Ergebnis: Das Siegel ist gültig."), "{text}");

    // One byte flipped inside the signed range: broken for everyone.
    let broken = dir.path().join("verfaelscht.pdf");
    std::fs::write(&broken, tampered(&pdf)).unwrap();
    let sig = pdfsig(&broken, &pki.root());
    assert!(
        !sig.contains("Signature is Valid")
            && (sig.contains("Signature is Invalid") || sig.contains("Digest Mismatch")),
        "pdfsig must report the flipped byte:\n{sig}"
    );
    let (ok, hanko) = pyhanko(&broken, &pki.root(), level == Level::BLt);
    assert!(
        !ok && !hanko.contains("The signature is cryptographically sound."),
        "pyhanko must report the flipped byte:\n{hanko}"
    );
    let (ok, text) = amtspost_verify(&broken, &pki.root());
    assert!(!ok, "{text}");
    assert!(text.contains("Das Siegel ist UNGÜLTIG"), "{text}");
    assert!(text.contains("nach dem Siegeln verändert"), "{text}");

    // Long-term validation with the TSA, OCSP responder and CRLs gone: a
    // B-LT seal still validates from the data its DSS carries; below B-LT
    // there is no revocation data to be had.
    pki.stop();
    assert!(!pki.serving(), "the services are stopped");
    let (ok, hanko) = pyhanko_ades(&file, &pki.root());
    if level == Level::BLt {
        assert!(ok, "pyhanko offline: {hanko}");
        for needle in [
            "The signer's certificate is trusted.",
            "The TSA certificate is trusted.",
            "The signature is cryptographically sound.",
            "The signature is judged VALID.",
        ] {
            assert!(
                hanko.contains(needle),
                "pyhanko offline: {needle} missing:\n{hanko}"
            );
        }
    } else {
        assert!(
            !ok && hanko.contains("no revocation information could be found"),
            "without a DSS pyhanko has nothing to validate offline with:\n{hanko}"
        );
    }
}

on_both_databases! {
    async fn a_sealed_zuwendungsbescheid_b_b_is_valid_for_pdfsig_pyhanko_and_amtspost(db) {
        sealed_at(&db, Level::BB).await;
    }

    async fn a_sealed_zuwendungsbescheid_b_t_carries_a_valid_time_stamp(db) {
        sealed_at(&db, Level::BT).await;
    }

    async fn a_sealed_zuwendungsbescheid_b_lt_carries_its_validation_data(db) {
        sealed_at(&db, Level::BLt).await;
    }

    async fn a_csc_signing_service_seals_the_notice(db) {
        let mut pki = Pki::new();
        pki.animate();
        let url = pki.csc();
        let mut seal = pki.pkcs12_config(Level::BB);
        seal.mode = SealMode::Csc;
        seal.pkcs12 = None;
        seal.csc.url = url;
        seal.csc.credential_id = "amtspost/signer".into();
        // OAuth2 client credentials from the environment, exchanged for a
        // token at an endpoint on loopback that records what it was sent.
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = requests.clone();
        let token = axum::Router::new().route(
            "/token",
            axum::routing::post(move |body: String| {
                seen.lock().unwrap().push(body);
                async { axum::Json(json!({"access_token": "t0k3n", "token_type": "Bearer", "expires_in": 300})) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let token_url = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, token).await.unwrap() });
        seal.csc.token_url = Some(token_url);
        seal.csc.client_id_env = Some(PASSWORD_ENV.into());
        seal.csc.client_secret_env = Some("CARGO_PKG_VERSION".into());
        let app = sealed_app(&db, seal).await;
        let n = crate::notification::granted(&app, json!({})).await;
        let pdf = bescheid(&app, &n).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("zuwendungsbescheid.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let sig = pdfsig(&file, &pki.root());
        assert!(
            sig.contains("Signature is Valid.") && sig.contains("Certificate is Trusted."),
            "{sig}"
        );
        let (ok, hanko) = pyhanko(&file, &pki.root(), false);
        assert!(
            ok && hanko.contains("The signer's certificate is trusted.")
                && hanko.contains("The signature is cryptographically sound."),
            "{hanko}"
        );
        let requests = requests.lock().unwrap();
        assert!(!requests.is_empty(), "a token was fetched");
        assert!(
            requests.iter().all(|r| r.contains("grant_type=client_credentials")
                && r.contains("client_id=amtspost")
                && r.contains(&format!("client_secret={}", env!("CARGO_PKG_VERSION")))),
            "{requests:?}"
        );
    }

    async fn a_tsa_or_csc_service_that_is_down_leaves_the_step_unfired(db) {
        let mut pki = Pki::new();
        let closed = free_port();
        let mut tsa_down = pki.pkcs12_config(Level::BT);
        tsa_down.tsa_url = Some(format!("http://127.0.0.1:{closed}/tsa"));
        let mut csc_down = pki.pkcs12_config(Level::BB);
        csc_down.mode = SealMode::Csc;
        csc_down.csc.url = format!("http://127.0.0.1:{closed}/csc/v2");
        csc_down.csc.credential_id = "amtspost/signer".into();
        let app = sealed_app(&db, tsa_down.clone()).await;
        let n = crate::notification::proposed(&app, json!({})).await;
        for (seal, service) in [(tsa_down, "Zeitstempeldienst (TSA)"), (csc_down, "Fernsignaturdienst (CSC)")] {
            let app = sealed_app(&db, seal).await;
            let err = crate::notification::approve(&app, &n).await.unwrap_err();
            assert!(matches!(err, CaseError::Seal(_)), "{err:?}");
            assert_eq!(err.kind(), amtspost::case::ErrorKind::Unavailable);
            let msg = err.to_string();
            assert!(msg.contains(service), "names the service: {msg}");
            assert!(msg.contains(&format!("127.0.0.1:{closed}")), "{msg}");
            assert!(msg.contains("erneut ausgeführt"), "{msg}");
            let case = app.engine.show(&n).await.unwrap();
            assert_eq!(case.state, "bewilligung_vorgeschlagen", "the step did not fire");
            let docs = app.engine.case_documents(&n).await.unwrap();
            assert!(docs.iter().all(|d| d.template != "zuwendungsbescheid"), "nothing stored");
            let history = app.engine.history(&n).await.unwrap();
            assert!(!history.iter().any(|e| e.kind == "letter_issued" && e.payload["template"] == "zuwendungsbescheid"));
        }
        assert_eq!(db.count("SELECT COUNT(*) FROM documents WHERE template = 'zuwendungsbescheid'").await, 0);
        // Once the TSA answers, the same step fires and the notice is sealed.
        pki.animate();
        let app = sealed_app(&db, pki.pkcs12_config(Level::BT)).await;
        let case = crate::notification::approve(&app, &n).await.unwrap();
        assert_eq!(case.state, "bewilligt");
        let pdf = bescheid(&app, &n).await;
        let anchors = amtspost::seal::load_certificates(&[pki.root()]).unwrap();
        let seals = amtspost::seal::verify::verify_pdf(&pdf, &anchors);
        assert!(seals.len() == 1 && seals[0].valid() && seals[0].timestamp.is_some(), "{seals:?}");
    }
}
