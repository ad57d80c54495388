//! credvault's binary: parse → logging → run → exit code.

use clap::Parser;
use credvault::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
    credvault::logging::init(&cli.log_level, cli.log_format);
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("credvault: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
