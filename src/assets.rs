//! What ships inside the binary, embedded once here: the workflow
//! definitions with their data files and the templates (letters, mail,
//! fonts), so that `init`, `demo` and every command work in an empty folder.

use include_dir::{Dir, include_dir};

/// `workflows/` of the source tree, including `workflows/data/`.
pub static WORKFLOWS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/workflows");

/// `templates/` of the source tree (letters, mail, fonts, examples).
pub static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");
