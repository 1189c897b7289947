//! What ships inside the binary: the workflow definitions with their data
//! files, so that `init` and `demo` work in an empty folder.

use include_dir::{Dir, include_dir};

/// `workflows/` of the source tree, including `workflows/data/`.
pub static WORKFLOWS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/workflows");

/// `templates/` of the source tree (letters, mail, fonts, examples).
pub static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");
