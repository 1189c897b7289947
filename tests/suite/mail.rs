//! The mail module against a real SMTP server (tests/smtp_sink.py) and the
//! file system.

use std::time::Duration;

use amtspost::mail::{
    Attachment, MailConfig, MailError, MailTemplates, Mailer, OutgoingMail, Tls, Transport,
};
use serde_json::json;

use crate::support::smtp::{Received, SmtpSink};

const MESSAGE_ID: &str = "K-2012-0001.4.reminder@amtspost.example.org";

fn smtp_config(port: u16) -> MailConfig {
    MailConfig {
        transport: Transport::Smtp,
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        tls: Tls::None,
        from: "Bauamt Musterstadt <bauamt@musterstadt.example>".into(),
        timeout_secs: 5,
        ..MailConfig::default()
    }
}

/// Bytes that look like a PDF and contain every byte value.
fn pdf_bytes() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..=255u8).cycle().take(70_000));
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

fn letter_mail() -> OutgoingMail {
    OutgoingMail {
        message_id: MESSAGE_ID.into(),
        to: vec![
            "Jürgen Weiß <juergen.weiss@example.org>".into(),
            "poststelle@example.org".into(),
        ],
        subject: "Bescheid über Ihren Antrag – Größenänderung".into(),
        text: "Sehr geehrter Herr Weiß,\n\nanbei der Bescheid. Grüße aus Köln: äöüß ÄÖÜ €.\n"
            .into(),
        attachments: vec![Attachment {
            filename: "Bescheid Weiß.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: pdf_bytes(),
        }],
        date: Some("2012-03-12T08:30:00Z".parse().unwrap()),
    }
}

/// A port on which nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_mail_with_a_pdf_attachment_arrives_with_headers_umlauts_and_bytes_intact() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&smtp_config(sink.port)).unwrap();
    let mail = letter_mail();

    mailer.send(&mail).await.unwrap();

    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    let m = &received[0];
    assert_eq!(m.from, "bauamt@musterstadt.example");
    assert_eq!(
        m.to,
        ["juergen.weiss@example.org", "poststelle@example.org"]
    );
    assert_eq!(m.envelope_from, "bauamt@musterstadt.example");
    assert_eq!(
        m.envelope_to,
        ["juergen.weiss@example.org", "poststelle@example.org"]
    );
    assert_eq!(m.subject, mail.subject);
    assert_eq!(
        m.header("Message-ID"),
        Some(format!("<{MESSAGE_ID}>").as_str())
    );
    assert_eq!(m.message_id, MESSAGE_ID);
    assert_eq!(m.header("Date"), Some("Mon, 12 Mar 2012 08:30:00 +0000"));
    assert_eq!(m.text.trim_end(), mail.text.trim_end());
    assert_eq!(m.header("Auto-Submitted"), Some("auto-generated"));
    let raw = String::from_utf8_lossy(&m.raw);
    assert!(raw.contains("Content-Type: multipart/mixed"), "{raw}");
    assert!(raw.contains("Content-Type: application/pdf"), "{raw}");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].0, "Bescheid Weiß.pdf");
    assert!(
        m.attachments[0].1 == mail.attachments[0].bytes,
        "attachment bytes differ"
    );
}

#[tokio::test]
async fn a_server_that_is_down_gives_a_transient_error_naming_host_and_port() {
    let port = closed_port();
    let mailer = Mailer::new(&smtp_config(port)).unwrap();

    let err = mailer.send(&letter_mail()).await.unwrap_err();

    assert!(!err.is_permanent(), "{err}");
    assert!(matches!(err, MailError::Connection { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn a_recipient_rejected_with_550_gives_a_permanent_error() {
    let sink = SmtpSink::start_failing(550).await;
    let mailer = Mailer::new(&smtp_config(sink.port)).unwrap();

    let err = mailer.send(&letter_mail()).await.unwrap_err();

    assert!(err.is_permanent(), "{err}");
    assert!(
        matches!(err, MailError::Rejected { code: 550, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{}", sink.port)), "{text}");
    assert!(text.contains("juergen.weiss@example.org"), "{text}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_recipient_refused_with_450_gives_a_transient_error() {
    let sink = SmtpSink::start_failing(450).await;
    let mailer = Mailer::new(&smtp_config(sink.port)).unwrap();

    let err = mailer.send(&letter_mail()).await.unwrap_err();

    assert!(!err.is_permanent(), "{err}");
    assert!(
        matches!(err, MailError::Rejected { code: 450, .. }),
        "{err:?}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn an_invalid_recipient_is_refused_permanently_before_any_connection() {
    let mailer = Mailer::new(&smtp_config(closed_port())).unwrap();
    let mut mail = letter_mail();
    mail.to.push("poststelle(at)example.org".into());

    let err = mailer.send(&mail).await.unwrap_err();

    assert!(err.is_permanent(), "{err}");
    assert!(
        err.to_string().contains("poststelle(at)example.org"),
        "{err}"
    );
}

#[tokio::test]
async fn the_folder_transport_writes_one_parsable_eml_file_per_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("out/mail");
    let mailer = Mailer::new(&MailConfig {
        folder: folder.clone(),
        ..MailConfig::default()
    })
    .unwrap();
    let mut mail = letter_mail();

    mailer.send(&mail).await.unwrap();
    mail.text = "Zweiter Versuch – überschreibt den ersten.\n".into();
    mailer.send(&mail).await.unwrap();

    let files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, [format!("{MESSAGE_ID}.eml")]);
    let raw = std::fs::read(folder.join(format!("{MESSAGE_ID}.eml"))).unwrap();
    let parsed = Received::parse(raw, String::new(), Vec::new());
    assert_eq!(parsed.message_id, MESSAGE_ID);
    assert_eq!(parsed.from, "amtspost@example.org");
    assert_eq!(parsed.subject, mail.subject);
    assert_eq!(parsed.text.trim_end(), mail.text.trim_end());
    assert_eq!(parsed.attachments[0].0, "Bescheid Weiß.pdf");
    assert!(parsed.attachments[0].1 == mail.attachments[0].bytes);
}

fn sample_context(name: &str) -> serde_json::Value {
    let office = "Bauamt der Stadt Musterstadt";
    match name {
        "reminder" => json!({
            "office": office,
            "case": {"file_number": "K-2012-0001", "title": "Bauantrag Müller, Flurstück 12/3"},
            "deadline": {"title": "Stellungnahme der Gemeinde", "end": "2012-03-19"},
            "days_left": 7,
            "legal_basis": "§ 36 Abs. 2 Satz 2 BauGB (Einvernehmensfiktion nach zwei Monaten)",
        }),
        "escalation" => json!({
            "office": office,
            "case": {"file_number": "K-2012-0001", "title": "Bauantrag Müller, Flurstück 12/3",
                     "responsible": "Frau Schäfer, Sachgebiet 63.1"},
            "deadline": {"title": "Stellungnahme der Gemeinde", "end": "2012-03-19"},
            "days_overdue": 2,
            "legal_basis": "§ 36 Abs. 2 Satz 2 BauGB",
        }),
        "letter" => json!({
            "office": office,
            "case": {"file_number": "K-2012-0001"},
            "letter": {"subject": "Anhörung nach § 28 VwVfG", "date": "2012-03-12"},
            "attachments": ["Anhörung K-2012-0001.pdf"],
        }),
        "circular" => json!({
            "office": "Städte- und Gemeindebund Musterland",
            "member": {"name": "Gemeinde Süderhausen"},
            "circular": {"number": "12/2012", "title": "Änderung der Gebührenordnung",
                         "date": "2012-03-01", "summary": "Die Gebühren steigen zum 1. Mai."},
        }),
        other => panic!("no sample context for {other}"),
    }
}

#[test]
fn every_mail_template_renders_with_a_sample_context() {
    let templates = MailTemplates::embedded();

    let (subject, body) = templates
        .render("reminder", &sample_context("reminder"))
        .unwrap();
    assert!(subject.contains("K-2012-0001"), "{subject}");
    assert!(subject.contains("19.03.2012"), "{subject}");
    for expected in [
        "K-2012-0001",
        "Stellungnahme der Gemeinde",
        "19.03.2012",
        "7 Tage",
        "§ 36 Abs. 2 Satz 2 BauGB",
        "Bauantrag Müller",
        "Grüßen",
    ] {
        assert!(
            body.contains(expected),
            "reminder body lacks {expected:?}:\n{body}"
        );
    }

    let (subject, body) = templates
        .render("escalation.txt", &sample_context("escalation"))
        .unwrap();
    assert!(subject.contains("versäumt"), "{subject}");
    for expected in [
        "19.03.2012",
        "2 Tage",
        "Frau Schäfer",
        "§ 36 Abs. 2 Satz 2 BauGB",
    ] {
        assert!(
            body.contains(expected),
            "escalation body lacks {expected:?}:\n{body}"
        );
    }

    let (subject, body) = templates
        .render("letter", &sample_context("letter"))
        .unwrap();
    assert!(subject.contains("Anhörung nach § 28 VwVfG"), "{subject}");
    for expected in ["12.03.2012", "- Anhörung K-2012-0001.pdf", "PDF"] {
        assert!(
            body.contains(expected),
            "letter body lacks {expected:?}:\n{body}"
        );
    }

    let (subject, body) = templates
        .render("circular", &sample_context("circular"))
        .unwrap();
    assert_eq!(
        subject,
        "Rundschreiben 12/2012: Änderung der Gebührenordnung"
    );
    for expected in ["Gemeinde Süderhausen", "01.03.2012", "Die Gebühren steigen"] {
        assert!(
            body.contains(expected),
            "circular body lacks {expected:?}:\n{body}"
        );
    }

    for (name, body) in [("letter", "letter"), ("circular", "circular")] {
        let (_, text) = templates.render(name, &sample_context(body)).unwrap();
        assert!(
            !text.starts_with('\n'),
            "{name} body starts with a blank line"
        );
        assert!(!text.contains("{{"), "{name} body has unrendered markup");
    }
}

#[test]
fn a_missing_template_variable_names_the_template_file_and_line() {
    let templates = MailTemplates::embedded();
    let mut ctx = sample_context("reminder");
    ctx.as_object_mut().unwrap().remove("legal_basis");

    let err = templates.render("reminder", &ctx).unwrap_err();

    assert!(err.is_permanent());
    let text = err.to_string();
    assert!(text.contains("templates/mail/reminder.txt"), "{text}");
    assert!(text.contains("legal_basis"), "{text}");
    let MailError::Template {
        line: Some(line), ..
    } = err
    else {
        panic!("expected a template error with a line: {err:?}");
    };
    let source = include_str!("../../templates/mail/reminder.txt");
    let source_line = source.lines().nth(line - 1).unwrap();
    assert!(
        source_line.contains("legal_basis"),
        "line {line} is {source_line:?}"
    );
}

#[test]
fn an_unknown_template_is_an_error_naming_it() {
    let err = MailTemplates::embedded()
        .render("mahnung", &json!({}))
        .unwrap_err();
    assert!(err.to_string().contains("mahnung.txt"), "{err}");
}

#[test]
fn templates_from_a_folder_replace_the_embedded_ones_and_broken_files_fail_at_loading() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("reminder.txt"),
        "Subject: Frist {{ case.file_number }}\n\nBitte beachten: {{ deadline.title }}.\n",
    )
    .unwrap();
    let templates = MailTemplates::from_dir(dir.path()).unwrap();
    let (subject, body) = templates
        .render("reminder", &sample_context("reminder"))
        .unwrap();
    assert_eq!(subject, "Frist K-2012-0001");
    assert_eq!(body, "Bitte beachten: Stellungnahme der Gemeinde.\n");
    // the ones not in the folder are still there
    templates
        .render("letter", &sample_context("letter"))
        .unwrap();

    std::fs::write(
        dir.path().join("letter.txt"),
        "Subject: Schreiben\n\nText\n{% if %}\n",
    )
    .unwrap();
    let err = MailTemplates::from_dir(dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("letter.txt"), "{text}");
    assert!(text.contains("line 4"), "{text}");

    std::fs::write(dir.path().join("letter.txt"), "Betreff: falsch\n\nText\n").unwrap();
    let err = MailTemplates::from_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("Subject:"), "{err}");
}

#[test]
fn a_missing_template_folder_is_an_error_naming_it() {
    let err =
        MailTemplates::from_dir(std::path::Path::new("/nonexistent/amtspost-mail")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/amtspost-mail"),
        "{err}"
    );
}
