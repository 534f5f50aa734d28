//! The one way the command line writes to stdout and stderr.
//!
//! `println!` panics when the reader has gone away (`tradeledger open X --json | head -c1`). Here a closed
//! pipe ends output quietly: what is left to print is dropped, the command still finishes its work (a batch
//! of registrations stopped half way is worse than a line nobody reads), and the exit status still says
//! whether the command did what was asked. Any other write error, such as a full disk under `> file`, is a
//! failure of the command: the output it was asked for was not written.
//!
//! SIGPIPE stays ignored (Rust's default), for every command: `serve` and `witness` must survive a client
//! that closes its socket, and a client command killed by the signal could die between two steps of its work.

use std::fmt::Display;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;

/// Set once stdout reported a closed pipe: nothing more is written to it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` and a newline to stdout.
pub fn line(text: impl Display) -> anyhow::Result<()> {
    text_out(format_args!("{text}\n"))
}

/// Writes `text` to stdout as it is.
pub fn text_out(text: impl Display) -> anyhow::Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match write!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        result => result.context("writing to stdout"),
    }
}

/// Writes one line to stderr. A failing stderr is ignored: there is nowhere left to report it.
pub fn err_line(text: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
