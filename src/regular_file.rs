//! Reading files that someone else put in the workspace: only regular files, bounded, and never
//! a wait. Opening a FIFO named like source (or `.infill.toml`) would block until a writer
//! came, and a device could be read forever; checking the type first and opening after leaves a
//! window in which the file can be swapped. So the file is opened without blocking and judged by
//! what was opened (`fstat`), not by what the path pointed to a moment before.

use std::fs::File;
use std::io::Read;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a regular file")]
    NotRegular,
    #[error("larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Opens `path` for reading if it is a regular file, without ever blocking on the open.
pub fn open(path: &Path) -> Result<File, ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO opens at once instead of waiting for a writer (it has no effect
        // on reading a regular file). O_NOCTTY: a terminal device never becomes ours.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(ReadError::NotRegular);
    }
    Ok(file)
}

/// The bytes of the regular file at `path`, refused when over `limit` bytes (also when it grew
/// past the limit while being read).
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(ReadError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.py");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // A blocking open would hang this test: nothing ever writes to the FIFO.
        assert!(matches!(read(&fifo, 100), Err(ReadError::NotRegular)));
    }

    #[test]
    fn directories_and_missing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(read(dir.path(), 100), Err(ReadError::NotRegular)));
        let missing = read(&dir.path().join("missing.py"), 100).unwrap_err();
        assert!(
            matches!(&missing, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
            "{missing:?}"
        );
    }

    #[test]
    fn a_regular_file_is_read_up_to_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        std::fs::write(&path, b"x = 1\n").unwrap();
        assert_eq!(read(&path, 6).unwrap(), b"x = 1\n");
        assert!(matches!(read(&path, 5), Err(ReadError::TooLarge { limit: 5 })));
    }
}
