//! The `amtspost` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a Serienbrief renders on every core,
/// and Typst allocates a lot; with glibc's arenas two threads spent a sixth
/// more CPU than one (malloc and free were a tenth of the profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    amtspost::cli::main()
}
