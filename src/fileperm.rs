//! Who may own, write and read a file that guards secrets (the vault, a
//! password file): one rule for both.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Refuses a file owned by another user (root too, unless `root_may_own`) or
/// writable by group or others; warns, naming the fix, when others can read
/// it. The error reads after "PATH is" / "PATH:": "owned by uid …".
pub fn check_private(
    path: &Path,
    meta: &Metadata,
    what: &str,
    root_may_own: bool,
) -> Result<(), String> {
    let shown = path.display();
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me && !(root_may_own && meta.uid() == 0) {
        return Err(format!(
            "owned by uid {}, not by this user (uid {me}): refusing a {what} another user controls",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "writable by group or others (mode {mode:o}): fix it with: chmod 600 {shown}"
        ));
    }
    if mode & 0o044 != 0 {
        tracing::warn!(
            "{what} {shown} is readable by others (mode {mode:o}); fix it with: chmod 600 {shown}"
        );
    }
    Ok(())
}
