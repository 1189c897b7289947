//! The binary end to end: open a case, fire it through to a final state,
//! refusals with clear messages, history; workflow checks.

use std::path::Path;

use crate::on_both_databases;
use crate::support::{Bin, fixtures};

on_both_databases! {
    async fn read_only_commands_publish_nothing(db) {
        let bin = Bin::new(&db);
        for args in [vec!["case", "list"], vec!["workflow", "list"], vec!["audit", "verify"], vec!["outbox", "list"], vec!["user", "list"]] {
            bin.run(&args).ok();
        }
        assert_eq!(db.count("SELECT COUNT(*) FROM workflow_definitions").await, 0);
        // Opening a case publishes the one version it runs on.
        bin.run(&["case", "open", "antrag", "--actor", "eingang", "--role", "clerk", "--set", "name=Kreis Unna",
                  "--party", "applicant=Kreis Unna <poststelle@kreis-unna.example.org>"]).ok();
        assert_eq!(db.count("SELECT COUNT(*) FROM workflow_definitions").await, 1);
    }

    async fn a_case_is_opened_fired_to_a_final_state_and_shows_its_history(db) {
        let bin = Bin::new(&db);
        let opened = bin
            .run(&[
                "--json", "case", "open", "antrag", "--actor", "eingang", "--role", "clerk",
                "--set", "name=Kreis Unna", "--set", "posts=3.5",
                "--party", "applicant=Kreis Unna <poststelle@kreis-unna.example.org>",
            ])
            .json();
        let number = opened["file_number"].as_str().unwrap().to_string();
        assert_eq!(number, "AN-2012-0001");
        assert_eq!(opened["state"], "eingegangen");

        bin.run(&["case", "fire", &number, "pruefen", "--actor", "meier", "--role", "clerk"]).ok();
        bin.run(&["case", "fire", &number, "vorschlagen", "--actor", "meier", "--role", "clerk",
                  "--set", "decision=bewilligen"]).ok();
        let out = bin
            .run(&["case", "fire", &number, "bewilligen", "--actor", "schulz", "--role", "approver"])
            .ok();
        assert!(out.contains("now in state bewilligt"), "{out}");

        let shown = bin.run(&["--json", "case", "show", &number]).json();
        assert_eq!(shown["case"]["state"], "bewilligt");
        assert_eq!(shown["case"]["closed"], true);
        assert_eq!(shown["case"]["data"]["notice_number"], "B-2012-001");
        let kinds: Vec<String> = shown["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{} {}", e["kind"].as_str().unwrap(), e["transition"].as_str().unwrap_or("")).trim().to_string())
            .collect();
        assert_eq!(
            kinds,
            ["opened", "fired pruefen", "letter_issued", "fired vorschlagen", "fired bewilligen", "number_allocated"]
        );
        let text = bin.run(&["case", "show", &number]).ok();
        assert!(text.contains("state: bewilligt (closed)"), "{text}");
        assert!(text.contains("fired bewilligen"), "{text}");
        assert!(text.contains("schulz (approver)"), "{text}");

        let err = bin
            .run(&["case", "fire", &number, "ablehnen", "--actor", "schulz", "--role", "approver"])
            .fails();
        assert!(err.contains("Der Vorgang ist abgeschlossen (Stand „bewilligt“)"), "{err}");
    }

    async fn the_binary_refuses_wrong_role_failing_guard_missing_field_and_four_eyes(db) {
        let bin = Bin::new(&db);
        let n = bin
            .run(&["--json", "case", "open", "antrag", "--actor", "eingang", "--role", "clerk",
                   "--set", "name=Stadt Hamm", "--set", "posts=4", "--party", "applicant=Stadt Hamm"])
            .json()["file_number"].as_str().unwrap().to_string();

        let err = bin.run(&["case", "fire", &n, "pruefen", "--actor", "schulz", "--role", "approver"]).fails();
        assert!(err.contains("error: In der Rolle „approver“ ist der Schritt „pruefen“ nicht erlaubt; er ist der Rolle clerk vorbehalten."), "{err}");

        bin.run(&["case", "fire", &n, "pruefen", "--actor", "meier", "--role", "clerk"]).ok();
        let err = bin.run(&["case", "fire", &n, "vorschlagen", "--actor", "meier", "--role", "clerk"]).fails();
        assert!(err.contains("error: Die Angabe „decision“ ist für den Schritt „vorschlagen“ erforderlich, aber leer."), "{err}");

        bin.run(&["case", "fire", &n, "vorschlagen", "--actor", "meier", "--role", "clerk", "--set", "decision=bewilligen"]).ok();
        let err = bin.run(&["case", "fire", &n, "bewilligen", "--actor", "meier", "--role", "approver"]).fails();
        assert!(err.contains("Vier-Augen-Prinzip: meier hat in diesem Vorgang „vorschlagen“ ausgeführt und darf „bewilligen“ deshalb nicht selbst ausführen"), "{err}");

        let err = bin.run(&["case", "fire", &n, "bewilligen", "--actor", "schulz", "--role", "approver"]).fails();
        assert!(err.contains("error: at most 3.5 municipal posts can be funded"), "{err}");

        let err = bin.run(&["case", "fire", &n, "vorschlagen", "--actor", "meier", "--role", "clerk", "--set", "decision=vielleicht"]).fails();
        assert!(err.contains("Der Schritt „vorschlagen“ ist im Stand „entscheidungsreif“ nicht möglich"), "{err}");

        // Refusals changed nothing: still the state of the last accepted event.
        let shown = bin.run(&["--json", "case", "show", &n]).json();
        assert_eq!(shown["case"]["state"], "entscheidungsreif");
        assert_eq!(shown["history"].as_array().unwrap().len(), 4);
    }

    async fn case_show_as_a_user_lists_the_steps_they_may_take_and_why_not(db) {
        let bin = Bin::new(&db);
        crate::http::add_user(&bin, &["meier", "--role", "clerk", "--role", "approver"]);
        crate::http::add_user(&bin, &["schulz", "--role", "approver"]);
        let n = bin
            .run(&["--json", "case", "open", "antrag", "--actor", "eingang", "--role", "clerk",
                   "--set", "name=Stadt Hamm", "--set", "posts=2", "--party", "applicant=Stadt Hamm"])
            .json()["file_number"].as_str().unwrap().to_string();
        bin.run(&["case", "fire", &n, "pruefen", "--actor", "meier", "--role", "clerk"]).ok();
        bin.run(&["case", "fire", &n, "vorschlagen", "--actor", "meier", "--role", "clerk", "--set", "decision=bewilligen"]).ok();
        // Meier proposed: the four-eyes rule keeps him from approving.
        let text = bin.run(&["case", "show", &n, "--as", "meier"]).ok();
        assert!(text.contains("Schritte für meier:"), "{text}");
        assert!(text.contains("bewilligen") && text.contains("nicht erlaubt"), "{text}");
        assert!(text.contains("Grund: Vier-Augen-Prinzip"), "{text}");
        let shown = bin.run(&["--json", "case", "show", &n, "--as", "schulz"]).json();
        let approve = shown["steps"].as_array().unwrap().iter().find(|s| s["transition"] == "bewilligen").unwrap().clone();
        assert_eq!(approve["allowed"], true, "{approve}");
        let refuse = shown["steps"].as_array().unwrap().iter().find(|s| s["transition"] == "ablehnen").unwrap().clone();
        assert_eq!(refuse["fields"][0]["name"], "reason");
        // Without --as there are no steps; an unknown user is an error.
        assert!(bin.run(&["--json", "case", "show", &n]).json()["steps"].is_null());
        bin.run(&["case", "show", &n, "--as", "niemand"]).fails();
    }

    async fn opening_without_a_required_field_or_party_is_refused(db) {
        let bin = Bin::new(&db);
        let err = bin.run(&["case", "open", "antrag", "--actor", "a", "--role", "clerk", "--party", "applicant=X"]).fails();
        assert!(err.contains("Die Angabe „name“ ist beim Anlegen eines Vorgangs erforderlich"), "{err}");
        let err = bin.run(&["case", "open", "antrag", "--actor", "a", "--role", "clerk", "--set", "name=X"]).fails();
        assert!(err.contains("Zum Anlegen des Vorgangs fehlt: Antragsteller (applicant)."), "{err}");
        let err = bin.run(&["case", "open", "antrag", "--actor", "a", "--role", "clerk", "--set", "name=X",
                            "--party", "applicant=X", "--set", "posts=drei"]).fails();
        assert!(err.contains("Die Angabe „posts“ ist ungültig: erwartet wird eine Zahl, nicht der Text „drei“."), "{err}");
        let err = bin.run(&["case", "open", "antrg", "--actor", "a", "--role", "clerk"]).fails();
        assert!(err.contains("no workflow `antrg`; known workflows: antrag"), "{err}");
        let listed = bin.run(&["--json", "case", "list"]).json();
        assert_eq!(listed.as_array().unwrap().len(), 0);
    }

    async fn a_stale_expected_version_is_a_conflict_with_exit_code_3(db) {
        let bin = Bin::new(&db);
        let n = bin
            .run(&["--json", "case", "open", "antrag", "--actor", "a", "--role", "clerk",
                   "--set", "name=Kreis Soest", "--party", "applicant=Kreis Soest"])
            .json()["file_number"].as_str().unwrap().to_string();
        bin.run(&["case", "fire", &n, "pruefen", "--actor", "a", "--role", "clerk", "--expect-version", "1"]).ok();
        let run = bin.run(&["case", "fire", &n, "vorschlagen", "--actor", "a", "--role", "clerk",
                            "--set", "decision=ablehnen", "--expect-version", "1"]);
        assert_eq!(run.code(), 3, "{}", run.stderr());
        assert!(run.stderr().contains("inzwischen von jemand anderem geändert"), "{}", run.stderr());
    }
}

#[test]
fn the_shipped_workflows_pass_the_check() {
    let db = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
        .env_clear()
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .env(
            "AMTSPOST_DATABASE_URL",
            format!("sqlite://{}/x.db", db.path().display()),
        )
        .args(["workflow", "check", "workflows/"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().count() >= 1 && stdout.lines().all(|l| l.starts_with("ok: ")),
        "{stdout}"
    );
}

/// A field, state or step people would see by its identifier is refused
/// by `workflow check`, at its line.
#[test]
fn workflow_check_refuses_what_people_would_see_without_a_title() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/rundschreiben.toml"),
    )
    .unwrap();
    let broken = shipped
        .replace(", title = \"Betreff\"", "")
        .replace("title = \"Zur Freigabe vorgelegt\"\n", "");
    assert_ne!(broken, shipped);
    std::fs::write(dir.path().join("rundschreiben.toml"), &broken).unwrap();
    // The circular reads its recipients from the shipped data files.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/data")).unwrap()
    {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), data.join(entry.file_name())).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
        .env_clear()
        .current_dir(dir.path())
        .args(["workflow", "check", "rundschreiben.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = |needle: &str| broken.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    assert!(
        err.contains(&format!(
            "rundschreiben.toml:{}:1: error: field `betreff` has no title",
            line("betreff = ")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "rundschreiben.toml:{}:8: error: state `zur_freigabe` has no title",
            line("name = \"zur_freigabe\"")
        )),
        "{err}"
    );
    assert!(err.contains("2 problem(s) in workflow files"), "{err}");
}

#[test]
fn a_broken_workflow_file_fails_the_check_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(fixtures().join("workflows/antrag.toml")).unwrap();
    let broken = good
        .replace("to = \"bewilligt\"", "to = \"bewiligt\"")
        .replace("data.posts <= 3.5", "data.postz <= 3.5");
    let path = dir.path().join("antrag.toml");
    std::fs::write(&path, &broken).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
        .env_clear()
        .current_dir(dir.path())
        .args(["workflow", "check", "antrag.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line_to = broken.lines().position(|l| l.contains("bewiligt")).unwrap() + 1;
    let line_guard = broken
        .lines()
        .position(|l| l.contains("data.postz"))
        .unwrap()
        + 1;
    let col_guard = broken
        .lines()
        .nth(line_guard - 1)
        .unwrap()
        .find("data.postz")
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!(
            "antrag.toml:{line_to}:6: error: unknown state `bewiligt`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "antrag.toml:{line_guard}:{col_guard}: error: guard of `bewilligen`: `data.postz` names a field the workflow does not declare"
        )),
        "{err}"
    );
    assert!(
        err.contains("error: 3 problem(s) in workflow files"),
        "{err}"
    );
    assert!(err.contains("state `bewilligt` cannot be reached"), "{err}");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["init", "--help"],
        vec!["workflow", "--help"],
        vec!["workflow", "check", "--help"],
        vec!["workflow", "graph", "--help"],
        vec!["case", "--help"],
        vec!["case", "open", "--help"],
        vec!["case", "fire", "--help"],
        vec!["case", "show", "--help"],
        vec!["case", "list", "--help"],
        vec!["audit", "verify", "--help"],
        vec!["case", "documents", "--help"],
        vec!["case", "export", "--help"],
        vec!["case", "import", "--help"],
        vec!["backup", "--help"],
        vec!["demo", "--help"],
        vec!["deadline", "compute", "--help"],
        vec!["config", "check", "--help"],
        vec!["deadline", "holidays", "--help"],
        vec!["letter", "render", "--help"],
        vec!["document", "verify", "--help"],
        vec!["remind", "run", "--help"],
        vec!["outbox", "list", "--help"],
        vec!["outbox", "retry", "--help"],
        vec!["outbox", "send", "--help"],
        vec!["serve", "--help"],
        vec!["document", "export", "--help"],
        vec!["user", "--help"],
        vec!["user", "add", "--help"],
        vec!["user", "list", "--help"],
        vec!["user", "disable", "--help"],
        vec!["user", "token", "--help"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[test]
fn workflow_graph_prints_dot_and_mermaid() {
    let run = |fmt: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
            .env_clear()
            .env("AMTSPOST_WORKFLOWS_DIR", fixtures().join("workflows"))
            .args(["workflow", "graph", "antrag", "--format", fmt])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        run("dot").contains(
            "\"entscheidungsreif\" -> \"bewilligt\" [label=\"bewilligen\\n[approver]\"];"
        )
    );
    assert!(run("mermaid").contains("entscheidungsreif --> abgelehnt: ablehnen"));
}

#[test]
fn a_bare_amtspost_in_an_empty_folder_uses_the_built_in_workflows() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
            .env_clear()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["workflow", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    for id in ["ki-foerderantrag", "raa-umwandlung", "rundschreiben"] {
        assert!(listed.contains(id), "{listed}");
    }
    let out = run(&[
        "case",
        "open",
        "raa-umwandlung",
        "--actor",
        "becker",
        "--role",
        "clerk",
        "--set",
        "kommune=Kreis Unna",
        "--party",
        "kommune=Kreis Unna <poststelle@kreis-unna.example.org>",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path().join("amtspost.db").exists(),
        "the embedded default: a SQLite file here"
    );
    let out = run(&["init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("amtspost.toml").exists());
    assert!(dir.path().join("workflows/ki-foerderantrag.toml").exists());
    assert!(dir.path().join("templates/layout.typ").exists());
}

#[test]
fn deadline_compute_explains_a_deadline_ending_on_karfreitag() {
    // 15.03.2013 + 2 weeks = Friday 29.03.2013, Karfreitag: the end moves past
    // Ostermontag (01.04.) to Tuesday 02.04.2013.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
        .env_clear()
        .args([
            "--json",
            "deadline",
            "compute",
            "--from",
            "2013-03-15",
            "--period",
            "2W",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["unshifted_end"], "2013-03-29");
    assert_eq!(v["end"], "2013-04-02");
    let steps = v["steps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s["rule"]
            .as_str()
            .unwrap()
            .contains("§ 31 Abs. 3 Satz 1 VwVfG")),
        "{steps:?}"
    );
}

#[test]
fn config_check_names_each_rate_with_year_source_and_unconfirmed_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
        .env_clear()
        .current_dir(dir.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Fördersätze nach Jahren",
        "ki_festbetrag_vollzeitstelle:",
        "ki_festbetrag_halbe_assistenz:",
        "2012–2017",
        "UNBESTÄTIGT",
        "bestätigt",
        "Quelle: Richtlinie für die Förderung Kommunaler Integrationszentren vom 27.03.2018",
        "Achtung:",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }

    // A figure set in amtspost.toml is used and reported; the rates follow.
    std::fs::write(
        dir.path().join("amtspost.toml"),
        "[[dated_rates.ki_festbetrag_vollzeitstelle]]\nfrom_year = 2012\namount = 48000.0\nsource = \"Bewilligungspraxis Dezernat 36\"\nconfirmed = true\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
        .env_clear()
        .current_dir(dir.path())
        .args(["--json", "config", "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = v["steps"].as_array().unwrap();
    let full: Vec<_> = steps
        .iter()
        .filter(|s| s["name"] == "ki_festbetrag_vollzeitstelle")
        .collect();
    assert_eq!(full.len(), 1, "{steps:?}");
    // Amounts are exact: a decimal string, never a float.
    assert_eq!(full[0]["amount"], "48000.00");
    assert_eq!(full[0]["confirmed"], true);
}

#[test]
fn deadline_compute_explains_the_klagefrist_by_57_vwgo_in_german() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
        .env_clear()
        .args([
            "deadline",
            "compute",
            "--from",
            "2012-11-14",
            "--period",
            "1M",
            "--by-post",
            "--court",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("§ 57 Abs. 2 VwGO, § 222 Abs. 1 ZPO"),
        "{text}"
    );
    assert!(
        text.contains("Die Frist endet mit Ablauf des 17.12.2012 (Montag)."),
        "{text}"
    );
    assert!(!text.contains("VwVfG:"), "{text}");
}

/// A link's `start` must name a date field, states and parties the linked
/// workflow declares: checked across the files of the folder.
#[test]
fn a_link_start_naming_what_the_linked_workflow_lacks_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("workflows");
    std::fs::create_dir_all(copy.join("data")).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    for entry in std::fs::read_dir(&shipped)
        .unwrap()
        .chain(std::fs::read_dir(shipped.join("data")).unwrap())
    {
        let path = entry.unwrap().path();
        if path.is_file() {
            let rel = path.strip_prefix(&shipped).unwrap();
            std::fs::copy(&path, copy.join(rel)).unwrap();
        }
    }
    let vn = copy.join("verwendungsnachweis.toml");
    let text = std::fs::read_to_string(&vn).unwrap();
    let broken = text
        .replace(
            "after = \"bewilligungszeitraum_bis\"",
            "after = \"kommune\"",
        )
        .replace("states = [\"bewilligt\"]", "states = [\"bewiligt\"]");
    assert_ne!(text, broken);
    std::fs::write(&vn, broken).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_amtspost"))
        .env_clear()
        .current_dir(dir.path())
        .args(["workflow", "check", "workflows/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("verwendungsnachweis.toml"), "{err}");
    assert!(err.contains("link `ki` start: workflow `ki-foerderantrag` has no date field `kommune`, no state `bewiligt`"), "{err}");
}
