//! The data directory holds every account's secret access keys (in
//! `metadata.db` and its write-ahead log) and every event: only the user
//! running Cairn may enter it, whatever the files' own modes and the umask.

use anyhow::Context;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// The data directory's mode: the owner only.
pub const MODE: u32 = 0o700;

/// What [`make_private`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The directory was created, with [`MODE`].
    Created,
    /// It existed with this mode and was restricted to [`MODE`].
    Restricted {
        /// The mode it had (permission bits).
        from: u32,
    },
    /// It existed with [`MODE`] already.
    AlreadyPrivate,
}

/// Creates `dir` with mode 0700 (its missing parents as usual), or
/// restricts an existing `dir` to 0700. Fails, rather than run with
/// everyone's keys readable, when the mode cannot be set.
pub fn make_private(dir: &Path) -> anyhow::Result<Outcome> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let created = match std::fs::DirBuilder::new().mode(MODE).create(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    };
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode != MODE {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(MODE)).with_context(|| {
            format!(
                "restricting {} (mode {mode:04o}) to mode {MODE:04o}: it holds every account's secret access keys, so Cairn does not use it while other users can enter it",
                dir.display()
            )
        })?;
    }
    Ok(if created {
        Outcome::Created
    } else if mode != MODE {
        Outcome::Restricted { from: mode }
    } else {
        Outcome::AlreadyPrivate
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_and_restricts() {
        let base = std::env::temp_dir().join(format!("cairn-datadir-{}", std::process::id()));
        let dir = base.join("a/b/data");
        assert_eq!(make_private(&dir).unwrap(), Outcome::Created);
        assert_eq!(mode(&dir), MODE);
        assert_eq!(make_private(&dir).unwrap(), Outcome::AlreadyPrivate);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            make_private(&dir).unwrap(),
            Outcome::Restricted { from: 0o755 }
        );
        assert_eq!(mode(&dir), MODE);
        let file = base.join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(make_private(&file).is_err());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
