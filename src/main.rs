//! The `tradeledger` binary: parses the command line, installs logging, runs the command, and turns a
//! failure into one `error: ...` line on stderr and a non-zero exit.

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = tradeledger::cli::Cli::parse();
    // Client commands stay quiet unless RUST_LOG asks; the service logs its requests.
    let default = match cli.command {
        tradeledger::cli::Command::Serve(_) | tradeledger::cli::Command::Witness(_) => "info",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The writer is stderr: if a write to it fails (a closed pipe), the subscriber's fallback would be an
    // `eprintln!` to that same stderr, which panics.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&anyhow::Error::from(e)),
    };
    match runtime.block_on(tradeledger::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Prints the error chain on one line; control characters from untrusted answers are replaced.
fn fail(error: &anyhow::Error) -> std::process::ExitCode {
    let line: String = format!("{error:#}")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    tradeledger::cli::output::err_line(format_args!("error: {line}"));
    std::process::ExitCode::FAILURE
}
