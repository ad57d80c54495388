//! `credvault completions SHELL` and `credvault man`: generated from the clap
//! definitions in [`super::args`], so they cannot drift from what the binary parses.

use std::io::Write;

use clap::CommandFactory;
use roff::{Roff, roman};

use super::CliError;
use super::args::Cli;
use crate::error::exit;

/// Prints SHELL's completion script for credvault on stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<i32, CliError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "credvault", &mut out);
    print(&out)
}

/// One of clap_mangen's section renderers.
type Section = fn(&clap_mangen::Man, &mut dyn Write) -> std::io::Result<()>;

/// Prints credvault(1) on stdout: the clap-generated title, synopsis,
/// description and global options, then every command with its own options
/// on the same page (one page for `man credvault`), then the environment.
pub(super) fn man_page() -> Result<i32, CliError> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    let sections: [Section; 5] = [
        clap_mangen::Man::render_title,
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
        clap_mangen::Man::render_options_section,
    ];
    for render in sections {
        render(&man, &mut out).map_err(io_error)?;
    }
    Roff::new()
        .control("SH", ["COMMANDS"])
        .to_writer(&mut out)
        .map_err(io_error)?;
    for leaf in leaves(&cmd) {
        command_section(leaf, &mut out)?;
    }
    let mut env = Roff::new();
    env.control("SH", ["ENVIRONMENT"]);
    for (var, what) in ENVIRONMENT {
        env.control("TP", [])
            .text([roff::bold(*var)])
            .text([roman(*what)]);
    }
    env.control("SH", ["FILES"])
        .control("TP", [])
        .text([roff::bold("$XDG_DATA_HOME/credvault/vault.redb")])
        .text([roman(
            "The default vault (~/.local/share/credvault/vault.redb without XDG_DATA_HOME); mode 0600 in a 0700 directory.",
        )]);
    env.to_writer(&mut out).map_err(io_error)?;
    man.render_version_section(&mut out).map_err(io_error)?;
    print(&out)
}

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "CREDVAULT_PASSWORD_FILE",
        "A file holding the master password (one trailing newline is dropped); preferred over CREDVAULT_PASSWORD.",
    ),
    (
        "CREDVAULT_PASSWORD",
        "The master password itself (readable by the same user in /proc; prefer the file).",
    ),
    ("CREDVAULT_PATH", "The vault file, as --vault."),
    ("CREDVAULT_STORE", "A team vault in PostgreSQL, as --store."),
    ("CREDVAULT_MEMBER", "A team vault's member, as --member."),
    (
        "CREDVAULT_CA_FILE",
        "Extra CA certificates call_api trusts, as serve --ca-file.",
    ),
    ("RUST_LOG", "Log filter for stderr; wins over --log-level."),
];

/// Every runnable command under `cmd` (a group such as `secret` is not one).
fn leaves(cmd: &clap::Command) -> Vec<&clap::Command> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.has_subcommands() {
            out.extend(leaves(sub));
        } else {
            out.push(sub);
        }
    }
    out
}

/// One command: `.SS credvault secret create`, its synopsis, description and
/// own options (the global ones are listed once, under OPTIONS).
fn command_section(sub: &clap::Command, out: &mut Vec<u8>) -> Result<(), CliError> {
    let name = sub
        .get_bin_name()
        .unwrap_or_else(|| sub.get_name())
        .to_owned();
    let mut sub = sub.clone().disable_help_flag(true);
    let globals: Vec<String> = sub
        .get_arguments()
        .filter(|a| a.is_global_set() || matches!(a.get_id().as_str(), "help" | "version"))
        .map(|a| a.get_id().to_string())
        .collect();
    for id in globals {
        sub = sub.mut_arg(id, |a| a.hide(true));
    }
    let man = clap_mangen::Man::new(sub);
    Roff::new()
        .control("SS", [name.as_str()])
        .to_writer(out)
        .map_err(io_error)?;
    let mut body = Vec::new();
    man.render_synopsis_section(&mut body).map_err(io_error)?;
    man.render_description_section(&mut body)
        .map_err(io_error)?;
    man.render_options_section(&mut body).map_err(io_error)?;
    // The page has one SYNOPSIS, DESCRIPTION and OPTIONS: here they are paragraphs.
    let body = String::from_utf8_lossy(&body)
        .replace(".SH SYNOPSIS\n", "")
        .replace(".SH DESCRIPTION\n", ".PP\n")
        .replace(".SH OPTIONS\n", "");
    out.extend_from_slice(body.as_bytes());
    Ok(())
}

fn io_error(e: std::io::Error) -> CliError {
    CliError::Other(format!("rendering: {e}"))
}

/// Writes `bytes` to stdout; a reader that went away ends the command quietly.
fn print(bytes: &[u8]) -> Result<i32, CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(exit::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(e) => Err(CliError::Other(format!("writing to stdout: {e}"))),
    }
}
